"""``twitterclone bench adapter-cost``: a toy-size run of the real tool, warm and cold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from twitterclone.cli import main
from twitterclone_bench.adapter_cost import _cold_shape

ROOT = Path(__file__).resolve().parents[2]


def test_cold_reads_are_spread_over_readers_within_a_timeline_cap() -> None:
    assert _cold_shape(2) == (1, 2)
    assert _cold_shape(25) == (1, 25)
    assert _cold_shape(26) == (2, 13)
    assert _cold_shape(100) == (4, 25)


@pytest.mark.slow
@pytest.mark.parametrize("cold", [False, True])
def test_adapter_cost_measures_both_routes(tmp_path: Path, cold: bool) -> None:
    args = ["bench", "adapter-cost", "--manifest", str(ROOT / "deployments" / "monolith.toml")]
    args += ["--authors", "3", "--posts", "7", "--requests", "2", "--rounds", "2", "--warmup", "2"]
    args += ["--out-dir", str(tmp_path), *(["--cold"] if cold else [])]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [json_file] = tmp_path.glob("*-adapter-cost.json")
    report = json.loads(json_file.read_text())
    assert report["config"]["cold"] is cold
    for route in ("native", "mastodon"):
        assert len(report["rounds_ms"][route]) == 2
        assert report["median_ms"][route] > 0
    assert report["ratio"] > 0
    assert report["cpu_check_s"]["schedstat"] > 0
    assert ("cold" in result.output) is cold
