"""Snowflake-style 64-bit ids: 41-bit milliseconds, 10-bit worker, 12-bit sequence."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twitterclone.infra.files import open_private, private_dir

#: 2020-01-01T00:00:00Z in milliseconds: the ids' epoch.
EPOCH_MS = 1_577_836_800_000
WORKER_BITS = 10
SEQUENCE_BITS = 12
MAX_WORKER = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1


class ClockWentBackwards(RuntimeError):
    """The wall clock moved back further than we are willing to wait out."""


class IdGenerator:
    """Hands out unique, time-ordered ids for one worker.

    It never goes backwards: a small clock step back is waited out; a large one raises.
    """

    def __init__(self, worker_id: int | None = None, *, max_backwards_wait_ms: int = 50) -> None:
        if worker_id is None:
            worker_id = os.getpid() & MAX_WORKER
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker id must be in 0..{MAX_WORKER}, got {worker_id}")
        self.worker_id = worker_id
        self._max_wait = max_backwards_wait_ms
        self._last_ms = -1
        self._sequence = 0
        self._lock = threading.Lock()

    def next_int(self) -> int:
        """A new id as an int."""
        with self._lock:
            now = _now_ms()
            if now < self._last_ms:
                behind = self._last_ms - now
                if behind > self._max_wait:
                    raise ClockWentBackwards(f"clock went back {behind} ms")
                time.sleep(behind / 1000)
                now = _now_ms()
                while now < self._last_ms:
                    now = _now_ms()
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:  # sequence spent this millisecond: wait for the next
                    while now <= self._last_ms:
                        now = _now_ms()
            else:
                self._sequence = 0
            self._last_ms = now
            return (
                ((now - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS))
                | (self.worker_id << SEQUENCE_BITS)
                | self._sequence
            )

    def next(self) -> str:
        """A new id as the decimal string that travels in DTOs and JSON."""
        return str(self.next_int())


def id_time(snowflake: int | str) -> datetime:
    """When an id was made."""
    ms = (int(snowflake) >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def min_id_at(moment: datetime) -> int:
    """The smallest id that could have been made at ``moment`` (for time-bounded queries)."""
    ms = int(moment.timestamp() * 1000) - EPOCH_MS
    return max(ms, 0) << (WORKER_BITS + SEQUENCE_BITS)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


_claimed: list[Any] = []  # open lock files: a claim lasts as long as the process


def claim_worker_id(directory: Path) -> int:
    """Claim a worker id no other live process on this machine holds (a lock file per id).

    Processes that share a data directory (the monolith's workers, every process `up`
    starts) get distinct ids without coordination; a dead process's lock goes with it.
    Across machines, set TWITTERCLONE_WORKER_ID explicitly.
    """
    import fcntl

    private_dir(directory)
    start = os.getpid() & MAX_WORKER
    for offset in range(MAX_WORKER + 1):
        candidate = (start + offset) & MAX_WORKER
        f = os.fdopen(open_private(directory / f"{candidate}.lock", os.O_WRONLY | os.O_APPEND), "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        _claimed.append(f)
        return candidate
    raise RuntimeError(f"all {MAX_WORKER + 1} worker ids are taken in {directory}")
