"""A short smoke of ``twitterclone bench writes``: the real tool, toy sizes, SQL and Redis home stores.

Every phase must measure something (a positive CPU figure), and the fan-out it prices must have
happened: the sampled followers see every post it fanned out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from twitterclone.cli import main


@pytest.mark.slow
def test_writes_bench_measures_posts_and_a_fan_out_that_happened(tmp_path: Path) -> None:
    args = ["bench", "writes", "--authors", "3", "--posts", "20", "--rounds", "1"]
    args += ["--followers", "30", "--fanout-posts", "3", "--out-dir", str(tmp_path)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output

    [json_file] = tmp_path.glob("*-writes.json")
    report = json.loads(json_file.read_text())
    assert report["http"]["median_us"] > 0
    assert report["http"]["livez_us"] > 0
    assert [s["home_store"] for s in report["stores"]] == ["sql", "redis"]
    for store in report["stores"]:
        assert store["port_us"] > 0
        assert store["one_by_one_us"] > 0
        assert store["fanout_seen_by"] == "20/20"
    assert "per home-timeline entry" in result.output
