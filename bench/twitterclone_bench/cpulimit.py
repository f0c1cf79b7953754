"""A CPU limit per process, as a pod's ``resources.limits.cpu`` sets one: a cgroup with a quota.

``bench scale --cpu-limit 0.3`` puts every replica of the scaled service in a cgroup of its own
whose CFS quota is 0.3 of a core per period. On a machine of two cores shared by the whole split
stack and the load generator, no single service process otherwise runs out before the machine
does, so "the saturated service" would not exist; with a limit per replica, as on a cluster where
each pod gets its own share of some node, the scaled service is what runs out, and a second
replica brings a second share, exactly as a second pod would.

Works with the cgroup v1 ``cpu`` controller (``/sys/fs/cgroup/cpu``) or cgroup v2 (``cpu.max``);
either needs the right to create a cgroup there (root, as on this project's CI machines).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_V1 = Path("/sys/fs/cgroup/cpu")
_V2 = Path("/sys/fs/cgroup")
#: the CFS period the quota is a share of (the kernel's default)
PERIOD_US = 100_000


class CpuLimitUnavailable(RuntimeError):
    """No cgroup this process can create with a CPU quota."""


def _hierarchy() -> tuple[Path, int]:
    """Where CPU cgroups are made here, and the cgroup version."""
    if (_V1 / "cpu.cfs_quota_us").exists():
        return _V1, 1
    controllers = _V2 / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split():
        return _V2, 2
    raise CpuLimitUnavailable(
        "--cpu-limit needs a CPU cgroup controller (cgroup v1 at /sys/fs/cgroup/cpu, or v2 with "
        "'cpu' in /sys/fs/cgroup/cgroup.controllers); neither is here"
    )


class CpuLimits:
    """Cgroups named ``tc_bench_<our pid>_<name>``, each capped at ``cores``; removed on close.

    ``apply(name, pids)`` moves processes into the named cgroup (made on first use); a process
    forked afterwards by one of them (a granian worker) inherits it. A replica restarted under the
    same name goes back into the same cgroup.
    """

    def __init__(self, cores: float, hierarchy: tuple[Path, int] | None = None) -> None:
        """``hierarchy``: where to make cgroups and the cgroup version (default: this machine's)."""
        if cores <= 0:
            raise ValueError("a CPU limit is a positive number of cores")
        self.cores = cores
        self.root, self.version = hierarchy or _hierarchy()
        self._made: dict[str, Path] = {}

    def _group(self, name: str) -> Path:
        group = self._made.get(name)
        if group is not None:
            return group
        group = self.root / f"tc_bench_{os.getpid()}_{name}"
        quota = max(1_000, int(self.cores * PERIOD_US))
        try:
            group.mkdir(exist_ok=True)
            if self.version == 1:
                (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (group / "cpu.cfs_quota_us").write_text(str(quota))
            else:
                (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        except OSError as exc:
            with contextlib.suppress(OSError):
                group.rmdir()
            raise CpuLimitUnavailable(f"cannot make a CPU-limited cgroup at {group}: {exc}") from exc
        self._made[name] = group
        return group

    def apply(self, name: str, pids: list[int]) -> None:
        """Put ``pids`` (a process and its descendants) in ``name``'s limited cgroup."""
        procs = self._group(name) / "cgroup.procs"
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, FileNotFoundError):
                procs.write_text(str(pid))

    def throttled_s(self) -> dict[str, float]:
        """Seconds each cgroup's processes spent throttled so far (the limit biting)."""
        out: dict[str, float] = {}
        for name, group in self._made.items():
            try:
                stat = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines())
            except (OSError, ValueError):
                continue
            if "throttled_time" in stat:  # v1: nanoseconds
                out[name] = int(stat["throttled_time"]) / 1e9
            elif "throttled_usec" in stat:  # v2
                out[name] = int(stat["throttled_usec"]) / 1e6
        return out

    def close(self) -> None:
        """Move what is left back to the root cgroup and remove ours."""
        for group in self._made.values():
            with contextlib.suppress(OSError):
                for pid in (group / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        (self.root / "cgroup.procs").write_text(pid)
            with contextlib.suppress(OSError):
                group.rmdir()
        self._made.clear()

    def __enter__(self) -> CpuLimits:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
