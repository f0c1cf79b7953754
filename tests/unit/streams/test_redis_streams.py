"""Events across processes through Redis Streams, against a real Redis.

Each test writes only keys under its own prefix and deletes them afterwards.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from boundaries._kernel.events import Event
from boundaries.tweets.events import TweetLiked
from boundaries.users.events import UserFollowed
from tests.support.consumers import kernel_store
from twitterclone.infra.events import OutboxRelay, Subscription
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, Transaction
from twitterclone.infra.streams import (
    StreamConsumer,
    StreamPublisher,
    deadletter_key,
    stream_backlog,
    stream_key,
    trim_streams,
)

REDIS_URL = os.environ.get("TWITTERCLONE_REDIS_URL", "redis://127.0.0.1:6379/0")
ids = IdGenerator(worker_id=5)


def followed(n: int) -> UserFollowed:
    return UserFollowed(
        event_id=ids.next(), occurred_at=datetime.now(UTC), follower_id=str(n), followee_id="1"
    )


def liked(n: int) -> TweetLiked:
    return TweetLiked(
        event_id=ids.next(), occurred_at=datetime.now(UTC), tweet_id=str(n), author_id="1", user_id="2"
    )


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    p = f"tc:test:{uuid4().hex}:"
    yield p
    keys = [k async for k in redis.scan_iter(match=f"{p}*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ModuleStore]:
    s = await kernel_store(tmp_path, "source")
    yield s
    await s.dispose()


@pytest.fixture
async def g(tmp_path: Path) -> AsyncIterator[ModuleStore]:
    """The store of module "g", whose consumers (groups "g.<name>") the tests run."""
    s = await kernel_store(tmp_path, "g")
    yield s
    await s.dispose()


def ids_of(events: list[Event]) -> list[str]:
    return [e.event_id for e in events]


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 5.0) -> None:
    """Wait until ``check`` holds; fail the test if it does not in time."""
    deadline = time.monotonic() + timeout_s
    while True:
        if await asyncio.wait_for(check(), timeout_s):
            return
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def emit(store: ModuleStore, *events: Event) -> None:
    async with store.transaction() as tx:
        await tx.emit(*events)


Entry = tuple[bytes, dict[bytes, bytes]]


async def xrange(redis: Redis, key: str) -> list[Entry]:
    entries: Any = await redis.xrange(key)
    return [(bytes(i), dict(f)) for i, f in entries]


async def take(redis: Redis, key: str, group: str, instance: str, count: int) -> list[Entry]:
    """Read new entries of ``key`` in ``group`` as ``instance``, without acknowledging them."""
    reply: Any = await redis.xreadgroup(group, instance, {key: ">"}, count=count)
    return [(bytes(i), dict(f)) for i, f in reply[0][1]]


async def group_pending(redis: Redis, key: str, group: str) -> int:
    return int((await redis.xpending(key, group))["pending"])


async def test_outbox_events_reach_every_group_exactly_once(
    redis: Redis, prefix: str, store: ModuleStore, tmp_path: Path
) -> None:
    # The consuming modules, each with a real inbox and a table for the effects.
    targets = {m: await kernel_store(tmp_path, m) for m in ("timeline", "notifications")}
    effects: dict[str, sa.Table] = {}
    for module, target in targets.items():
        effects[module] = sa.Table(
            "effects", target.metadata, sa.Column("consumer", sa.String), sa.Column("event_id", sa.String)
        )
        async with target.engine.begin() as conn:
            await conn.run_sync(effects[module].create)

    calls: Counter[tuple[str, str]] = Counter()

    def handler(module: str) -> Callable[[Transaction, list[Event]], Awaitable[None]]:
        async def handle(tx: Transaction, events: list[Event]) -> None:
            consumer = f"{module}.{'fan_out' if module == 'timeline' else 'notify'}"
            for event in events:
                calls[(consumer, event.event_id)] += 1
            await tx.conn.execute(
                effects[module].insert(), [{"consumer": consumer, "event_id": e.event_id} for e in events]
            )

        return handle

    subs = [
        Subscription(targets["timeline"], "fan_out", UserFollowed, handle=handler("timeline")),
        Subscription(targets["notifications"], "notify", UserFollowed, handle=handler("notifications")),
        Subscription(targets["notifications"], "notify", TweetLiked, handle=handler("notifications")),
    ]
    publisher = StreamPublisher(redis, prefix)
    relay = OutboxRelay(store, publisher)
    consumer = StreamConsumer(redis, prefix, subs, instance="proc-1", block_ms=100)
    await consumer.start()
    try:
        follows = [followed(i) for i in range(5)]
        likes = [liked(i) for i in range(3)]
        await emit(store, *follows[:3], likes[0])
        await emit(store, *follows[3:], *likes[1:])
        assert await relay.relay_once() == 8
        assert await relay.backlog() == 0
        # A relay that crashed before marking rows published sends them again: still applied once.
        for event in follows[:2]:
            assert await publisher.publish(event, ["stream"]) == []

        async def rows() -> list[tuple[str, str]]:
            found: list[tuple[str, str]] = []
            for module, target in targets.items():
                async with target.read() as conn:
                    table = effects[module]
                    found += [
                        (r[0], r[1])
                        for r in await conn.execute(sa.select(table.c.consumer, table.c.event_id))
                    ]
            return found

        async def all_acked() -> bool:
            backlog = await stream_backlog(redis, prefix)
            return all(b.lag == 0 and b.pending == 0 for b in backlog.values()) and len(backlog) == 2

        await eventually(all_acked)
        assert await redis.xlen(stream_key(prefix, "UserFollowed")) == 7  # the re-sent ones were read too
        got = await rows()
        assert sorted(got) == sorted(
            [("timeline.fan_out", e.event_id) for e in follows]
            + [("notifications.notify", e.event_id) for e in [*follows, *likes]]
        )
        # The re-sent entries reached each group, and the kernel kept them from the handlers.
        assert calls == Counter(dict.fromkeys(got, 1))
        backlog = await stream_backlog(redis, prefix)
        assert backlog["notifications.notify"].event_types == ("TweetLiked", "UserFollowed")
        assert backlog["timeline.fan_out"].event_types == ("UserFollowed",)
    finally:
        await asyncio.wait_for(consumer.stop(), 5)
        for target in targets.values():
            await target.dispose()


async def test_redis_down_keeps_the_event_in_the_outbox_until_redis_takes_it(
    redis: Redis, prefix: str, store: ModuleStore
) -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    event = followed(1)
    await emit(store, event)
    try:
        await asyncio.wait_for(OutboxRelay(store, StreamPublisher(down, prefix)).relay_once(), 5)
    finally:
        await down.aclose()
    async with store.read() as conn:
        row = (await conn.execute(sa.select(store.outbox.c.published_at, store.outbox.c.attempts))).one()
    assert row.published_at is None
    assert row.attempts > 0

    relay = OutboxRelay(store, StreamPublisher(redis, prefix), max_backoff_s=0.01)

    async def published() -> bool:
        await relay.relay_once()
        return await relay.backlog() == 0

    await eventually(published)
    entries = await xrange(redis, stream_key(prefix, "UserFollowed"))
    assert [e[1][b"id"].decode() for e in entries] == [event.event_id]
    assert entries[0][1][b"type"] == b"UserFollowed"


async def test_failing_handler_is_retried_alone_and_dead_lettered_after_max_deliveries(
    redis: Redis, prefix: str, g: ModuleStore
) -> None:
    flaky, poison = followed(1), followed(2)
    calls: dict[str, int] = {flaky.event_id: 0, poison.event_id: 0}
    done: list[str] = []
    other: list[str] = []

    async def fragile(tx: Transaction, batch: list[Event]) -> None:
        if len(batch) > 1:  # when a read brings both, the run fails and each is applied alone
            raise RuntimeError("handler broke")
        [event] = batch
        calls[event.event_id] += 1
        if event.event_id == poison.event_id or calls[event.event_id] <= 2:
            raise RuntimeError("handler broke")
        done.append(event.event_id)

    async def steady(tx: Transaction, batch: list[Event]) -> None:
        other.extend(ids_of(batch))

    consumer = StreamConsumer(
        redis,
        prefix,
        [
            Subscription(g, "fragile", UserFollowed, handle=fragile),
            Subscription(g, "steady", UserFollowed, handle=steady),
        ],
        instance="proc-1",
        block_ms=50,
        min_idle_ms=30,
        claim_interval_s=0.05,
        max_deliveries=3,
    )
    publisher = StreamPublisher(redis, prefix)
    await consumer.start()
    try:
        for event in (flaky, poison):
            assert await publisher.publish(event, ["stream"]) == []
        key = stream_key(prefix, "UserFollowed")

        async def settled() -> bool:
            return await redis.xlen(deadletter_key(prefix, "g.fragile")) == 1

        await eventually(settled)
        assert other == [flaky.event_id, poison.event_id]  # the other group got both, once, at once
        assert done == [flaky.event_id]  # succeeded on its third delivery, through XAUTOCLAIM
        assert calls == {flaky.event_id: 3, poison.event_id: 3}

        async def both_acknowledged() -> bool:  # acknowledged after the handler's transaction
            return (
                await group_pending(redis, key, "g.fragile")
                == await group_pending(redis, key, "g.steady")
                == 0
            )

        await eventually(both_acknowledged)
        [(_, dead)] = await xrange(redis, deadletter_key(prefix, "g.fragile"))
        assert dead[b"id"].decode() == poison.event_id
        assert b"handler broke" in dead[b"error"]
        assert int(dead[b"deliveries"]) == 4
        await asyncio.sleep(0.2)
        assert calls[poison.event_id] == 3  # dead-lettered entries are not retried any more
    finally:
        await asyncio.wait_for(consumer.stop(), 5)


async def test_entries_of_a_dead_consumer_are_claimed_and_a_restarted_one_rereads_its_own(
    redis: Redis, prefix: str, g: ModuleStore
) -> None:
    key = stream_key(prefix, "UserFollowed")
    group = "g.crash"
    await redis.xgroup_create(key, group, id="0", mkstream=True)
    publisher = StreamPublisher(redis, prefix)
    first = [followed(i) for i in range(3)]
    for event in first:
        await publisher.publish(event, ["stream"])
    # Process A takes the entries and dies before acknowledging them.
    assert len(await take(redis, key, group, "proc-a", 10)) == 3

    handled: list[tuple[str, str]] = []

    def handler(instance: str) -> Callable[[Transaction, list[Event]], Awaitable[None]]:
        async def handle(tx: Transaction, events: list[Event]) -> None:
            handled.extend((instance, event.event_id) for event in events)

        return handle

    b = StreamConsumer(
        redis,
        prefix,
        [Subscription(g, "crash", UserFollowed, handle=handler("proc-b"))],
        instance="proc-b",
        block_ms=50,
        min_idle_ms=100,
        claim_interval_s=0.05,
    )
    await b.start()
    try:

        async def b_took_over() -> bool:
            return len(handled) == 3

        await eventually(b_took_over)
        assert sorted(handled) == sorted(("proc-b", e.event_id) for e in first)

        # The handler runs inside the transaction; the entries are acknowledged after it commits.
        async def b_acknowledged() -> bool:
            return await group_pending(redis, key, group) == 0

        await eventually(b_acknowledged)
    finally:
        await asyncio.wait_for(b.stop(), 5)

    # A takes more entries, dies again, and this time restarts: it handles its own pending on start,
    # long before any other consumer would consider them abandoned.
    handled.clear()
    second = [followed(i) for i in range(2)]
    for event in second:
        await publisher.publish(event, ["stream"])
    assert len(await take(redis, key, group, "proc-a", 10)) == 2
    a = StreamConsumer(
        redis,
        prefix,
        [Subscription(g, "crash", UserFollowed, handle=handler("proc-a"))],
        instance="proc-a",
        block_ms=50,
        min_idle_ms=60_000,
    )
    await a.start()
    try:

        async def a_recovered() -> bool:
            return len(handled) == 2

        await eventually(a_recovered)
        assert sorted(handled) == sorted(("proc-a", e.event_id) for e in second)

        async def a_acknowledged() -> bool:
            return await group_pending(redis, key, group) == 0

        await eventually(a_acknowledged)
    finally:
        await asyncio.wait_for(a.stop(), 5)


async def test_trim_never_removes_unacknowledged_entries(redis: Redis, prefix: str) -> None:
    key = stream_key(prefix, "UserFollowed")
    publisher = StreamPublisher(redis, prefix)
    await redis.xgroup_create(key, "g.fast", id="0", mkstream=True)
    await redis.xgroup_create(key, "g.slow", id="0", mkstream=True)
    for i in range(10):
        await publisher.publish(followed(i), ["stream"])
    ids_ = [e[0] for e in await xrange(redis, key)]

    # Nothing read by g.slow yet: nothing may go.
    assert await trim_streams(redis, prefix, ["UserFollowed"]) == {}
    assert await redis.xlen(key) == 10

    fast = await take(redis, key, "g.fast", "p", 100)
    await redis.xack(key, "g.fast", *[e[0] for e in fast])
    slow = await take(redis, key, "g.slow", "p", 6)
    # g.slow acknowledged entries 0, 1, 3; 2, 4, 5 were delivered but are still pending.
    await redis.xack(key, "g.slow", ids_[0], ids_[1], ids_[3])
    assert len(slow) == 6

    backlog = await stream_backlog(redis, prefix)
    assert (backlog["g.slow"].lag, backlog["g.slow"].pending) == (4, 3)
    assert (backlog["g.fast"].lag, backlog["g.fast"].pending) == (0, 0)

    assert await trim_streams(redis, prefix, ["UserFollowed", "TweetLiked"]) == {"UserFollowed": 2}
    left = [e[0] for e in await xrange(redis, key)]
    assert left == ids_[2:]  # from the oldest pending entry on, everything stays
    pending = await redis.xpending_range(key, "g.slow", "-", "+", 10)
    assert [p["message_id"] for p in pending] == [ids_[2], ids_[4], ids_[5]]

    # A stream nobody has a group on yet is left whole for its first consumer.
    await publisher.publish(liked(1), ["stream"])
    await trim_streams(redis, prefix, ["TweetLiked"])
    assert await redis.xlen(stream_key(prefix, "TweetLiked")) == 1


async def test_a_slow_group_does_not_hold_up_another(redis: Redis, prefix: str, tmp_path: Path) -> None:
    release = asyncio.Event()
    slow_seen: list[str] = []
    fast_seen: list[str] = []

    async def slow(tx: Transaction, events: list[Event]) -> None:
        await release.wait()
        slow_seen.extend(ids_of(events))

    async def fast(tx: Transaction, events: list[Event]) -> None:
        fast_seen.extend(ids_of(events))

    # Two modules: each group holds a transaction on its own module's store.
    slow_store, fast_store = await kernel_store(tmp_path, "slow"), await kernel_store(tmp_path, "fast")
    consumer = StreamConsumer(
        redis,
        prefix,
        [
            Subscription(slow_store, "g", UserFollowed, handle=slow),
            Subscription(fast_store, "g", UserFollowed, handle=fast),
        ],
        instance="proc-1",
        block_ms=50,
    )
    publisher = StreamPublisher(redis, prefix)
    await consumer.start()
    try:
        events = [followed(i) for i in range(4)]
        for event in events:
            await publisher.publish(event, ["stream"])

        async def fast_done() -> bool:
            return len(fast_seen) == 4

        await eventually(fast_done)
        assert slow_seen == []
        release.set()

        async def slow_done() -> bool:
            return len(slow_seen) == 4

        await eventually(slow_done)
        assert slow_seen == fast_seen == [e.event_id for e in events]
    finally:
        release.set()
        await asyncio.wait_for(consumer.stop(), 5)
        await slow_store.dispose()
        await fast_store.dispose()


async def test_stop_is_prompt_and_lets_a_running_handler_finish(
    redis: Redis, prefix: str, g: ModuleStore
) -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def handler(tx: Transaction, events: list[Event]) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.extend(ids_of(events))

    idle = StreamConsumer(
        redis, prefix, [Subscription(g, "idle", TweetLiked, handle=handler)], instance="p", block_ms=10_000
    )
    await idle.start()
    await asyncio.sleep(0.1)  # now blocked in XREADGROUP for up to 10 s
    t0 = time.monotonic()
    await asyncio.wait_for(idle.stop(), 5)
    assert time.monotonic() - t0 < 1.0

    busy = StreamConsumer(
        redis, prefix, [Subscription(g, "busy", UserFollowed, handle=handler)], instance="p", block_ms=10_000
    )
    await busy.start()
    event = followed(1)
    await StreamPublisher(redis, prefix).publish(event, ["stream"])
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(busy.stop(), 5)
    assert finished == [event.event_id]
    assert await group_pending(redis, stream_key(prefix, "UserFollowed"), "g.busy") == 0  # and acked


async def test_consumer_started_before_redis_has_the_stream_gets_earlier_events(
    redis: Redis, prefix: str, g: ModuleStore
) -> None:
    seen: list[str] = []

    async def handler(tx: Transaction, events: list[Event]) -> None:
        seen.extend(ids_of(events))

    early = followed(1)
    await StreamPublisher(redis, prefix).publish(early, ["stream"])  # before any group exists
    consumer = StreamConsumer(
        redis, prefix, [Subscription(g, "late", UserFollowed, handle=handler)], instance="p"
    )
    await consumer.start()
    try:

        async def got_it() -> bool:
            return seen == [early.event_id]

        await eventually(got_it)
    finally:
        await asyncio.wait_for(consumer.stop(), 5)


async def test_each_read_is_applied_as_one_run_and_a_failing_run_goes_one_by_one(
    redis: Redis, prefix: str, store: ModuleStore, g: ModuleStore
) -> None:
    events = [followed(i) for i in range(6)]
    poison = events[3].event_id
    calls: list[list[str]] = []
    applied: list[str] = []

    async def handle(tx: Transaction, batch: list[Event]) -> None:
        calls.append(ids_of(batch))
        if any(e.event_id == poison for e in batch):
            raise ValueError("cannot apply this")
        applied.extend(ids_of(batch))

    # Published through the relay in one pipelined round trip, in outbox order.
    await emit(store, *events)
    assert await OutboxRelay(store, StreamPublisher(redis, prefix)).relay_once() == 6
    key = stream_key(prefix, "UserFollowed")
    assert [e[1][b"id"].decode() for e in await xrange(redis, key)] == [e.event_id for e in events]

    consumer = StreamConsumer(
        redis,
        prefix,
        [Subscription(g, "batch", UserFollowed, handle=handle)],
        instance="p",
        block_ms=50,
        min_idle_ms=60_000,
    )
    await consumer.start()
    try:

        async def handled() -> bool:
            return len(applied) == 5

        await eventually(handled)
        # The whole read, in order, once; then each event alone.
        assert calls == [ids_of(events), *([e.event_id] for e in events)]
        assert applied == [e.event_id for e in events if e.event_id != poison]
        assert await group_pending(redis, key, "g.batch") == 1  # only the poison waits for a retry
        async with g.read() as conn:
            recorded = set((await conn.execute(sa.select(g.inbox.c.event_id))).scalars())
        assert recorded == set(applied)
    finally:
        await asyncio.wait_for(consumer.stop(), 5)
