"""``CpuLimits`` (``bench scale --cpu-limit``): a cgroup with a CPU quota per replica, cleaned up.

Needs a CPU cgroup this process may create (root: CI's machines run the suite as root); elsewhere
the test says why it cannot run rather than pass.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from twitterclone_bench.cpulimit import PERIOD_US, CpuLimits, CpuLimitUnavailable


def _limits(cores: float) -> CpuLimits:
    try:
        return CpuLimits(cores)
    except CpuLimitUnavailable as exc:
        pytest.skip(f"no CPU cgroup to create here: {exc}")


def test_a_process_is_moved_into_a_quota_capped_cgroup_and_the_cgroup_is_removed_after() -> None:
    limits = _limits(0.25)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        limits.apply("tweets-1", [child.pid])
        [group] = limits._made.values()
        if limits.version == 1:
            assert int((group / "cpu.cfs_quota_us").read_text()) == PERIOD_US // 4
        else:
            assert (group / "cpu.max").read_text().split() == [str(PERIOD_US // 4), str(PERIOD_US)]
        assert str(child.pid) in (group / "cgroup.procs").read_text().split()
        assert group.name in Path(f"/proc/{child.pid}/cgroup").read_text()
        # the same name again (a restarted replica) reuses the cgroup
        limits.apply("tweets-1", [child.pid])
        assert list(limits._made) == ["tweets-1"]
        assert limits.throttled_s()["tweets-1"] >= 0
    finally:
        limits.close()
        child.kill()
        child.wait()
    assert not group.exists()


def test_a_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        CpuLimits(0)
