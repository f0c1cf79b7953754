"""Keeping one process registered: register, heartbeat in the background, deregister on stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

from twitterclone.registry.base import Instance, Registry

log = logging.getLogger("twitterclone.registry")

#: The longest wait before retrying a failed beat: the registry's return is noticed this fast.
_RETRY_MAX_S = 0.25


class Registration:
    """Registers ``instance`` and heartbeats every ``interval_s`` until stopped.

    The registry being unreachable never stops the process: a failed register or heartbeat is
    logged and retried sooner (``interval_s / 4``, at most every 0.25 s) until it succeeds again.
    Every beat writes the whole entry, so the first beat that reaches a registry that came back
    empty (a Redis restarted without its data) re-registers at once; callers meanwhile keep the
    instances they knew (``RegistryStateUnknown``). Use ``interval_s`` well under the registry's
    TTL (a third of it tolerates two lost heartbeats).
    """

    def __init__(self, registry: Registry, instance: Instance, interval_s: float = 2.0) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.registry = registry
        self.instance = instance
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.failures = 0  # consecutive failed register/heartbeat attempts

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Register now (a failure is logged, not raised) and start heartbeating."""
        if self.running:
            return
        self._stopping.clear()
        ok = await self._beat(first=True)
        self._task = asyncio.create_task(
            self._loop(retry_soon=not ok),
            name=f"heartbeat:{self.instance.service}:{self.instance.instance_id}",
        )

    async def stop(self) -> None:
        """Stop heartbeating and deregister (graceful stop); a registry error is logged."""
        task, self._task = self._task, None
        if task is not None:
            # Let a beat in flight finish rather than cancel it in the middle of a registry
            # command: a client cancelled mid-command can leave its connection waiting for a reply
            # that never comes (a test run once hung in the deregister below). Only a beat that
            # takes longer than an interval is cancelled.
            self._stopping.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout=max(self.interval_s, 1.0))
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            await self.registry.deregister(self.instance)
        except Exception:
            log.warning(
                "deregister failed; the entry will expire on its own", exc_info=True, extra=self._ids()
            )

    async def __aenter__(self) -> Registration:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _loop(self, *, retry_soon: bool) -> None:
        while not self._stopping.is_set():
            pause = min(self.interval_s / 4, _RETRY_MAX_S) if retry_soon else self.interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=pause)
            if self._stopping.is_set():
                return
            retry_soon = not await self._beat(first=False)

    async def _beat(self, *, first: bool) -> bool:
        try:
            if first:
                await self.registry.register(self.instance)
            else:
                await self.registry.heartbeat(self.instance)
        except Exception:  # never let the registry take the process down
            self.failures += 1
            log.warning(
                "registry heartbeat failed; retrying",
                exc_info=True,
                extra={**self._ids(), "failures": self.failures},
            )
            return False
        if self.failures:
            log.info("registry heartbeat recovered", extra=self._ids())
        self.failures = 0
        return True

    def _ids(self) -> dict[str, str]:
        return {"service": self.instance.service, "instance_id": self.instance.instance_id}
