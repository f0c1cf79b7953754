"""Live changes for long-lived streams: waits woken in-process, and positions to resume from.

A module that offers "what changed since this position, waiting up to N seconds" (a home
timeline gaining a tweet, a new public post) keeps its waiters in a ``Waiters``: the code path
that makes the change wakes them after its commit, so in one process a change is seen at once;
a waiter also re-reads every ``poll_interval_s``, so a change made by another process (another
replica of the module) is seen within that time. Where the deployment has Redis, ``RedisWakeups``
carries the wake-ups to the module's other processes too (pub/sub), so a change made through one
replica wakes the waits held by another at once; the re-read remains the fallback.

Ids are snowflakes, taken before the transaction that writes them commits, so a row with a
smaller id can become visible after one with a larger id. A ``Seen`` position therefore
remembers the ids already handed out within a grace window below the newest one, and hands out
anything above its floor it has not handed out yet: nothing committed late within the window is
lost, nothing is handed out twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import msgspec
from redis.asyncio import Redis

from boundaries._kernel.errors import InvalidInput
from twitterclone.infra.ids import EPOCH_MS, SEQUENCE_BITS, WORKER_BITS

T = TypeVar("T")

log = logging.getLogger("twitterclone.live")

#: Milliseconds of ids below the newest one a position keeps track of (commit order vs id order).
GRACE_MS = 5_000
#: Ids a position remembers at most (past that its floor rises).
MAX_RECENT = 64
#: The longest one wait may last, whatever the caller asks.
MAX_WAIT_S = 30.0

_TIME_SHIFT = WORKER_BITS + SEQUENCE_BITS


def id_at(epoch_ms: float) -> int:
    """The smallest snowflake id that could be taken at ``epoch_ms`` (Unix milliseconds)."""
    return max(int(epoch_ms) - EPOCH_MS, 0) << _TIME_SHIFT


def id_now() -> int:
    """The smallest snowflake id that could be taken now."""
    return id_at(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Seen:
    """A position in a sequence of snowflake ids: everything at or below ``floor`` and every id
    in ``recent`` was handed out (or predates the stream); the rest is new."""

    floor: int
    recent: frozenset[int] = frozenset()

    @classmethod
    def starting_now(cls, existing: Iterable[int] = ()) -> Seen:
        """A position from now on: the ids of ``existing`` rows in the grace window count as seen."""
        return cls(floor=id_at(time.time() * 1000 - GRACE_MS)).after(existing)

    def new(self, ids: Iterable[int]) -> list[int]:
        """The ids not handed out yet, oldest first, each once."""
        return sorted({i for i in ids if i > self.floor and i not in self.recent})

    def after(self, delivered: Iterable[int]) -> Seen:
        """The position once ``delivered`` has been handed out too."""
        known = self.recent.union(i for i in delivered if i > self.floor)
        if not known:
            return self
        floor = max(self.floor, max(known) - (GRACE_MS << _TIME_SHIFT))
        kept = sorted((i for i in known if i > floor), reverse=True)
        if len(kept) > MAX_RECENT:
            floor = kept[MAX_RECENT]
            kept = kept[:MAX_RECENT]
        return Seen(floor=floor, recent=frozenset(kept))

    def encode(self) -> str:
        return "~".join(str(i) for i in (self.floor, *sorted(self.recent)))

    @classmethod
    def decode(cls, text: str, field: str) -> Seen:
        parts = text.split("~")
        if len(parts) > MAX_RECENT + 1 or not all(p.isdigit() and len(p) <= 19 for p in parts):
            raise InvalidInput(f"{field} is not a position this API handed out", field=field)
        values = [int(p) for p in parts]
        if any(v >= 2**63 for v in values):
            raise InvalidInput(f"{field} is not a position this API handed out", field=field)
        return cls(floor=values[0], recent=frozenset(v for v in values[1:] if v > values[0]))


def split_position(position: str, parts: int, field: str) -> list[Seen]:
    """A composite position (``Seen`` positions joined by ``.``), checked and decoded."""
    pieces = position.split(".")
    if len(position) > 4096 or len(pieces) != parts:
        raise InvalidInput(f"{field} is not a position this API handed out", field=field)
    return [Seen.decode(p, field) for p in pieces]


def join_position(*positions: Seen) -> str:
    return ".".join(p.encode() for p in positions)


#: Waits for every key.
EVERYONE: Hashable = object()


class Waiters:
    """Long-poll waits: ``wait`` re-reads until something is found, a wake-up, or the timeout."""

    def __init__(self, poll_interval_s: float) -> None:
        self.poll_interval_s = poll_interval_s
        self._by_key: dict[Hashable, set[asyncio.Event]] = {}

    def wake(self, keys: Iterable[Hashable]) -> None:
        """Wake the waits on any of ``keys`` (and those on ``EVERYONE``); call after the commit."""
        if not self._by_key:
            return
        for key in {*keys, EVERYONE}:
            for event in self._by_key.get(key, ()):
                event.set()

    def wake_all(self) -> None:
        """Wake every wait."""
        for events in self._by_key.values():
            for event in events:
                event.set()

    async def wait(
        self,
        key: Hashable,
        timeout_s: float,
        read: Callable[[], Awaitable[T]],
        found: Callable[[T], bool],
    ) -> T:
        """Call ``read`` until ``found`` holds for its result or ``timeout_s`` (at most 30 s) passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(max(timeout_s, 0.0), MAX_WAIT_S)
        wake = asyncio.Event()
        # Registered before the first read, so a change committed in between still wakes us.
        self._by_key.setdefault(key, set()).add(wake)
        try:
            while True:
                wake.clear()
                result = await read()
                remaining = deadline - loop.time()
                if found(result) or remaining <= 0:
                    return result
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), min(remaining, self.poll_interval_s))
        finally:
            waiting = self._by_key.get(key)
            if waiting is not None:
                waiting.discard(wake)
                if not waiting:
                    del self._by_key[key]

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_key.values())


