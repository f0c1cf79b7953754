"""The last few minutes of samples, taken every second while someone watches the ops view.

Rates, error ratios and latency quantiles are differences between two samples of counters the
processes keep anyway; the history holds those readings (about 300 of them), not a count of
its own. Nobody watching for ``idle_stop_s``: sampling stops (a deployment nobody looks at
pays nothing); the next view starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from twitterclone.gateway.ops.readings import Reader, Sample

log = logging.getLogger("twitterclone.ops")


class Sampler:
    """A background loop over ``Reader.sample`` that keeps the recent samples."""

    def __init__(
        self,
        reader: Reader,
        *,
        interval_s: float = 1.0,
        keep_s: float = 300.0,
        idle_stop_s: float = 60.0,
    ) -> None:
        self.reader = reader
        self.interval_s = interval_s
        self.idle_stop_s = idle_stop_s
        self.samples: deque[Sample] = deque(maxlen=max(2, int(keep_s / interval_s)))
        self._watched_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._first = asyncio.Lock()

    async def watch(self) -> list[Sample]:
        """Someone looks: make sure the loop runs; the samples so far (at least one)."""
        self._watched_at = time.monotonic()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="ops-sampler")
        if not self.samples:
            async with self._first:  # the first view waits for one sample rather than showing nothing
                if not self.samples:
                    self.samples.append(await self.reader.sample())
        return list(self.samples)

    async def _run(self) -> None:
        while time.monotonic() - self._watched_at < self.idle_stop_s:
            started = time.monotonic()
            try:
                self.samples.append(await self.reader.sample())
            except Exception:  # one bad round must not end the view
                log.exception("ops sample failed")
            await asyncio.sleep(max(0.05, self.interval_s - (time.monotonic() - started)))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
