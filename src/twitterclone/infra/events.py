"""Event delivery: subscriptions, how the kernel applies them, the in-process bus, the relay.

A module consumes events through ``Subscription`` declarations: its store (so its module),
a name, an event type, and a handler. The kernel owns everything around the handler: it
opens a transaction on the module's store, records the events in the module's inbox in that
transaction, and hands the handler only the events that consumer has not applied before,
so a redelivered event changes nothing and no handler has to remember to check.

Delivery is at-least-once. The relay claims a batch of unpublished outbox rows (with a lease,
so two processes on one store do not both take a row), hands the batch to the publisher, and
records in one transaction which rows are done and which consumers still need the others. A
consumer that fails is retried with backoff without holding up the other consumers or the
other events.

Ordering: each consumer gets the events of one relay in outbox order, one after the other
(a retried event comes again after later ones). The consumers of one module (its lane) take
their turns; different modules' consumers run concurrently (their stores are separate), as
the consumer groups of a stream do, so a slow module does not hold up the others' events of
the same batch. A run of consecutive events of one subscription is applied at once (one
transaction); when that fails, the events are applied one by one, so a poison event fails
alone. In process, the runs of one lane share a transaction where they can (``apply_together``:
a module's counters and trends of a batch commit once; a run that fails there is undone alone, by
a savepoint, and applied again by itself).

Applied inbox rows are kept for a retention window (``TWITTERCLONE_INBOX_RETENTION_S``),
far longer than any redelivery, then purged by ``purge_inbox_forever``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeAlias, TypeVar

import msgspec
import sqlalchemy as sa

from boundaries._kernel.events import Event
from boundaries.catalog import EVENT_TYPES
from twitterclone.infra.store import HotWrite, ModuleStore, Transaction

log = logging.getLogger("twitterclone.events")

E = TypeVar("E", bound=Event)

#: Applies events, in order, inside the transaction that records them in the inbox. It gets
#: only events its consumer has not applied before, each once, all of its subscription's type.
Handle: TypeAlias = Callable[[Transaction, list[E]], Awaitable[None]]
#: Runs before that transaction, outside any, on the events not applied before: remote calls
#: (nothing may hold a transaction across one) and effects outside the store. It returns the
#: ``Handle`` for the transaction (usually a closure over what it learnt). It may run again
#: for the same events (a crash before the commit, a failed batch retried one by one), so what
#: it changes outside the store must be idempotent.
Prepare: TypeAlias = Callable[[list[E]], Awaitable[Handle[E]]]

_OutboxRow = Any  # (seq, event_type, payload, pending, attempts)
#: Event ids per inbox statement (3 bound values a row, well under every driver's limit).
_INBOX_CHUNK = 500


def _make_decoder() -> msgspec.json.Decoder[Event]:
    union: Any = EVENT_TYPES[0]
    for t in EVENT_TYPES[1:]:
        union = union | t
    return msgspec.json.Decoder(union)


_decoder = _make_decoder()


def decode_event(payload: bytes) -> Event:
    """Decode any event of the catalog from its JSON form."""
    return _decoder.decode(payload)


async def record_only(tx: Transaction, events: Sequence[Event]) -> None:
    """A ``Handle`` with nothing to do in the store: the transaction only records the inbox rows."""


@dataclass(frozen=True, slots=True)
class Subscription(Generic[E]):
    """One consumer of one event type, declared by its module.

    ``store`` is the consuming module's store: the module (``store.module``) is the consumer's
    lane, and the transaction the handler gets is on that store. The consumer name
    ``<module>.<name>`` keys the inbox and names the stream consumer group, so it must never
    change; one consumer may subscribe to several event types (one ``Subscription`` each), and
    then sees them in their common order.

    Give exactly one of ``handle`` (everything happens in the transaction) or ``prepare``
    (something must happen before it; see ``Prepare``).
    """

    store: ModuleStore
    name: str
    event_type: type[E]
    handle: Handle[E] | None = None
    prepare: Prepare[E] | None = None
    #: Which events of its type the consumer has anything to do for (None: every one). One it
    #: does not want counts as applied at once, with no transaction and no inbox row: applying
    #: it (again) would change nothing. E.g. media's attach wants only posts with media.
    wants: Callable[[E], bool] | None = None
    #: ``<module>.<name>``: the inbox key and the stream consumer group.
    consumer: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "consumer", f"{self.store.module}.{self.name}")  # frozen: set once
        if (self.handle is None) == (self.prepare is None):
            raise TypeError(f"subscription {self.consumer}: give either handle or prepare")
        if not self.name or "." in self.name:
            raise ValueError(f"subscription name {self.name!r}: a non-empty word without '.'")

    @property
    def module(self) -> str:
        """The consuming module: its store, and its lane of delivery."""
        return self.store.module

    async def apply(self, events: Sequence[Event]) -> list[E]:
        """Apply ``events`` (in order) once each, in one transaction; the events applied now.

        Events this consumer applied before, and repeats within ``events``, are left out; the
        rest are recorded in the inbox in the same transaction as the handler's writes, so the
        effect and the record commit together or not at all. Raises what the handler raises.
        """
        prepared = await self._prepared(events)
        if prepared is None:
            return []
        async with self.store.transaction() as tx:
            return await self._apply_in(tx, *prepared)

    async def _prepared(self, events: Sequence[Event]) -> tuple[list[E], Handle[E]] | None:
        """The events to apply (each once, checked against the type) and the handle to apply them
        with, after ``prepare`` (when there is one; then None if every event was applied before)."""
        unique: dict[str, E] = {}
        for event in events:
            if not isinstance(event, self.event_type):
                raise TypeError(
                    f"{self.consumer} takes {self.event_type.__name__}, not {type(event).__name__}"
                )
            unique.setdefault(event.event_id, event)
        todo = list(unique.values())
        if self.wants is not None:
            todo = [e for e in todo if self.wants(e)]
            if not todo:
                return None
        handle = self.handle
        if self.prepare is not None:
            # Skip what was applied before: a redelivery makes no remote calls, no outside effects.
            todo = await self._unseen(todo)
            if not todo:
                return None
            handle = await self.prepare(todo)
        assert handle is not None
        return todo, handle

    async def _apply_in(self, tx: Transaction, todo: list[E], handle: Handle[E]) -> list[E]:
        """Record ``todo`` in the inbox in ``tx`` and hand the events not recorded before to ``handle``."""
        fresh = await self._record(tx, todo)
        if fresh:
            await handle(tx, fresh)
        return fresh

    async def _unseen(self, events: list[E]) -> list[E]:
        seen: set[str] = set()
        for start in range(0, len(events), _INBOX_CHUNK):
            ids = [e.event_id for e in events[start : start + _INBOX_CHUNK]]
            rows = await self.store.fetch(self.store.inbox_seen, {"consumer": self.consumer, "ids": ids})
            seen.update(str(r[0]) for r in rows)
        return [e for e in events if e.event_id not in seen]

    async def _record(self, tx: Transaction, events: list[E]) -> list[E]:
        """Insert the inbox rows (skipping those already there); the events not recorded before.

        One insert per chunk that returns the ids it recorded: a batch costs one round trip.
        """
        fresh: set[str] = set()
        now = time.time()
        for start in range(0, len(events), _INBOX_CHUNK):
            rows = [
                {"consumer": self.consumer, "event_id": e.event_id, "processed_at": now}
                for e in events[start : start + _INBOX_CHUNK]
            ]
            result = await tx.write_rows(self.store.inbox_insert, rows)
            fresh.update(str(r[0]) for r in result.rows)
        return [e for e in events if e.event_id in fresh]


def subscribe(
    store: ModuleStore,
    name: str,
    event_type: type[E],
    *,
    handle: Handle[E] | None = None,
    prepare: Prepare[E] | None = None,
    wants: Callable[[E], bool] | None = None,
) -> Subscription[Any]:
    """Declare a ``Subscription``; the way modules write them.

    The handler is checked against ``event_type`` here, whatever list the subscription goes in
    (``Subscription(...)`` written straight into a ``list[Subscription[Any]]`` would take
    its event type from that list's ``Any`` and check nothing).
    """
    return Subscription(store, name, event_type, handle, prepare, wants)


async def apply_run(sub: Subscription[Any], events: list[Event]) -> list[BaseException | None]:
    """Hand consecutive events to one subscription, in order; the error of each (None: applied).

    A run goes to the subscription at once (one transaction); when that fails and the run has
    more than one event, each event is applied alone, so only the ones that cannot be applied
    fail. Failures are logged here.
    """
    if len(events) > 1:
        try:
            await sub.apply(events)
            return [None] * len(events)
        except Exception:
            log.warning(
                "batch failed; applying the events one by one",
                exc_info=True,
                extra={
                    "consumer": sub.consumer,
                    "event_type": sub.event_type.__name__,
                    "events": len(events),
                },
            )
    errors: list[BaseException | None] = []
    for event in events:
        try:
            await sub.apply([event])
            errors.append(None)
        except Exception as exc:
            log.exception(
                "consumer failed; will retry",
                extra={
                    "consumer": sub.consumer,
                    "event_id": event.event_id,
                    "event_type": type(event).__name__,
                },
            )
            errors.append(exc)
    return errors


async def apply_together(runs: Sequence[tuple[Subscription[Any], list[Event]]]) -> list[bool]:
    """Apply runs of several subscriptions of one module in one transaction; which were applied.

    Only the first run's subscription may have a ``prepare`` (it runs before the transaction, as
    in ``Subscription.apply``); the others must only ``handle``, so nothing in between runs
    outside the transaction and the order of their effects is the order of the runs. Each run
    is recorded in its consumer's inbox in that transaction, in a savepoint of its own: a run
    that fails is undone alone (False), the others commit once, together. The caller applies a
    failed run again by itself (``apply_run``), so it fails alone, event by event; when the
    commit fails, every run is False.
    """
    first = runs[0][0]
    if any(sub.store is not first.store for sub, _ in runs) or any(sub.prepare for sub, _ in runs[1:]):
        raise ValueError("apply_together: one store, and a prepare only in the first run")
    applied = [False] * len(runs)
    try:
        ready: dict[int, tuple[list[Any], Handle[Any]] | None] = {}  # None: nothing new to apply
        for k, (sub, events) in enumerate(runs):
            try:
                ready[k] = await sub._prepared(events)
            except Exception:  # left out: applied again by itself
                _log_together_failure(sub, events)
        async with first.store.transaction() as tx:
            for k, todo in ready.items():
                sub, events = runs[k]
                if todo is not None:
                    try:
                        async with tx.savepoint():
                            await sub._apply_in(tx, *todo)
                    except Exception:
                        _log_together_failure(sub, events)
                        continue
                applied[k] = True
    except Exception:
        log.warning("a shared consumer transaction failed", exc_info=True)
        return [False] * len(runs)
    return applied


def _log_together_failure(sub: Subscription[Any], events: list[Event]) -> None:
    log.warning(
        "consumer failed in a shared transaction; applying its events by themselves",
        exc_info=True,
        extra={"consumer": sub.consumer, "event_type": sub.event_type.__name__, "events": len(events)},
    )


def _shared_transactions(
    runs: list[tuple[Subscription[Any], list[tuple[int, Event]]]],
) -> Iterator[list[tuple[Subscription[Any], list[tuple[int, Event]]]]]:
    """Split a lane's runs (in order) into groups that can share one transaction: a run, then the
    runs after it whose subscriptions only ``handle`` (a ``prepare`` starts a new group: it may
    read what the runs before it committed, or write outside the store after them)."""
    group: list[tuple[Subscription[Any], list[tuple[int, Event]]]] = []
    for sub, run in runs:
        if group and sub.prepare is not None:
            yield group
            group = []
        group.append((sub, run))
    if group:
        yield group


async def purge_inbox_forever(
    store: ModuleStore, retention_s: float, *, interval_s: float = 3600.0, first_after_s: float = 60.0
) -> None:
    """Every ``interval_s`` (first after ``first_after_s``), delete inbox rows older than ``retention_s``.

    A background job of the kernel, one per local module store. The retention must be longer
    than any redelivery can come late (the outbox keeps published rows a day; a stream entry is
    redelivered within minutes, or when a stopped consumer restarts): a redelivery within it is
    still recognised; one after it would be applied again.
    """
    await asyncio.sleep(first_after_s)
    while True:
        try:
            removed = await store.purge_inbox(time.time() - retention_s)
            if removed:
                log.info("purged applied inbox rows", extra={"store": store.module, "rows": removed})
        except Exception:  # the next round tries again
            log.exception("purging the inbox failed; will retry", extra={"store": store.module})
        await asyncio.sleep(interval_s)


@dataclass(frozen=True, slots=True)
class Replay:
    """A publisher's request to a relay: publish again the events it had already published.

    ``event_types`` None means every type. The relay puts its published outbox rows (kept for
    its retention window) of those types back in line, before anything newer; the consumers'
    inboxes drop what they had applied already.
    """

    event_types: frozenset[str] | None
    #: why, for the log
    reason: str
    #: the publisher's own note, handed back to it in ``replayed``
    token: str = ""


class PublisherLost(Exception):
    """The publisher no longer holds what it was given (e.g. Redis came back empty).

    Raised by ``publish_many`` before it delivers anything; the relay asks ``replays`` at once.
    """


class Publisher(Protocol):
    """Where a relay hands events: in-process subscribers, or a stream."""

    def consumers_of(self, event_type: str) -> list[str]:
        """The consumers an event of this type must reach."""
        ...

    async def publish(self, event: Event, consumers: list[str]) -> list[str]:
        """Deliver to ``consumers``; return those that failed (to retry later)."""
        ...

    async def publish_many(
        self, items: Sequence[tuple[Event, list[str]]], *, source: str | None = None
    ) -> list[list[str]]:
        """Deliver each event to its consumers (in order per consumer); the failed consumers of each.

        ``source`` is the relaying module; a publisher that can lose what it was given raises
        ``PublisherLost`` (delivering nothing) when it has lost that module's events.
        """
        ...

    async def replays(self, source: str) -> list[Replay]:
        """What the relay of ``source`` must publish again (nothing, for a publisher that keeps all)."""
        ...

    async def replayed(self, source: str, replays: list[Replay]) -> None:
        """The relay of ``source`` has put ``replays`` back in line: do not ask for them again."""
        ...


class LocalBus:
    """In-process delivery: each event is handed straight to its subscribers' handlers."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Subscription[Any]]] = {}

    def subscribe(self, subscriptions: Iterable[Subscription[Any]]) -> None:
        for sub in subscriptions:
            self._subs.setdefault(sub.event_type.__name__, []).append(sub)

    def consumers_of(self, event_type: str) -> list[str]:
        return list(dict.fromkeys(s.consumer for s in self._subs.get(event_type, [])))

    async def publish(self, event: Event, consumers: list[str]) -> list[str]:
        return (await self.publish_many([(event, consumers)]))[0]

    async def replays(self, source: str) -> list[Replay]:
        """In-process delivery loses nothing it was given: the handlers ran before ``publish`` returned."""
        return []

    async def replayed(self, source: str, replays: list[Replay]) -> None:
        return None

    async def publish_many(
        self, items: Sequence[tuple[Event, list[str]]], *, source: str | None = None
    ) -> list[list[str]]:
        """One lane per module, the lanes side by side; in a lane, one consumer after the other.

        A lane holds the consumers of one module (``Subscription.module``): it hands each of
        them, in the order they first appear in the batch, all of its events in outbox order,
        in runs (see ``apply_run``). Keeping one module's consumers in sequence keeps the order
        its writes commit in (a tweet's fan-out before its deletion's cleanup), while other
        modules' consumers, on other stores, work at the same time. Runs that follow each other
        in a lane share one transaction (one commit) as long as none needs a ``prepare`` of its
        own (``apply_together``; a run that fails there is applied again by itself). A consumer named in
        ``consumers`` that has no subscription here (any more) is skipped.
        """
        lanes: dict[str, dict[str, list[tuple[int, Subscription[Any], Event]]]] = {}
        for i, (event, consumers) in enumerate(items):
            wanted = set(consumers)
            for sub in self._subs.get(type(event).__name__, []):
                if sub.consumer in wanted:
                    lanes.setdefault(sub.module, {}).setdefault(sub.consumer, []).append((i, sub, event))
        failed: list[list[str]] = [[] for _ in items]

        async def run_lane(lane: dict[str, list[tuple[int, Subscription[Any], Event]]]) -> None:
            runs = [sub_run for entries in lane.values() for sub_run in _runs(entries)]
            for group in _shared_transactions(runs):
                if len(group) > 1:
                    applied = await apply_together([(sub, [event for _, event in run]) for sub, run in group])
                    group = [sub_run for sub_run, done in zip(group, applied, strict=True) if not done]
                for sub, run in group:
                    errors = await apply_run(sub, [event for _, event in run])
                    for (i, _), error in zip(run, errors, strict=True):
                        if error is not None and sub.consumer not in failed[i]:
                            failed[i].append(sub.consumer)

        if len(lanes) == 1:
            await run_lane(next(iter(lanes.values())))
        elif lanes:
            await asyncio.gather(*(run_lane(lane) for lane in lanes.values()))
        return failed


