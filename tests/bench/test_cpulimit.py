"""``CpuLimits`` (``bench scale --cpu-limit``): a cgroup with a CPU quota per replica, cleaned up.

Here against a cgroup hierarchy laid out in a temporary folder (v1 and v2 file names), so the
files it writes and reads are checked on any machine; the kernel's side (processes really moved
and throttled) is checked by the split bench smoke (`test_split_bench_smoke.py`), which runs
`bench scale --cpu-limit` where cgroups can be made (as root, as CI runs).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twitterclone_bench.cpulimit import PERIOD_US, CpuLimits


@pytest.mark.parametrize("version", [1, 2])
def test_each_name_gets_its_own_quota_capped_cgroup_and_close_hands_processes_back(
    tmp_path: Path, version: int
) -> None:
    limits = CpuLimits(0.25, hierarchy=(tmp_path, version))
    limits.apply("tweets-0", [4242])
    limits.apply("tweets-1", [4343])
    limits.apply("tweets-0", [4444])  # a restarted replica goes back into its own cgroup
    assert list(limits._made) == ["tweets-0", "tweets-1"]
    group = limits._made["tweets-0"]
    assert group.parent == tmp_path
    if version == 1:
        assert (group / "cpu.cfs_period_us").read_text() == str(PERIOD_US)
        assert (group / "cpu.cfs_quota_us").read_text() == str(PERIOD_US // 4)
        (group / "cpu.stat").write_text("nr_periods 10\nnr_throttled 4\nthrottled_time 1500000000\n")
    else:
        assert (group / "cpu.max").read_text() == f"{PERIOD_US // 4} {PERIOD_US}"
        (group / "cpu.stat").write_text("usage_usec 9\nthrottled_usec 2500000\n")
    assert (group / "cgroup.procs").read_text() == "4444"
    assert (limits._made["tweets-1"] / "cgroup.procs").read_text() == "4343"
    throttled = limits.throttled_s()
    assert throttled["tweets-0"] == (1.5 if version == 1 else 2.5)
    assert "tweets-1" not in throttled  # no cpu.stat to read: left out, not zero

    limits.close()
    assert (tmp_path / "cgroup.procs").read_text() in {"4444", "4343"}  # handed back to the root
    assert limits._made == {}


def test_a_limit_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        CpuLimits(0, hierarchy=(tmp_path, 1))
