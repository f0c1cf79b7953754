"""A short smoke of ``twitterclone bench fanout``: the real tool, a monolith it seeds and starts, toy sizes.

The benchmark itself is not part of the test run; this proves the machinery (seeding through the
users port with exact counts, server start, logins, the three phases, the reach count, the JSON)
works end to end, and that the hybrid holds as users see it: every follower the bench is logged in
as sees both the popular author's tweet and the near author's, nobody else sees either, and the
popular author's tweet (merged at read time) shows on every follower's first look.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from twitterclone.cli import main


@pytest.mark.slow
def test_fanout_bench_runs_end_to_end_and_the_hybrid_holds(tmp_path: Path) -> None:
    args = [
        "bench",
        "fanout",
        "--followers",
        "600",
        "--threshold",
        "100",
        "--near-followers",
        "99",
        "--small-authors",
        "4",
        "--small-max-followers",
        "50",
        "--readers",
        "10",
        "--sample",
        "30",
        "--read-rate",
        "20",
        "--follower-read-rate",
        "10",
        "--warmup",
        "0.5",
        "--window",
        "1",
        "--small-posts",
        "8",
        "--small-post-rate",
        "10",
        "--give-up",
        "10",
        "--out-dir",
        str(tmp_path),
    ]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output

    [json_file] = tmp_path.glob("*-fanout-sqlite.json")
    doc = json.loads(json_file.read_text())
    pop = doc["population"]
    assert (pop["star_followers"], pop["near_followers"], pop["sampled_followers"]) == (600, 99, 30)
    assert pop["silent_accounts"] == 570
    assert max(pop["small_author_followers"]) == 50

    reach = doc["home_timeline_reach"]
    for name in ("star (impact)", "star (visibility)", "near (impact)", "near (visibility)"):
        # Logged in: 30 sampled followers of both, 10 readers and 4 small authors who follow neither
        # (and the other of star and near, who follows nobody).
        assert reach[name] == {
            "followers_read": 30,
            "followers_seeing": 30,
            "others_read": 15,
            "others_seeing": 0,
        }

    for name in ("star", "near"):
        vis = doc["visibility"][name]
        assert vis["seen"] == vis["swept"] == 27  # 30 sampled, 3 of them the fast probes
        assert vis["fast_probes"]["count"] == 3
        assert vis["lag"]["p99_ms"] >= vis["lag"]["p50_ms"] > 0
    # Merged into followers' pages at read time: there from the first look, no fan-out to wait for.
    assert doc["visibility"]["star"]["seen_on_first_poll"] == 27

    windows = doc["impact"]["windows"]
    assert windows["before"]["latency"]["count"] == 20  # 20 reads/s for 1 s, open loop
    assert all(w["errors"] == 0 for w in windows.values())
    small = doc["small_authors"]
    assert small["not_seen_within_10s"] == 0
    assert small["lag"]["count"] == 16  # 8 posts, 2 followers probing each
    assert "B. time until" in result.output
