"""A short smoke of ``twitterclone bench``: the real tool against a monolith it starts, at toy sizes.

The benchmark itself is not part of the test run; this proves the whole machinery (server start,
seeding, ceiling probe, rate search, open-loop mixed run, fan-out probe, report, JSON, SVG) works
end to end and leaves a well-formed result behind, in well under 30 seconds.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from twitterclone.cli import main

ROOT = Path(__file__).resolve().parents[2]
ROUTES = ("home", "user_timeline", "post", "like", "follow")


@pytest.mark.slow
def test_bench_runs_end_to_end_and_writes_json_and_svg(tmp_path: Path) -> None:
    args = [
        "bench",
        "--start-monolith",
        "--manifest",
        str(ROOT / "deployments" / "monolith.toml"),
        "--users",
        "20",
        "--avg-follows",
        "4",
        "--tweets-per-user",
        "1",
        "--rate",
        "20",
        "--duration",
        "2",
        "--warmup",
        "0",
        # an even mix, so that every route shows up in 40 requests
        "--mix",
        "home=30,user_timeline=20,post=20,like=15,follow=15",
        "--ceiling-duration",
        "0.5",
        "--ceiling-concurrency",
        "4",
        "--search-step",
        "1",
        "--search-steps",
        "1",
        "--no-search-mixed",
        "--out-dir",
        str(tmp_path),
    ]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output

    [json_file] = tmp_path.glob("*.json")
    doc = json.loads(json_file.read_text())
    routes = doc["mixed"]["routes"]
    for route in ROUTES:
        assert routes[route]["count"] > 0, route
        assert routes[route]["errors"] == 0, (route, routes[route]["error_statuses"])
        assert routes[route]["p99_ms"] >= routes[route]["p50_ms"] > 0
    assert routes["all"]["count"] == 40  # 20 req/s for 2 s, open loop: every scheduled request counted
    assert doc["mixed"]["error_rate"] == 0
    assert doc["ceiling"]["throughput_rps"] > 0
    assert len(doc["home_search"]["steps"]) == 1
    assert doc["seed"]["accounts"] == 20
    assert doc["server"]["argon2"]["argon2_time_cost"] == "1"  # the cheap seeding cost is on record
    assert doc["mixed"]["fanout"]["probed"] >= 1
    assert doc["config"]["client"] == "lean"
    # the CPU each request cost the generator and the server, per phase
    assert doc["mixed"]["cpu"]["requests"] == 40
    assert doc["mixed"]["cpu"]["generator_us_per_request"] > 0
    assert doc["ceiling"]["cpu"]["server_us_per_request"] > 0

    [svg_file] = tmp_path.glob("*.svg")
    svg = ET.parse(svg_file).getroot()  # noqa: S314 - our own file
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert svg.findall(".//{http://www.w3.org/2000/svg}polyline")
