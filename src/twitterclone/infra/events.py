"""Event delivery: subscriptions, the in-process bus, and the outbox relay.

Delivery is at-least-once. The relay claims unpublished outbox rows (with a lease, so two
processes on one store do not both take a row), hands each event to the publisher, and
records which consumers still need it. A consumer that fails is retried with backoff
without holding up the other consumers or the other events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
import sqlalchemy as sa

from boundaries._kernel.events import Event
from boundaries.catalog import EVENT_TYPES
from twitterclone.infra.store import ModuleStore

log = logging.getLogger("twitterclone.events")

Handler = Callable[[Event], Awaitable[None]]
_OutboxRow = Any  # (seq, event_type, payload, pending, attempts)


def _make_decoder() -> msgspec.json.Decoder[Event]:
    union: Any = EVENT_TYPES[0]
    for t in EVENT_TYPES[1:]:
        union = union | t
    return msgspec.json.Decoder(union)


_decoder = _make_decoder()


def decode_event(payload: bytes) -> Event:
    """Decode any event of the catalog from its JSON form."""
    return _decoder.decode(payload)


@dataclass(frozen=True, slots=True)
class Subscription:
    """``consumer`` handles events of ``event_type`` with ``handler``.

    The consumer name is stable (it keys the inbox and the stream consumer group),
    for example ``"timeline.fan_out"``.
    """

    event_type: type[Event]
    consumer: str
    handler: Handler


class Publisher(Protocol):
    """Where a relay hands events: in-process subscribers, or a stream."""

    def consumers_of(self, event_type: str) -> list[str]:
        """The consumers an event of this type must reach."""
        ...

    async def publish(self, event: Event, consumers: list[str]) -> list[str]:
        """Deliver to ``consumers``; return those that failed (to retry later)."""
        ...


class LocalBus:
    """In-process delivery: each event is handed straight to its subscribers' handlers."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Subscription]] = {}

    def subscribe(self, subscriptions: Iterable[Subscription]) -> None:
        for sub in subscriptions:
            self._subs.setdefault(sub.event_type.__name__, []).append(sub)

    def consumers_of(self, event_type: str) -> list[str]:
        return [s.consumer for s in self._subs.get(event_type, [])]

    async def publish(self, event: Event, consumers: list[str]) -> list[str]:
        failed: list[str] = []
        wanted = set(consumers)
        for sub in self._subs.get(type(event).__name__, []):
            if sub.consumer not in wanted:
                continue
            try:
                await sub.handler(event)
            except Exception:
                log.exception(
                    "consumer failed; will retry",
                    extra={
                        "consumer": sub.consumer,
                        "event_id": event.event_id,
                        "event_type": type(event).__name__,
                    },
                )
                failed.append(sub.consumer)
        return failed


class OutboxRelay:
    """Moves one module's outbox rows to a publisher, until stopped."""

    def __init__(
        self,
        store: ModuleStore,
        publisher: Publisher,
        *,
        batch_size: int = 100,
        poll_interval_s: float = 1.0,
        lease_s: float = 30.0,
        max_backoff_s: float = 60.0,
        retention_s: float = 86_400.0,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.lease_s = lease_s
        self.max_backoff_s = max_backoff_s
        self.retention_s = retention_s
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_cleanup = 0.0

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.store.module}")

    async def stop(self) -> None:
        self._stopping = True
        self.store.wake_relay()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 10)
            except TimeoutError:
                self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                moved = await self.relay_once()
            except Exception:
                log.exception("outbox relay pass failed", extra={"source_module": self.store.module})
                moved = 0
            if moved < self.batch_size and not self._stopping:
                await self.store.wait_for_events(self.poll_interval_s)

    async def relay_once(self) -> int:
        """Claim and deliver one batch of due rows; return how many were handled."""
        rows = await self._claim()
        for row in rows:
            await self._deliver(row)
        if time.time() - self._last_cleanup > 300:
            await self._cleanup()
        return len(rows)

    async def _claim(self) -> list[_OutboxRow]:
        t = self.store.outbox
        now = time.time()
        async with self.store.transaction() as tx:
            due = (
                sa.select(t.c.seq)
                .where(t.c.published_at.is_(None), t.c.next_attempt_at <= now, t.c.lease_until <= now)
                .order_by(t.c.seq)
                .limit(self.batch_size)
            )
            if not self.store.is_sqlite:
                due = due.with_for_update(skip_locked=True)
            result = await tx.conn.execute(
                sa.update(t)
                .where(t.c.seq.in_(due.scalar_subquery()))
                .values(lease_until=now + self.lease_s)
                .returning(t.c.seq, t.c.event_type, t.c.payload, t.c.pending, t.c.attempts)
            )
            return sorted(result.all(), key=lambda r: r[0])

    async def _deliver(self, row: _OutboxRow) -> None:
        seq, event_type, payload, pending, attempts = row
        t = self.store.outbox
        try:
            event = decode_event(payload)
            consumers = (
                msgspec.json.decode(pending, type=list[str])
                if pending
                else self.publisher.consumers_of(event_type)
            )
            failed = await self.publisher.publish(event, consumers) if consumers else []
            error = None
        except Exception as exc:  # undecodable or publisher down: retry the whole row
            log.exception(
                "could not publish outbox row", extra={"source_module": self.store.module, "seq": seq}
            )
            failed = (
                msgspec.json.decode(pending, type=list[str])
                if pending
                else self.publisher.consumers_of(event_type)
            )
            error = repr(exc)
        now = time.time()
        async with self.store.transaction() as tx:
            if not failed:
                values: dict[str, object] = {"published_at": now, "pending": None, "lease_until": 0}
            else:
                backoff = min(self.max_backoff_s, 0.5 * 2**attempts)
                values = {
                    "pending": msgspec.json.encode(failed).decode(),
                    "attempts": attempts + 1,
                    "next_attempt_at": now + backoff,
                    "lease_until": 0,
                    "last_error": error or f"consumers failed: {', '.join(failed)}",
                }
            await tx.conn.execute(sa.update(t).where(t.c.seq == seq).values(**values))

    async def _cleanup(self) -> None:
        self._last_cleanup = time.time()
        t = self.store.outbox
        async with self.store.transaction() as tx:
            await tx.conn.execute(
                sa.delete(t).where(
                    t.c.published_at.is_not(None), t.c.published_at < time.time() - self.retention_s
                )
            )

    async def backlog(self) -> int:
        """How many outbox rows wait to be published (for metrics and tests)."""
        t = self.store.outbox
        async with self.store.read() as conn:
            return int(
                (
                    await conn.execute(sa.select(sa.func.count()).where(t.c.published_at.is_(None)))
                ).scalar_one()
            )
