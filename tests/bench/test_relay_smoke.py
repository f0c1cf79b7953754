"""A short smoke of ``twitterclone bench relay``: the real tool, in-process monolith, toy sizes.

Every burst must drain completely (every consumer applied every event) and be counted exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from twitterclone.cli import main


@pytest.mark.slow
def test_relay_bench_drains_every_burst_and_reports_a_rate(tmp_path: Path) -> None:
    args = ["bench", "relay", "--users", "12", "--follows", "60", "--tweets-per-user", "1"]
    result = CliRunner().invoke(main, [*args, "--out-dir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output

    [json_file] = tmp_path.glob("*-relay-sqlite.json")
    phases = {p["phase"]: p for p in json.loads(json_file.read_text())["phases"]}
    assert set(phases) == {"posts", "follows", "posts-followed"}
    assert (phases["posts"]["events"], phases["follows"]["events"], phases["posts-followed"]["events"]) == (
        12,
        60,
        12,
    )
    for phase in phases.values():
        assert phase["drained"] is True
        assert phase["outbox_rows"] >= phase["events"]
        assert phase["events_per_s"] > 0
    assert "events/s" in result.output