#: Keys a wake-up names at most; past that it wakes every wait (a large fan-out).
MAX_ANNOUNCED_KEYS = 1000
_ALL = b"*"


class RedisWakeups:
    """Wake-ups shared by the processes of one module through a Redis pub/sub channel.

    ``announce`` wakes the waits in this process and publishes the keys; ``listen`` (a background
    job of the module, in every process) wakes the local waits a published message names. Losing
    a message costs only latency: the waits' periodic re-read still finds the change.
    """

    def __init__(self, redis: Redis, channel: str, waiters: Waiters) -> None:
        self.redis = redis
        self.channel = channel
        self.waiters = waiters

    async def announce(self, keys: Iterable[int] | None) -> None:
        """Wake the waits on ``keys`` (None: every wait) here and in the module's other processes."""
        wanted = None if keys is None else list(set(keys))
        if wanted is None:
            self.waiters.wake_all()
        else:
            self.waiters.wake(wanted)
        message = _ALL if wanted is None or len(wanted) > MAX_ANNOUNCED_KEYS else msgspec.json.encode(wanted)
        try:
            await self.redis.publish(self.channel, message)
        except Exception:  # Redis away: the other processes' re-read still finds the change
            log.warning("could not publish a wake-up", exc_info=True, extra={"channel": self.channel})

    async def listen(self) -> None:
        """Forever: wake the local waits that published wake-ups name (reconnects after errors)."""
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    async for message in pubsub.listen():
                        self._apply(message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("wake-up listener lost Redis; retrying", exc_info=True)
                await asyncio.sleep(1.0)

    def _apply(self, data: object) -> None:
        if not isinstance(data, bytes):
            return
        if data == _ALL:
            self.waiters.wake_all()
            return
        try:
            keys = msgspec.json.decode(data, type=list[int])
        except msgspec.DecodeError:
            return
        self.waiters.wake(keys)
