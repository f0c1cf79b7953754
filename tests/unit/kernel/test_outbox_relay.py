"""The outbox relay: at-least-once, per-consumer retries, nothing from rolled-back work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from boundaries._kernel.events import Event
from boundaries.users.events import UserFollowed
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
    for row in claimed:
        await r1._deliver(row)
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