def _runs(
    lane: list[tuple[int, Subscription[Any], Event]],
) -> Iterator[tuple[Subscription[Any], list[tuple[int, Event]]]]:
    """Split one consumer's events into runs of consecutive events of the same subscription."""
    run: list[tuple[int, Event]] = []
    current: Subscription[Any] | None = None
    for i, sub, event in lane:
        if current is not None and sub is not current:
            yield current, run
            run = []
        current = sub
        run.append((i, event))
    if current is not None and run:
        yield current, run


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
        replay_check_s: float = 1.0,
        min_pass_interval_s: float = 0.01,
    ) -> None:
        """``min_pass_interval_s``: a pass starts at least this long after the one before, so
        under a steady stream of commits the rows of several commits go as one batch (one
        claim, one transaction per consumer module) instead of a batch per commit; a commit
        after a quiet spell is relayed at once."""
        self.store = store
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.lease_s = lease_s
        self.max_backoff_s = max_backoff_s
        self.retention_s = retention_s
        self.replay_check_s = replay_check_s
        self.min_pass_interval_s = min_pass_interval_s
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_cleanup = 0.0
        self._last_replay_check = float("-inf")
        #: the publisher said it lost this module's events: ask for replays before the next claim
        self._lost = False
        self._claim_stmt: HotWrite | None = None
        self._published_stmt: HotWrite | None = None
        #: rows claimed in the transaction that completed the batch before (``_complete``)
        self._claimed: list[_OutboxRow] = []
        #: when the running relay's current pass started (``min_pass_interval_s``)
        self._pass_started = float("-inf")

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
        if self._claimed:  # give them back now rather than when their lease ends
            claimed, self._claimed = self._claimed, []
            try:
                await self._release([row[0] for row in claimed])
            except Exception:
                log.exception("could not release claimed rows", extra={"source_module": self.store.module})

    async def _run(self) -> None:
        while not self._stopping:
            since = time.monotonic() - self._pass_started
            if since < self.min_pass_interval_s and not self._claimed:
                await asyncio.sleep(self.min_pass_interval_s - since)  # let the next rows gather
            self._pass_started = time.monotonic()
            try:
                moved = await self.relay_once()
            except Exception:
                log.exception("outbox relay pass failed", extra={"source_module": self.store.module})
                moved = 0
            if moved < self.batch_size and not self._stopping and not self._lost and not self._claimed:
                await self.store.wait_for_events(self.poll_interval_s)

    async def relay_once(self) -> int:
        """Claim and deliver one batch of due rows; return how many were handled.

        First (at most every ``replay_check_s``, and at once after ``PublisherLost``) it asks
        the publisher whether published rows must go again (``_replay``). Rows the completion of
        the batch before already claimed go first, as they are (see ``_complete``).
        """
        rows, self._claimed = self._claimed, []
        if not rows:
            if self._replay_due():
                await self._replay()
            self.store.take_wake()  # before claiming: a commit from now on wakes the next round
            rows = await self._claim()
        if rows:
            await self._deliver(rows)
        if time.time() - self._last_cleanup > 300:
            await self._cleanup()
        return len(rows)

    def _replay_due(self) -> bool:
        return self._lost or time.monotonic() - self._last_replay_check >= self.replay_check_s

    async def _replay(self) -> None:
        """Put published rows back in line when the publisher lost them or a consumer asks.

        The rows (kept ``retention_s`` after publication) become unpublished again, so the next
        claims take them in outbox order before anything newer; consumers that had applied them
        find them in their inbox. If the publisher cannot be asked now, publishing goes on: a
        stream publisher checks again, atomically, with every append.
        """
        self._last_replay_check = time.monotonic()
        try:
            replays = await self.publisher.replays(self.store.module)
        except Exception as exc:
            log.warning(
                "could not ask the publisher for replays; will ask again",
                extra={"source_module": self.store.module, "error": repr(exc)},
            )
            return
        if replays:
            t = self.store.outbox
            reset = 0
            async with self.store.transaction() as tx:
                for replay in replays:
                    stmt = sa.update(t).where(t.c.published_at.is_not(None))
                    if replay.event_types is not None:
                        stmt = stmt.where(t.c.event_type.in_(sorted(replay.event_types)))
                    result = await tx.conn.execute(
                        stmt.values(
                            published_at=None,
                            pending=None,
                            attempts=0,
                            next_attempt_at=0,
                            lease_until=0,
                            last_error=None,
                        )
                    )
                    reset += max(0, result.rowcount)
            log.warning(
                "publishing events again",
                extra={
                    "source_module": self.store.module,
                    "rows": reset,
                    "reasons": [r.reason for r in replays],
                },
            )
            await self.publisher.replayed(self.store.module, replays)
        self._lost = False

    def _claim_statement(self) -> HotWrite:
        """Lease the next due rows and return them: built once (``now``, ``lease_until`` and
        ``limit`` are parameters), as a relay claims after every commit of its module."""
        if self._claim_stmt is None:
            t = self.store.outbox
            now = sa.bindparam("b_now", type_=sa.Float())
            due = (
                sa.select(t.c.seq)
                .where(t.c.published_at.is_(None), t.c.next_attempt_at <= now, t.c.lease_until <= now)
                .order_by(t.c.seq)
                .limit(sa.bindparam("b_limit", type_=sa.Integer()))
            )
            if not self.store.is_sqlite:
                due = due.with_for_update(skip_locked=True)
            self._claim_stmt = HotWrite(
                sa.update(t)
                .where(t.c.seq.in_(due.scalar_subquery()))
                .values(lease_until=sa.bindparam("b_lease_until", type_=sa.Float()))
                .returning(t.c.seq, t.c.event_type, t.c.payload, t.c.pending, t.c.attempts),
                ("b_now", "b_lease_until", "b_limit"),
            )
        return self._claim_stmt

    def _published_statement(self) -> HotWrite:
        """Mark rows (``seqs``) published at ``now``: built once, as every batch ends with it."""
        if self._published_stmt is None:
            t = self.store.outbox
            self._published_stmt = HotWrite(
                sa.update(t)
                .where(t.c.seq.in_(sa.bindparam("seqs", expanding=True)))
                .values(published_at=sa.bindparam("now", type_=sa.Float()), pending=None, lease_until=0),
                ("seqs", "now"),
            )
        return self._published_stmt

    async def _claim(self) -> list[_OutboxRow]:
        async with self.store.transaction() as tx:
            return await self._claim_in(tx)

    async def _claim_in(self, tx: Transaction) -> list[_OutboxRow]:
        now = time.time()
        params = {"b_now": now, "b_lease_until": now + self.lease_s, "b_limit": self.batch_size}
        result = await tx.write(self._claim_statement(), params)
        return sorted(result.rows, key=lambda r: r[0])

    def _consumers(self, event_type: str, pending: str | None) -> list[str]:
        if pending:
            try:
                return msgspec.json.decode(pending, type=list[str])
            except msgspec.DecodeError:
                log.error(
                    "unreadable pending consumers; delivering to every subscriber", extra={"pending": pending}
                )
        return self.publisher.consumers_of(event_type)

    async def _deliver(self, rows: list[_OutboxRow]) -> None:
        """Hand claimed rows to the publisher in one call, then record every outcome in one transaction."""
        failed: dict[int, list[str]] = {}
        errors: dict[int, str] = {}
        items: list[tuple[Event, list[str]]] = []
        item_seqs: list[int] = []
        for seq, event_type, payload, pending, _attempts in rows:
            consumers = self._consumers(event_type, pending)
            if not consumers:
                continue
            try:
                event = decode_event(payload)
            except Exception as exc:  # undecodable: retried (and visible in last_error) until fixed
                log.exception(
                    "could not decode outbox row", extra={"source_module": self.store.module, "seq": seq}
                )
                failed[seq], errors[seq] = consumers, repr(exc)
                continue
            items.append((event, consumers))
            item_seqs.append(seq)
        if items:
            try:
                outcomes = await self.publisher.publish_many(items, source=self.store.module)
            except PublisherLost:
                # Nothing was delivered: give the rows back as they were and replay first.
                self._lost = True
                await self._release([row[0] for row in rows])
                return
            except Exception as exc:  # the publisher is down: retry the whole batch
                log.exception(
                    "could not publish outbox rows",
                    extra={"source_module": self.store.module, "rows": len(items)},
                )
                outcomes = [consumers for _, consumers in items]
                errors.update(dict.fromkeys(item_seqs, repr(exc)))
            for seq, failed_consumers in zip(item_seqs, outcomes, strict=True):
                if failed_consumers:
                    failed[seq] = failed_consumers
        await self._complete(rows, failed, errors)

    async def _complete(
        self, rows: list[_OutboxRow], failed: dict[int, list[str]], errors: dict[int, str]
    ) -> None:
        t = self.store.outbox
        now = time.time()
        done = [row[0] for row in rows if row[0] not in failed]
        retries = [
            {
                "b_seq": seq,
                "b_pending": msgspec.json.encode(failed[seq]).decode(),
                "b_attempts": attempts + 1,
                "b_next": now + min(self.max_backoff_s, 0.5 * 2**attempts),
                "b_error": errors.get(seq) or f"consumers failed: {', '.join(failed[seq])}",
            }
            for seq, _type, _payload, _pending, attempts in rows
            if seq in failed
        ]
        # Claim the next batch in this transaction (one commit less per batch) when there is
        # one: the batch was full, or rows were committed since it was claimed and the next
        # pass is due (else they gather until it is: ``min_pass_interval_s``). Not when the
        # publisher's replays are due (they go before anything newer), nor when stopping.
        due = time.monotonic() - self._pass_started >= self.min_pass_interval_s
        more = len(rows) >= self.batch_size or (self.store.woken and due)
        claim_next = more and not self._stopping and not self._replay_due()
        claimed: list[_OutboxRow] = []
        async with self.store.transaction() as tx:
            for start in range(0, len(done), 500):
                await tx.write(self._published_statement(), {"seqs": done[start : start + 500], "now": now})
            if retries:
                await tx.conn.execute(
                    sa.update(t)
                    .where(t.c.seq == sa.bindparam("b_seq"))
                    .values(
                        pending=sa.bindparam("b_pending"),
                        attempts=sa.bindparam("b_attempts"),
                        next_attempt_at=sa.bindparam("b_next"),
                        lease_until=0,
                        last_error=sa.bindparam("b_error"),
                    ),
                    retries,
                )
            if claim_next:
                self.store.take_wake()  # a commit from now on wakes the round after the next
                claimed = await self._claim_in(tx)
        self._claimed = claimed  # leased only once committed

    async def _release(self, seqs: list[int]) -> None:
        t = self.store.outbox
        async with self.store.transaction() as tx:
            for start in range(0, len(seqs), 500):
                await tx.conn.execute(
                    sa.update(t).where(t.c.seq.in_(seqs[start : start + 500])).values(lease_until=0)
                )

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
