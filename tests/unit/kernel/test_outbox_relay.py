"""The outbox relay and the in-process bus: at-least-once, per-consumer retries, nothing from
rolled-back work, ordering per consumer and per module lane, runs applied at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from boundaries._kernel.events import Event
from boundaries.users.events import UserFollowed, UserUnfollowed
from tests.support.consumers import kernel_store
from twitterclone.infra.events import LocalBus, OutboxRelay, Subscription, subscribe
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, Transaction

ids = IdGenerator(worker_id=3)


def followed(n: int) -> UserFollowed:
    return UserFollowed(
        event_id=ids.next(), occurred_at=datetime.now(UTC), follower_id=str(n), followee_id="1"
    )


Handle = Callable[[Transaction, list[Event]], Awaitable[None]]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ModuleStore]:
    """The store of module "t": the events' source, and the consumers' module unless a test says."""
    s = await kernel_store(tmp_path, "t")
    yield s
    await s.dispose()


def ids_of(events: Sequence[Event]) -> list[str]:
    return [e.event_id for e in events]


async def inbox(store: ModuleStore) -> set[tuple[str, str]]:
    async with store.read() as conn:
        rows = await conn.execute(sa.select(store.inbox.c.consumer, store.inbox.c.event_id))
        return {(r[0], r[1]) for r in rows}


async def test_every_consumer_gets_each_event_and_a_failure_is_retried_alone(store: ModuleStore) -> None:
    seen_a: list[str] = []
    seen_b: list[str] = []
    events = [followed(i) for i in range(3)]
    b_fails_on = {events[0].event_id}

    async def a(tx: Transaction, batch: list[Event]) -> None:
        seen_a.extend(ids_of(batch))

    async def b(tx: Transaction, batch: list[Event]) -> None:
        if b_fails_on & set(ids_of(batch)):
            raise RuntimeError("b is down")
        seen_b.extend(ids_of(batch))

    bus = LocalBus()
    bus.subscribe(
        [Subscription(store, "a", UserFollowed, handle=a), Subscription(store, "b", UserFollowed, handle=b)]
    )
    relay = OutboxRelay(store, bus, max_backoff_s=0.01)
    async with store.transaction() as tx:
        await tx.emit(*events)

    await relay.relay_once()
    assert seen_a == [e.event_id for e in events]
    assert len(seen_b) == 2  # the delivery of the first event to b failed, the others went through
    assert await relay.backlog() == 1
    assert ("t.b", events[0].event_id) not in await inbox(store)  # rolled back with the failure

    b_fails_on.clear()
    await asyncio.sleep(0.6)  # past the first backoff
    await relay.relay_once()
    assert sorted(seen_b) == sorted(e.event_id for e in events)
    assert seen_a == [e.event_id for e in events]  # a was not bothered again
    assert await relay.backlog() == 0


async def test_rolled_back_transaction_publishes_nothing(store: ModuleStore) -> None:
    got: list[Event] = []

    async def handler(tx: Transaction, events: list[Event]) -> None:
        got.extend(events)

    bus = LocalBus()
    bus.subscribe([Subscription(store, "h", UserFollowed, handle=handler)])

    async def failing_change() -> None:
        async with store.transaction() as tx:
            await tx.emit(followed(1))
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    await OutboxRelay(store, bus).relay_once()
    assert got == []


async def test_running_relay_delivers_soon_after_commit(store: ModuleStore) -> None:
    delivered = asyncio.Event()

    async def handler(tx: Transaction, events: list[Event]) -> None:
        tx.after_commit(lambda: asyncio.sleep(0, delivered.set()))

    bus = LocalBus()
    bus.subscribe([Subscription(store, "h", UserFollowed, handle=handler)])
    relay = OutboxRelay(store, bus, poll_interval_s=30)  # only the wake-up can make it fast
    relay.start()
    try:
        await asyncio.sleep(0.05)
        async with store.transaction() as tx:
            await tx.emit(followed(1))
        await asyncio.wait_for(delivered.wait(), 1.0)
    finally:
        await relay.stop()


async def test_a_subscription_applies_each_event_once_per_consumer(store: ModuleStore) -> None:
    table = sa.Table("effects", store.metadata, sa.Column("n", sa.Integer))
    async with store.engine.begin() as conn:
        await conn.run_sync(table.create)
    event = followed(1)

    async def effect(tx: Transaction, events: list[UserFollowed]) -> None:
        await tx.conn.execute(table.insert(), [{"n": 1} for _ in events])

    c1 = Subscription(store, "c1", UserFollowed, handle=effect)
    c2 = Subscription(store, "c2", UserFollowed, handle=effect)
    assert await c1.apply([event]) == [event]
    assert await c1.apply([event]) == []
    assert await c2.apply([event]) == [event]
    async with store.read() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one() == 2
    assert await inbox(store) == {("t.c1", event.event_id), ("t.c2", event.event_id)}


async def test_lease_keeps_a_second_relay_off_claimed_rows(store: ModuleStore) -> None:
    calls: list[str] = []

    async def handler(tx: Transaction, events: list[Event]) -> None:
        calls.extend(ids_of(events))

    bus = LocalBus()
    bus.subscribe([Subscription(store, "h", UserFollowed, handle=handler)])
    async with store.transaction() as tx:
        await tx.emit(followed(1))
    r1, r2 = OutboxRelay(store, bus), OutboxRelay(store, bus)
    claimed = await r1._claim()
    assert len(claimed) == 1
    assert await r2._claim() == []
    await r1._deliver(claimed)
    assert len(calls) == 1


async def test_relay_survives_a_failing_pass_and_logs_it(
    store: ModuleStore, caplog: pytest.LogCaptureFixture
) -> None:
    logging.getLogger("twitterclone.events").addHandler(caplog.handler)  # app logs may not propagate
    bus = LocalBus()
    relay = OutboxRelay(store, bus, poll_interval_s=0.01)
    async with store.engine.begin() as conn:
        await conn.run_sync(store.outbox.drop)  # every pass now fails
    relay.start()
    await asyncio.sleep(0.1)
    assert relay._task is not None
    assert not relay._task.done(), "a failing pass must not kill the relay"
    await relay.stop()
    logging.getLogger("twitterclone.events").removeHandler(caplog.handler)
    assert any(r.getMessage() == "outbox relay pass failed" for r in caplog.records)


def unfollowed(n: int) -> UserUnfollowed:
    return UserUnfollowed(
        event_id=ids.next(), occurred_at=datetime.now(UTC), follower_id=str(n), followee_id="1"
    )


async def test_each_consumer_gets_events_in_order_and_modules_run_side_by_side(
    store: ModuleStore, tmp_path: Path
) -> None:
    events = [followed(i) for i in range(20)]
    seen: dict[str, list[str]] = {"a": [], "b": []}
    b_has: dict[str, asyncio.Event] = {e.event_id: asyncio.Event() for e in events}

    async def a(tx: Transaction, batch: list[Event]) -> None:
        for event in batch:
            # Waits for b to have handled the same event: one after the other, this would never finish.
            await asyncio.wait_for(b_has[event.event_id].wait(), 2)
            seen["a"].append(event.event_id)

    async def b(tx: Transaction, batch: list[Event]) -> None:
        for event in batch:
            await asyncio.sleep(0)
            seen["b"].append(event.event_id)
            b_has[event.event_id].set()

    # Two modules ("ma", "mb"), each with its store: their consumers work at the same time.
    ma, mb = await kernel_store(tmp_path, "ma"), await kernel_store(tmp_path, "mb")
    try:
        bus = LocalBus()
        bus.subscribe(
            [Subscription(ma, "a", UserFollowed, handle=a), Subscription(mb, "b", UserFollowed, handle=b)]
        )
        async with store.transaction() as tx:
            await tx.emit(*events)

        assert await OutboxRelay(store, bus).relay_once() == 20
        assert seen["a"] == seen["b"] == [e.event_id for e in events]
        assert {c for c, _ in await inbox(ma)} == {"ma.a"}
        assert len(await inbox(ma)) == 20
        assert {c for c, _ in await inbox(mb)} == {"mb.b"}
        assert len(await inbox(mb)) == 20
    finally:
        await ma.dispose()
        await mb.dispose()


async def test_the_consumers_of_one_module_take_turns(store: ModuleStore) -> None:
    calls: list[tuple[str, str]] = []

    def handler(name: str) -> Handle:
        async def handle(tx: Transaction, events: list[Event]) -> None:
            for event in events:
                await asyncio.sleep(0)
                calls.append((name, event.event_id))

        return handle

    bus = LocalBus()
    bus.subscribe(
        [
            Subscription(store, "first", UserFollowed, handle=handler("first")),
            Subscription(store, "second", UserFollowed, handle=handler("second")),
            Subscription(store, "second", UserUnfollowed, handle=handler("second")),
        ]
    )
    f1, u1, f2 = followed(1), unfollowed(1), followed(2)
    async with store.transaction() as tx:
        await tx.emit(f1, u1, f2)

    await OutboxRelay(store, bus).relay_once()

    # Each consumer in outbox order; the module's consumers one after the other, never interleaved.
    assert calls == [
        ("first", f1.event_id),
        ("first", f2.event_id),
        ("second", f1.event_id),
        ("second", u1.event_id),
        ("second", f2.event_id),
    ]


async def test_runs_of_one_subscription_are_applied_at_once_in_order(store: ModuleStore) -> None:
    calls: list[tuple[str, list[str]]] = []

    async def handle(tx: Transaction, events: list[Event]) -> None:
        calls.append((type(events[0]).__name__, ids_of(events)))

    bus = LocalBus()
    bus.subscribe(
        [
            Subscription(store, "follow", UserFollowed, handle=handle),
            Subscription(store, "follow", UserUnfollowed, handle=handle),
        ]
    )
    f1, f2, u1, f3 = followed(1), followed(2), unfollowed(1), followed(3)
    async with store.transaction() as tx:
        await tx.emit(f1, f2, u1, f3)

    await OutboxRelay(store, bus).relay_once()

    assert calls == [
        ("UserFollowed", [f1.event_id, f2.event_id]),  # one transaction for the run
        ("UserUnfollowed", [u1.event_id]),
        ("UserFollowed", [f3.event_id]),
    ]


async def test_a_failing_batch_is_retried_one_by_one_and_only_the_bad_event_waits(
    store: ModuleStore,
) -> None:
    events = [followed(i) for i in range(4)]
    poison = events[2].event_id
    applied: list[str] = []
    batches: list[int] = []

    async def handle(tx: Transaction, batch: list[Event]) -> None:
        batches.append(len(batch))
        if any(e.event_id == poison for e in batch):
            raise ValueError("cannot apply this")
        applied.extend(e.event_id for e in batch)

    bus = LocalBus()
    bus.subscribe([Subscription(store, "h", UserFollowed, handle=handle)])
    relay = OutboxRelay(store, bus, max_backoff_s=0.01)
    async with store.transaction() as tx:
        await tx.emit(*events)

    await relay.relay_once()
    assert batches == [4, 1, 1, 1, 1]  # the run, then each event alone
    assert applied == [e.event_id for e in events if e.event_id != poison]
    assert await inbox(store) == {("t.h", e.event_id) for e in events if e.event_id != poison}
    assert await relay.backlog() == 1
    async with store.read() as conn:
        row = (
            await conn.execute(
                sa.select(store.outbox.c.event_id, store.outbox.c.pending, store.outbox.c.attempts).where(
                    store.outbox.c.published_at.is_(None)
                )
            )
        ).one()
    assert (row.event_id, row.pending, row.attempts) == (poison, '["t.h"]', 1)


async def test_a_batch_is_claimed_and_completed_in_one_statement_each(store: ModuleStore) -> None:
    statements: list[str] = []

    def record(statement: str) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            statements.append(statement)

    async def handler(tx: Transaction, events: list[Event]) -> None:
        return None

    bus = LocalBus()
    bus.subscribe([Subscription(store, "h", UserFollowed, handle=handler)])
    async with store.transaction() as tx:
        await tx.emit(*(followed(i) for i in range(50)))
        # What the driver runs (the claim and the completion go to it straight, as HotWrites).
        driver = tx.conn.dbapi  # type: ignore[attr-defined]
    driver.set_trace_callback(record)
    try:
        assert await OutboxRelay(store, bus).relay_once() == 50
    finally:
        driver.set_trace_callback(None)
    assert len(statements) == 2  # the claim (lease) and the completion, for all 50 rows
    assert await OutboxRelay(store, bus).backlog() == 0


async def test_a_run_is_recorded_in_one_statement_and_repeats_are_left_out(store: ModuleStore) -> None:
    a, b, c = followed(1), followed(2), followed(3)
    got: list[list[str]] = []

    async def handle(tx: Transaction, events: list[UserFollowed]) -> None:
        got.append(ids_of(events))

    c1 = Subscription(store, "c1", UserFollowed, handle=handle)
    inserts: list[str] = []

    def record(statement: str) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement)

    async with store.transaction() as tx:  # what the driver runs (inbox rows go to it as HotWrites)
        driver = tx.conn.dbapi  # type: ignore[attr-defined]
    driver.set_trace_callback(record)
    try:
        assert await c1.apply([a, b]) == [a, b]
    finally:
        driver.set_trace_callback(None)
    assert len(inserts) == 1  # both inbox rows in one statement
    assert await c1.apply([a, c, c]) == [c]
    assert await Subscription(store, "c2", UserFollowed, handle=handle).apply([a]) == [a]
    assert await c1.apply([b]) == []
    assert got == [ids_of([a, b]), ids_of([c]), ids_of([a])]  # the handler never saw a repeat


async def test_prepare_runs_before_the_transaction_and_only_for_new_events(store: ModuleStore) -> None:
    prepared: list[list[str]] = []
    written: list[list[str]] = []
    users_down = True

    async def prepare(
        events: list[UserFollowed],
    ) -> Callable[[Transaction, list[UserFollowed]], Awaitable[None]]:
        # Outside any transaction: SQLite's writer is free (a remote call here holds nothing).
        async with store.transaction() as own:
            await own.conn.execute(sa.select(1))
        prepared.append(ids_of(events))
        if users_down:
            raise ConnectionError("users is down")
        learnt = {e.event_id: e.follower_id for e in events}

        async def write(tx: Transaction, fresh: list[UserFollowed]) -> None:
            written.append([learnt[e.event_id] for e in fresh])

        return write

    sub = Subscription(store, "p", UserFollowed, prepare=prepare)
    a, b = followed(1), followed(2)
    with pytest.raises(ConnectionError):
        await sub.apply([a])
    assert await inbox(store) == set()  # nothing recorded: the redelivery applies it
    users_down = False
    assert await sub.apply([a]) == [a]
    assert await sub.apply([a, b, a]) == [b]
    assert await sub.apply([a, b]) == []
    assert prepared == [ids_of([a]), ids_of([a]), ids_of([b])]  # never for what was applied
    assert written == [["1"], ["2"]]


async def test_a_failing_handler_rolls_back_its_writes_and_its_inbox_rows(store: ModuleStore) -> None:
    table = sa.Table("effects", store.metadata, sa.Column("n", sa.Integer))
    async with store.engine.begin() as conn:
        await conn.run_sync(table.create)
    broken = True
    committed: list[int] = []

    async def handle(tx: Transaction, events: list[UserFollowed]) -> None:
        await tx.conn.execute(table.insert().values(n=len(events)))
        tx.after_commit(lambda: asyncio.sleep(0, committed.append(len(events))))
        if broken:
            raise RuntimeError("half way")

    sub = Subscription(store, "h", UserFollowed, handle=handle)
    event = followed(1)
    with pytest.raises(RuntimeError):
        await sub.apply([event])
    async with store.read() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one() == 0
    assert await inbox(store) == set()
    assert committed == []  # after-commit work waits for a commit
    broken = False
    assert await sub.apply([event]) == [event]
    assert committed == [1]
    assert await inbox(store) == {("t.h", event.event_id)}


async def test_a_subscription_is_declared_whole_and_takes_only_its_event_type(store: ModuleStore) -> None:
    async def handle(tx: Transaction, events: list[UserFollowed]) -> None:
        return None

    async def prepare(
        events: list[UserFollowed],
    ) -> Callable[[Transaction, list[UserFollowed]], Awaitable[None]]:
        return handle

    sub = Subscription(store, "h", UserFollowed, handle=handle)
    assert (sub.module, sub.consumer) == ("t", "t.h")
    with pytest.raises(TypeError, match="takes UserFollowed, not UserUnfollowed"):
        await sub.apply([unfollowed(1)])
    with pytest.raises(TypeError, match="either handle or prepare"):
        Subscription(store, "h", UserFollowed)
    with pytest.raises(TypeError, match="either handle or prepare"):
        Subscription(store, "h", UserFollowed, handle=handle, prepare=prepare)
    with pytest.raises(ValueError, match="a non-empty word"):
        Subscription(store, "t.h", UserFollowed, handle=handle)  # the module comes from the store


async def test_the_runs_of_one_module_share_a_transaction_and_a_failing_one_is_undone_alone(
    store: ModuleStore, tmp_path: Path
) -> None:
    consumers = await kernel_store(tmp_path, "c")
    effects = sa.Table(
        "effects", consumers.metadata, sa.Column("consumer", sa.Text), sa.Column("n", sa.Integer)
    )
    async with consumers.engine.begin() as conn:
        await conn.run_sync(effects.create)
    opened = 0
    open_transaction = consumers.transaction

    def counting() -> Any:
        nonlocal opened
        opened += 1
        return open_transaction()

    consumers.transaction = counting  # type: ignore[method-assign]
    broken: set[str] = set()
    calls: list[str] = []
    committed: list[str] = []

    def handler(name: str) -> Handle:
        async def handle(tx: Transaction, events: list[Event]) -> None:
            calls.append(name)
            await tx.conn.execute(effects.insert().values(consumer=name, n=len(events)))
            tx.after_commit(lambda: asyncio.sleep(0, committed.append(name)))
            if name in broken:
                raise RuntimeError(f"{name} is down")

        return handle

    bus = LocalBus()
    bus.subscribe([Subscription(consumers, n, UserFollowed, handle=handler(n)) for n in ("a", "b", "c")])
    relay = OutboxRelay(store, bus, max_backoff_s=0.01)

    async def effects_of() -> list[tuple[str, int]]:
        async with consumers.read() as conn:
            return [(r[0], r[1]) for r in await conn.execute(sa.select(effects.c.consumer, effects.c.n))]

    try:
        async with store.transaction() as tx:
            await tx.emit(followed(1), followed(2))
        await relay.relay_once()
        assert (opened, calls, committed) == (1, ["a", "b", "c"], ["a", "b", "c"])  # one commit for all
        assert await effects_of() == [("a", 2), ("b", 2), ("c", 2)]

        opened, calls, committed = 0, [], []
        broken.add("b")
        events = [followed(3), followed(4)]
        async with store.transaction() as tx:
            await tx.emit(*events)
        await relay.relay_once()
        # b failed in the shared transaction, then alone: its run, then each event by itself
        assert calls == ["a", "b", "c", "b", "b", "b"]
        assert opened == 4
        assert committed == ["a", "c"]  # b's after-commit work went with its savepoint
        assert await effects_of() == [("a", 2), ("b", 2), ("c", 2), ("a", 2), ("c", 2)]
        recorded = await inbox(consumers)
        assert {("c.a", e.event_id) for e in events} <= recorded
        assert {("c.c", e.event_id) for e in events} <= recorded
        assert not {("c.b", e.event_id) for e in events} & recorded
        assert await relay.backlog() == 2

        broken.clear()
        calls = []
        await asyncio.sleep(0.6)  # past the first backoff
        await relay.relay_once()
        assert calls == ["b"]  # a and c were not bothered again
        assert await relay.backlog() == 0
    finally:
        await consumers.dispose()


async def test_the_completion_of_a_batch_claims_the_next_when_rows_came_meanwhile(
    store: ModuleStore, tmp_path: Path
) -> None:
    consumers = await kernel_store(tmp_path, "c")
    delivered: list[str] = []
    later = [followed(10), followed(11)]

    async def handle(tx: Transaction, events: list[Event]) -> None:
        delivered.extend(ids_of(events))
        if later[0].event_id not in delivered:
            async with store.transaction() as source_tx:  # a post committed during the delivery
                await source_tx.emit(*later)

    bus = LocalBus()
    bus.subscribe([Subscription(consumers, "h", UserFollowed, handle=handle)])
    relay = OutboxRelay(store, bus)
    first = followed(1)
    async with store.transaction() as tx:
        await tx.emit(first)

    opened = 0
    open_transaction = store.transaction

    def counting() -> Any:
        nonlocal opened
        opened += 1
        return open_transaction()

    store.transaction = counting  # type: ignore[method-assign]
    try:
        assert await relay.relay_once() == 1
        # the claim, the post made meanwhile, the completion (which claimed the rows that post
        # wrote), the relay's first cleanup pass
        assert opened == 4
        assert delivered == [first.event_id]
        opened = 0
        assert await relay.relay_once() == 2  # no claim of their own
        assert delivered == [first.event_id, *ids_of(later)]
        assert opened == 1  # the completion: nothing came meanwhile, nothing claimed
        assert await relay.backlog() == 0

        # Claimed rows a stopping relay did not deliver are given back now, not when their lease ends.
        async with store.transaction() as tx:
            await tx.emit(followed(12))
        relay._claimed = await relay._claim()
        assert len(relay._claimed) == 1
        await relay.stop()
        async with store.read() as conn:
            leased = (await conn.execute(sa.select(sa.func.max(store.outbox.c.lease_until)))).scalar_one()
        assert leased == 0
    finally:
        await consumers.dispose()


async def test_commits_that_follow_a_pass_closely_gather_into_one_batch(store: ModuleStore) -> None:
    batches: list[list[str]] = []
    arrived = asyncio.Event()

    async def handle(tx: Transaction, events: list[Event]) -> None:
        batches.append(ids_of(events))
        tx.after_commit(lambda: asyncio.sleep(0, arrived.set()))

    bus = LocalBus()
    bus.subscribe([Subscription(store, "h", UserFollowed, handle=handle)])
    # A long interval between passes, so the test does not depend on the machine's speed.
    relay = OutboxRelay(store, bus, min_pass_interval_s=1.0)
    e1, e2, e3 = followed(1), followed(2), followed(3)

    async def delivered(n: int) -> None:
        while sum(map(len, batches)) < n:
            await arrived.wait()
            arrived.clear()

    relay.start()
    try:
        async with store.transaction() as tx:
            await tx.emit(e1)
        await asyncio.wait_for(delivered(1), 10)  # after a quiet spell: at once
        async with store.transaction() as tx:
            await tx.emit(e2)
        await asyncio.sleep(0.05)  # the relay runs meanwhile; the pass is not due yet
        async with store.transaction() as tx:
            await tx.emit(e3)
        await asyncio.wait_for(delivered(3), 10)
    finally:
        await relay.stop()
    assert batches == [[e1.event_id], [e2.event_id, e3.event_id]]


async def test_events_a_consumer_does_not_want_cost_no_transaction_and_no_inbox_row(
    store: ModuleStore,
) -> None:
    a, b = followed(1), followed(2)
    got: list[list[str]] = []

    async def handle(tx: Transaction, events: list[UserFollowed]) -> None:
        got.append(ids_of(events))

    sub = subscribe(store, "odd", UserFollowed, handle=handle, wants=lambda e: e.follower_id == "1")
    begun: list[str] = []
    async with store.transaction() as tx:
        driver = tx.conn.dbapi  # type: ignore[attr-defined]
    driver.set_trace_callback(lambda sql: begun.append(sql) if sql.startswith("BEGIN") else None)
    try:
        assert await sub.apply([b]) == []
        assert begun == []  # nothing to do: not even a transaction
        assert await sub.apply([a, b]) == [a]
    finally:
        driver.set_trace_callback(None)
    assert got == [ids_of([a])]
    assert await inbox(store) == {("t.odd", a.event_id)}
