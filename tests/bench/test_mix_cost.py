"""``twitterclone bench mix-cost``: the weighted cost of the mix, and a toy-size run of the real tool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from twitterclone.cli import main
from twitterclone_bench.mixcost import RouteRound, summarise

ROOT = Path(__file__).resolve().parents[2]


def _round(route: str, total_us: float) -> RouteRound:
    return RouteRound(
        route=route,
        requests=100,
        errors=0,
        error_statuses={},
        wall_s=1.0,
        tail_s=1.2,
        request_path_us=total_us - 10,
        after_us=10,
        total_us=total_us,
        generator_us=50,
        loadavg_1m=None,
    )


def test_the_mix_costs_the_weighted_median_of_its_routes() -> None:
    rounds = [_round("home", 500), _round("home", 700), _round("home", 600), _round("post", 3000)]
    routes, cost = summarise(rounds, {"home": 90, "post": 10, "like": 5})
    assert routes["home"]["total_us"] == 600  # the median round
    assert routes["home"]["after_us"] == 10
    assert "like" not in routes  # not measured: left out of the weights too
    assert cost == pytest.approx((90 * 600 + 10 * 3000) / 100)


@pytest.mark.slow
def test_mix_cost_measures_every_route_of_the_mix(tmp_path: Path) -> None:
    args = [
        "bench",
        "mix-cost",
        "--manifest",
        str(ROOT / "deployments" / "monolith.toml"),
        "--workers",
        "1",
        "--users",
        "12",
        "--avg-follows",
        "4",
        "--tweets-per-user",
        "2",
        "--requests",
        "30",
        "--rounds",
        "1",
        "--concurrency",
        "2",
        "--warmup",
        "5",
        "--settle-limit",
        "5",
        "--generator-rate",
        "20",
        "--generator-s",
        "1",
        "--generator-rounds",
        "1",
        "--out-dir",
        str(tmp_path),
    ]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [json_file] = tmp_path.glob("*-mix-cost.json")
    report = json.loads(json_file.read_text())
    routes = ("home", "user_timeline", "post", "like", "follow")
    assert sorted(r["route"] for r in report["rounds"]) == sorted(routes)
    for one in report["rounds"]:
        assert one["errors"] == 0, one
        assert one["total_us"] >= one["request_path_us"] >= 0
    assert set(report["routes"]) == set(routes)
    assert sum(report["mix_share_pct"].values()) == pytest.approx(100, abs=0.5)
    assert report["mix_us_per_request"] > 0
    assert [g["client"] for g in report["generator"]] == ["aiohttp", "lean"]
    for g in report["generator"]:
        assert (g["requests"], g["errors"], g["error_statuses"]) == (20, 0, {}), g
    assert "the mix:" in result.output
