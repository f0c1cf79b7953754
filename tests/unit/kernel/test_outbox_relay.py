"""The outbox relay: at-least-once, per-consumer retries, nothing from rolled-back work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from boundaries._kernel.events import Event
from boundaries.users.events import UserFollowed, UserUnfollowed
from twitterclone.infra.events import LocalBus, OutboxRelay, Subscription
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, sqlite_url

ids = IdGenerator(worker_id=3)


def followed(n: int) -> UserFollowed:
    return UserFollowed(
        event_id=ids.next(), occurred_at=datetime.now(UTC), follower_id=str(n), followee_id="1"
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ModuleStore]:
    s = ModuleStore("test", sqlite_url(tmp_path, "test"))
    async with s.engine.begin() as conn:
        await conn.run_sync(s.metadata.create_all)
    yield s
    await s.dispose()


async def test_every_consumer_gets_each_event_and_a_failure_is_retried_alone(store: ModuleStore) -> None:
    seen_a: list[str] = []
    seen_b: list[str] = []
    fail_once = {"left": 1}

    async def a(event: Event) -> None:
        seen_a.append(event.event_id)

    async def b(event: Event) -> None:
        if fail_once["left"]:
            fail_once["left"] -= 1
            raise RuntimeError("b is down")
        seen_b.append(event.event_id)

    bus = LocalBus()
    bus.subscribe([Subscription(UserFollowed, "t.a", a), Subscription(UserFollowed, "t.b", b)])
    relay = OutboxRelay(store, bus, max_backoff_s=0.01)
    events = [followed(i) for i in range(3)]
    async with store.transaction() as tx:
        await tx.emit(*events)

    await relay.relay_once()
    assert seen_a == [e.event_id for e in events]
    assert len(seen_b) == 2  # the first delivery to b failed, the others went through
    assert await relay.backlog() == 1

    await asyncio.sleep(0.6)  # past the first backoff
    await relay.relay_once()
    assert sorted(seen_b) == sorted(e.event_id for e in events)
    assert seen_a == [e.event_id for e in events]  # a was not bothered again
    assert await relay.backlog() == 0


async def test_rolled_back_transaction_publishes_nothing(store: ModuleStore) -> None:
    got: list[Event] = []

    async def handler(event: Event) -> None:
        got.append(event)

    bus = LocalBus()
    bus.subscribe([Subscription(UserFollowed, "t.h", handler)])

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

    async def handler(event: Event) -> None:
        delivered.set()

    bus = LocalBus()
    bus.subscribe([Subscription(UserFollowed, "t.h", handler)])
    relay = OutboxRelay(store, bus, poll_interval_s=30)  # only the wake-up can make it fast
    relay.start()
    try:
        await asyncio.sleep(0.05)
        async with store.transaction() as tx:
            await tx.emit(followed(1))
        await asyncio.wait_for(delivered.wait(), 1.0)
    finally:
        await relay.stop()


async def test_apply_once_dedupes_by_consumer_and_event(store: ModuleStore) -> None:
    table = sa.Table("effects", store.metadata, sa.Column("n", sa.Integer))
    async with store.engine.begin() as conn:
        await conn.run_sync(table.create)
    event = followed(1)

    async def effect(tx: object) -> None:
        await tx.conn.execute(table.insert().values(n=1))  # type: ignore[attr-defined]

    assert await store.apply_once("c1", event, effect) is True
    assert await store.apply_once("c1", event, effect) is False
    assert await store.apply_once("c2", event, effect) is True
    async with store.read() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one() == 2


async def test_lease_keeps_a_second_relay_off_claimed_rows(store: ModuleStore) -> None:
    calls: list[str] = []

    async def handler(event: Event) -> None:
        calls.append(event.event_id)

    bus = LocalBus()
    bus.subscribe([Subscription(UserFollowed, "t.h", handler)])
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


async def test_each_consumer_gets_events_in_order_and_modules_run_side_by_side(store: ModuleStore) -> None:
    events = [followed(i) for i in range(20)]
    seen: dict[str, list[str]] = {"a": [], "b": []}
    b_has: dict[str, asyncio.Event] = {e.event_id: asyncio.Event() for e in events}

    async def a(event: Event) -> None:
        # Waits for b to have handled the same event: one after the other, this would never finish.
        await asyncio.wait_for(b_has[event.event_id].wait(), 2)
        seen["a"].append(event.event_id)

    async def b(event: Event) -> None:
        await asyncio.sleep(0)
        seen["b"].append(event.event_id)
        b_has[event.event_id].set()

    bus = LocalBus()
    # Two modules ("ma", "mb"): their consumers work at the same time.
    bus.subscribe([Subscription(UserFollowed, "ma.a", a), Subscription(UserFollowed, "mb.b", b)])
    async with store.transaction() as tx:
        await tx.emit(*events)

    assert await OutboxRelay(store, bus).relay_once() == 20
    assert seen["a"] == seen["b"] == [e.event_id for e in events]


async def test_the_consumers_of_one_module_take_turns(store: ModuleStore) -> None:
    calls: list[tuple[str, str]] = []

    def handler(name: str) -> Callable[[Event], Awaitable[None]]:
        async def handle(event: Event) -> None:
            await asyncio.sleep(0)
            calls.append((name, event.event_id))

        return handle

    bus = LocalBus()
    bus.subscribe(
        [
            Subscription(UserFollowed, "m.first", handler("first")),
            Subscription(UserFollowed, "m.second", handler("second")),
            Subscription(UserUnfollowed, "m.second", handler("second")),
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


async def test_runs_of_one_subscription_go_to_its_batch_handler_in_order(store: ModuleStore) -> None:
    calls: list[tuple[str, list[str]]] = []

    async def one(event: Event) -> None:
        calls.append((type(event).__name__, [event.event_id]))

    async def many(events: list[Event]) -> None:
        calls.append(("batch", [e.event_id for e in events]))

    bus = LocalBus()
    bus.subscribe(
        [
            Subscription(UserFollowed, "t.follow", one, many),
            Subscription(UserUnfollowed, "t.follow", one),
        ]
    )
    f1, f2, u1, f3 = followed(1), followed(2), unfollowed(1), followed(3)
    async with store.transaction() as tx:
        await tx.emit(f1, f2, u1, f3)

    await OutboxRelay(store, bus).relay_once()

    assert calls == [
        ("batch", [f1.event_id, f2.event_id]),
        ("UserUnfollowed", [u1.event_id]),
        ("UserFollowed", [f3.event_id]),  # a run of one goes to the plain handler
    ]


async def test_a_failing_batch_is_retried_one_by_one_and_only_the_bad_event_waits(
    store: ModuleStore,
) -> None:
    events = [followed(i) for i in range(4)]
    poison = events[2].event_id
    applied: list[str] = []
    batches: list[int] = []

    async def one(event: Event) -> None:
        if event.event_id == poison:
            raise ValueError("cannot apply this one")
        applied.append(event.event_id)

    async def many(batch: list[Event]) -> None:
        batches.append(len(batch))
        if any(e.event_id == poison for e in batch):
            raise ValueError("cannot apply the batch")
        applied.extend(e.event_id for e in batch)

    bus = LocalBus()
    bus.subscribe([Subscription(UserFollowed, "t.h", one, many)])
    relay = OutboxRelay(store, bus, max_backoff_s=0.01)
    async with store.transaction() as tx:
        await tx.emit(*events)

    await relay.relay_once()
    assert batches == [4]
    assert applied == [e.event_id for e in events if e.event_id != poison]
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

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            statements.append(statement)

    async def handler(event: Event) -> None:
        return None

    bus = LocalBus()
    bus.subscribe([Subscription(UserFollowed, "t.h", handler)])
    async with store.transaction() as tx:
        await tx.emit(*(followed(i) for i in range(50)))
    sa.event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        assert await OutboxRelay(store, bus).relay_once() == 50
    finally:
        sa.event.remove(store.engine.sync_engine, "before_cursor_execute", record)
    assert len(statements) == 2  # the claim (lease) and the completion, for all 50 rows
    assert await OutboxRelay(store, bus).backlog() == 0


async def test_first_deliveries_records_a_batch_and_skips_what_was_applied(store: ModuleStore) -> None:
    a, b, c = followed(1), followed(2), followed(3)
    async with store.transaction() as tx:
        assert await tx.first_deliveries("c1", [a.event_id, b.event_id]) == {a.event_id, b.event_id}
    async with store.transaction() as tx:
        got = await tx.first_deliveries("c1", [a.event_id, c.event_id, c.event_id])
        assert got == {c.event_id}
        assert await tx.first_deliveries("c2", [a.event_id]) == {a.event_id}
        assert await tx.first_delivery("c1", b.event_id) is False
