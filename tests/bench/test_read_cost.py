"""``twitterclone bench read-cost``: its profile summary, and a toy-size run of the real tool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from twitterclone.cli import main
from twitterclone_bench.readcost import component_of, summarise

ROOT = Path(__file__).resolve().parents[2]

_LOOP = "run (asyncio/runners.py:118);BaseEventLoop._run_once (asyncio/base_events.py:1922)"
_EDGE = "gateway_edge_middleware.<locals>.middleware (twitterclone/gateway/middleware.py:121)"
_HOME = "TimelineService.home_timeline (modules/timeline/service.py:120)"
FOLDED = "\n".join(
    [
        # the handler: hydration through a helper (``re``) charged to its caller; SQL
        f"{_LOOP};{_EDGE};{_HOME};TweetsService.get_feed (modules/tweets/service.py:819);"
        "sub (re/__init__.py:185) 3",
        f"{_LOOP};{_EDGE};{_HOME};ModuleStore.fetch (twitterclone/infra/store.py:251) 2",
        # the edge's own send: time in the server's send
        f"{_LOOP};{_EDGE};gateway_edge_middleware.<locals>.middleware.<locals>.send_from_edge "
        "(twitterclone/gateway/middleware.py:131) 4",
        f"{_LOOP};{_EDGE} 1",
        # not cost: the loop waiting, other threads, native-only samples
        f"{_LOOP};EpollSelector.select (selectors.py:468) 50",
        "Thread._bootstrap (threading.py:1002);_connection_worker_thread (aiosqlite/core.py:59) 20",
        " 30",
    ]
)


def test_profile_shares_leave_out_idle_and_charge_helpers_to_their_callers() -> None:
    summary = summarise(FOLDED)
    assert summary["samples"] == 10
    assert summary["excluded"] == {"event_loop_waiting": 50, "other_threads": 20}
    components = summary["components_pct"]
    assert components["tweets module (hydration)"] == 30.0
    assert components["SQL (sqlite3, SQLAlchemy, ModuleStore)"] == 20.0
    assert components["granian send (writing the response to the socket)"] == 40.0
    assert components["request id, edge, trace"] == 10.0
    assert summary["categories_pct"]["the handler (TimelineService.home_timeline)"] == 50.0
    assert summary["outside_the_handler_pct"] == 50.0


def test_an_unknown_stack_is_other() -> None:
    assert component_of(["main (somewhere/else.py:1)"]) == "other"


@pytest.mark.slow
def test_read_cost_measures_both_routes(tmp_path: Path) -> None:
    args = [
        "bench",
        "read-cost",
        "--manifest",
        str(ROOT / "deployments" / "monolith.toml"),
        "--users",
        "12",
        "--avg-follows",
        "4",
        "--tweets-per-user",
        "2",
        "--requests",
        "40",
        "--rounds",
        "1",
        "--concurrency",
        "2",
        "--warmup",
        "10",
        "--out-dir",
        str(tmp_path),
    ]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [json_file] = tmp_path.glob("*-read-cost.json")
    report = json.loads(json_file.read_text())
    assert [r["route"] for r in report["rounds"]] == ["livez", "home"]
    for one in report["rounds"]:
        assert one["errors"] == 0
        assert one["server_cpu_s"] > 0
    assert report["median_us"]["home"] > 0
    assert report["response_bytes"] > 100  # a page of tweets, not an empty one
    assert "home at" in result.output
