"""Short smokes of ``twitterclone bench hop`` and ``twitterclone bench scale``: the real tool against
split stacks it starts itself (real processes, PostgreSQL, Redis), at toy sizes.

They prove the machinery (stack start with the replica counts asked for, its own database and
Redis prefix, seeding, measuring, CPU and internal-call accounting, JSON, clean-up) works end to
end; the figures themselves are the benchmark's business, not the test's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from tests.support.databases import admin_url, redis_url
from twitterclone.cli import main
from twitterclone_bench.cpulimit import CpuLimits, CpuLimitUnavailable


def _can_limit_cpu() -> bool:
    try:
        CpuLimits(1.0).close()
    except CpuLimitUnavailable:
        return False
    return True


def _stores() -> list[str]:
    return [
        "--postgres-url",
        admin_url().render_as_string(hide_password=False),
        "--redis-url",
        redis_url(),
    ]


def _keys_left(prefix: str) -> list[bytes]:
    client = redis.Redis.from_url(redis_url())
    try:
        return list(client.scan_iter(match=f"{prefix}*", count=1000))
    finally:
        client.close()


@pytest.mark.slow
def test_hop_bench_measures_a_call_over_the_adapter_and_in_process(tmp_path: Path) -> None:
    args = ["bench", "hop", "--calls", "30", "--rounds", "1", "--warmup", "5", *_stores()]
    result = CliRunner().invoke(main, [*args, "--out-dir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output

    [json_file] = tmp_path.glob("*-hop-tweets.json")
    doc = json.loads(json_file.read_text())
    assert doc["probe"].startswith("tweets.get_many(")
    assert doc["server"]["processes"] == ["gateway-0", "tweets-0"]  # only the probed module is a service
    local, remote = doc["local"], doc["remote"]
    assert len(local["rounds"]) == len(remote["rounds"]) == 1
    assert remote["wall_p50_ms"] > local["wall_p50_ms"] >= 0  # a socket round trip costs more than an await
    assert remote["client_cpu_ms"] > 0
    assert remote["server_cpu_ms"] is not None
    assert local["server_cpu_ms"] is None  # in-process: there is no server
    assert not _keys_left(doc["server"]["redis_prefix"])
    assert "the hop adds" in result.output


@pytest.mark.slow
def test_scale_bench_runs_one_then_two_replicas_of_the_service(tmp_path: Path) -> None:
    args = [
        "bench",
        "scale",
        "--service",
        "timeline",
        "--replicas",
        "1,2",
        "--users",
        "12",
        "--avg-follows",
        "2",
        "--tweets-per-user",
        "1",
        "--start-rate",
        "5",
        "--search-step",
        "1",
        "--search-steps",
        "1",
        "--saturate",
        "1",
        "--saturate-concurrency",
        "2",
        *_stores(),
    ]
    # with the right to make cgroups (CI runs as root), each replica runs under its own CPU quota
    limited = _can_limit_cpu()
    if limited:
        args += ["--cpu-limit", "0.5"]
    result = CliRunner().invoke(main, [*args, "--out-dir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output

    [json_file] = tmp_path.glob("*-scale-timeline.json")
    doc = json.loads(json_file.read_text())
    assert [run["replicas"] for run in doc["runs"]] == [1, 2]
    one, two = doc["runs"]
    assert one["server"]["replicas"]["timeline"] == 1
    assert two["server"]["replicas"]["timeline"] == 2
    assert "timeline-1" not in one["server"]["processes"]
    assert {"timeline-0", "timeline-1"} <= set(two["server"]["processes"])
    for run in doc["runs"]:
        [step] = run["steps"]
        assert step["requests"] == 5  # 5 req/s for 1 s, open loop: every scheduled request counted
        assert step["error_rate"] == 0
        assert set(step["cores"]) == set(run["server"]["processes"])
        # every home read reaches timeline through the gateway at least once
        assert step["calls_per_request"]["timeline"] >= 1
        assert not _keys_left(run["server"]["redis_prefix"])
        saturated = run["saturated"]
        assert saturated["throughput_rps"] > 0
        assert saturated["error_rate"] == 0
        assert saturated["cpu_ms_per_request"]["gateway-0"] > 0
    assert two["steps"][0]["cores"]["timeline-1"] >= 0
    if limited:
        assert doc["config"]["cpu_limit"] == 0.5
        assert set(one["steps"][0]["throttled"]) == {"timeline-0"}
        assert set(two["steps"][0]["throttled"]) >= {"timeline-0", "timeline-1"}
        assert set(two["saturated"]["throttled"]) >= {"timeline-0", "timeline-1"}
        assert not list(Path("/sys/fs/cgroup/cpu").glob("tc_bench_*")), "cgroups left behind"
