"""``twitterclone bench connections``: its HTTP/1.1 response parser, its planning, and a short smoke.

The smoke runs the real tool against a monolith it starts: a few hundred keep-alive connections from
two generator processes over two source loopback addresses, a couple of seconds of the mix at a
think time, and checks that every connection was held to the end and that the figures were reported.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from twitterclone.cli import main
from twitterclone_bench import connections
from twitterclone_bench.connections import ConnectionsConfig, PlanError, make_plan
from twitterclone_bench.http1 import parse_response

ROOT = Path(__file__).resolve().parents[2]


def test_parses_a_response_with_a_length_and_leaves_the_next_one() -> None:
    buf = bytearray(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 404 Not Found\r\n")
    assert parse_response(buf) == (200, 43, b"hello", False)
    del buf[:43]
    assert parse_response(buf) is None  # the second one is still incomplete


def test_parses_chunked_bodies_with_and_without_trailers() -> None:
    plain = bytearray(
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
    )
    assert parse_response(plain) == (201, len(plain), b"abcde", False)
    trailer = bytearray(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nz\r\n0\r\nX-T: 1\r\n\r\n")
    assert parse_response(trailer) == (200, len(trailer), b"z", False)
    assert parse_response(trailer[:-2]) is None


def test_knows_when_the_server_will_close_and_when_there_is_no_body() -> None:
    closing = bytearray(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert parse_response(closing) == (503, len(closing), b"", True)
    old = bytearray(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx")
    assert parse_response(old) == (200, len(old), b"x", True)
    empty = bytearray(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert parse_response(empty) == (204, len(empty), b"", False)


def test_rejects_what_it_cannot_delimit() -> None:
    with pytest.raises(ValueError, match="without a length"):
        parse_response(bytearray(b"HTTP/1.1 200 OK\r\n\r\nbody until close"))
    with pytest.raises(ValueError, match="status line"):
        parse_response(bytearray(b"SSH-2.0-OpenSSH\r\n\r\n"))


def test_plan_spreads_connections_over_processes_and_loopback_addresses() -> None:
    plan = make_plan(ConnectionsConfig(start_monolith=True, connections=50_000))
    assert sum(plan.per_process) == 50_000
    assert max(plan.per_process) <= plan.rlimit_nofile[1]
    assert len(plan.source_addresses) >= 2
    assert all(a.startswith("127.0.0.") and a != "127.0.0.1" for a in plan.source_addresses)
    assert plan.gateway_workers is not None
    assert plan.gateway_backpressure is not None
    assert plan.gateway_workers * plan.gateway_backpressure >= 50_000


def test_plan_refuses_what_the_descriptor_limit_cannot_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    # The plan reads the process's limit; pin it, so the refusals are checked on any machine.
    hard = 20_000
    monkeypatch.setattr(connections, "raise_nofile", lambda wanted: (hard, hard))
    assert make_plan(ConnectionsConfig(start_monolith=True, connections=10)).rlimit_nofile == (hard, hard)
    with pytest.raises(PlanError, match="--processes"):
        make_plan(ConnectionsConfig(start_monolith=True, connections=hard * 2, processes=1))
    with pytest.raises(PlanError, match="--gateway-workers"):
        make_plan(ConnectionsConfig(start_monolith=True, connections=hard * 2, gateway_workers=1))
    with pytest.raises(PlanError, match=r"not a 127\.x"):
        make_plan(ConnectionsConfig(start_monolith=True, connections=10, source_addresses=("10.0.0.1",)))


def test_bench_options_given_before_the_subcommand_are_refused() -> None:
    result = CliRunner().invoke(main, ["bench", "--rate", "5", "connections", "--connections", "1"])
    assert result.exit_code == 2
    assert "--rate belong to `bench` itself" in result.output


@pytest.mark.slow
def test_connections_mode_holds_every_connection_and_reports(tmp_path: Path) -> None:
    args = [
        "bench",
        "connections",
        "--start-monolith",
        "--manifest",
        str(ROOT / "deployments" / "monolith.toml"),
        "--connections",
        "300",
        "--processes",
        "2",
        "--source-addresses",
        "2",
        "--think-time",
        "5",  # 300 users / 5 s = 60 req/s for 2 s
        "--duration",
        "2",
        "--warmup",
        "0",
        "--search-steps",  # one short search step (repeated once if it fails), to cover the search
        "1",
        "--search-step",
        "1",
        "--accounts",
        "12",
        "--avg-follows",
        "3",
        "--tweets-per-user",
        "1",
        # an even mix, so that every route shows up in ~120 requests
        "--mix",
        "home=30,user_timeline=20,post=20,like=15,follow=15",
        "--out-dir",
        str(tmp_path),
    ]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output

    [json_file] = tmp_path.glob("*-connections.json")
    doc = json.loads(json_file.read_text())
    assert doc["model"] == {
        "users": 300,
        "think_time_s": 5.0,
        "requests_per_action": 1,
        "rate_rps": 60.0,
        "mix": {"home": 30.0, "user_timeline": 20.0, "post": 20.0, "like": 15.0, "follow": 15.0},
        "accounts": 12,
    }
    assert doc["plan"]["generator_processes"] == 2
    assert doc["plan"]["source_addresses"] == ["127.0.0.2", "127.0.0.3"]

    conns = doc["connections"]
    assert conns["established"] == 300
    assert conns["failed"] == 0
    assert conns["at_end"]["open_and_answering"] == 300
    assert doc["run"]["open_at_end_of_phase"] == 300
    # the gateway itself holds them: its worker has an accepted socket per connection
    assert sum(p["sockets"] or 0 for p in doc["memory_after_connect"]["gateway"]) >= 300

    run = doc["run"]
    routes = run["routes"]
    assert 40 <= routes["all"]["count"] <= 220  # a Poisson stream of mean 120
    for route in ("home", "user_timeline", "post", "like", "follow"):
        assert routes[route]["count"] > 0, route
    assert run["error_rate"] == 0, run["errors_by_kind"]
    assert routes["all"]["p99_ms"] >= routes["all"]["p50_ms"] > 0
    assert {"p50_ms", "p90_ms", "p99_ms", "p99.9_ms"} <= routes["home"].keys()
    # the generator processes' CPU per request (not the parent's), and the server's
    assert run["cpu"]["requests"] >= routes["all"]["count"]
    assert run["cpu"]["generator_us_per_request"] > 0
    assert run["cpu"]["server_us_per_request"] > 0

    for when in ("memory_before_connect", "memory_after_connect", "memory_at_end"):
        assert doc[when]["gateway_rss_mib"] > 0
        assert len(doc[when]["generators"]) == 2
        assert doc[when]["generators_rss_mib"] > 0
    assert "gateway_rss" in doc["memory_per_connection_kib"]

    steps = doc["search"]["steps"]
    assert 1 <= len(steps) <= 2
    assert steps[0]["rate_rps"] == pytest.approx(60 / 32, abs=0.01)  # it starts at 1/32 of the model's rate
    assert steps[0]["open_at_end"] == 300

    svg = ET.parse(doc["chart"]).getroot()  # noqa: S314 - our own file
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert "300 keep-alive users" in "".join(svg.itertext())
