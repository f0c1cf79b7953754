"""Streams rebuilt from the outboxes: nothing acknowledged is lost when Redis forgets.

Against a real Redis; each test writes only keys under its own prefix. "Redis came back empty"
is every key of the prefix deleted; "a group vanished" is XGROUP DESTROY.
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
from twitterclone.infra.events import LocalBus, OutboxRelay, PublisherLost, Subscription
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, Transaction
from twitterclone.infra.streams import (
    StreamConsumer,
    StreamPublisher,
    epoch_key,
    replays_key,
    stream_key,
)
from twitterclone.settings import Settings, SettingsError

REDIS_URL = os.environ.get("TWITTERCLONE_REDIS_URL", "redis://127.0.0.1:6379/0")
ids = IdGenerator(worker_id=6)


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


async def forget(redis: Redis, prefix: str) -> None:
    """What a Redis that restarts empty does to this prefix: every key gone."""
    keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    p = f"tc:test:{uuid4().hex}:"
    yield p
    await forget(redis, p)


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[ModuleStore]:
    s = await kernel_store(tmp_path, "source")
    yield s
    await s.dispose()


@pytest.fixture
async def g(tmp_path: Path) -> AsyncIterator[ModuleStore]:
    s = await kernel_store(tmp_path, "g")
    yield s
    await s.dispose()


async def emit(store: ModuleStore, *events: Event) -> None:
    async with store.transaction() as tx:
        await tx.emit(*events)


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def stream_ids(redis: Redis, prefix: str, event_type: str) -> list[str]:
    entries: Any = await redis.xrange(stream_key(prefix, event_type))
    return [bytes(f[b"id"]).decode() for _, f in entries]


def counting(applied: Counter[str]) -> Callable[[Transaction, list[Event]], Awaitable[None]]:
    async def handle(tx: Transaction, events: list[Event]) -> None:
        for event in events:
            applied[event.event_id] += 1

    return handle


async def test_a_consumer_behind_gets_every_event_once_after_redis_comes_back_empty(
    redis: Redis, prefix: str, source: ModuleStore, g: ModuleStore
) -> None:
    applied: Counter[str] = Counter()
    subs = [Subscription(g, "notify", UserFollowed, handle=counting(applied))]
    relay = OutboxRelay(source, StreamPublisher(redis, prefix), replay_check_s=0)
    consumer = StreamConsumer(redis, prefix, subs, instance="g-1", block_ms=50, claim_interval_s=0.2)
    await consumer.start()
    early = [followed(i) for i in range(3)]
    await emit(source, *early)
    await relay.relay_once()
    await eventually(lambda: _applied(applied, early))
    await consumer.stop()

    # The consumer is away; more events reach Redis and wait there, acknowledged to their writers.
    behind = [followed(i) for i in range(3, 8)]
    await emit(source, *behind)
    assert await relay.relay_once() == len(behind)
    assert await relay.backlog() == 0  # published: the outbox no longer owes Redis anything
    await forget(redis, prefix)

    # Nothing new may reach the empty Redis ahead of what it lost.
    late = followed(99)
    with pytest.raises(PublisherLost):
        await StreamPublisher(redis, prefix).publish_many([(late, ["stream"])], source="source")
    assert await redis.exists(stream_key(prefix, "UserFollowed")) == 0
    await emit(source, late)
    while await relay.relay_once():
        pass
    order = await stream_ids(redis, prefix, "UserFollowed")
    assert order == [e.event_id for e in [*early, *behind, late]]  # replayed in outbox order, then new
    assert await redis.exists(epoch_key(prefix, "source")) == 1

    consumer = StreamConsumer(redis, prefix, subs, instance="g-1", block_ms=50, claim_interval_s=0.2)
    await consumer.start()
    try:
        await eventually(lambda: _applied(applied, [*early, *behind, late]))
        await asyncio.sleep(0.3)
        assert applied == Counter({e.event_id: 1 for e in [*early, *behind, late]})
    finally:
        await consumer.stop()


async def test_a_group_that_vanished_asks_for_its_event_type_again(
    redis: Redis, prefix: str, source: ModuleStore, g: ModuleStore
) -> None:
    applied: Counter[str] = Counter()
    subs = [Subscription(g, "notify", UserFollowed, handle=counting(applied))]
    relay = OutboxRelay(source, StreamPublisher(redis, prefix), replay_check_s=0)
    follows = [followed(i) for i in range(4)]
    likes = [liked(i) for i in range(2)]
    await emit(source, *follows, *likes)
    while await relay.relay_once():
        pass
    # A group first created after the events were published asks for them (and reads them).
    consumer = StreamConsumer(redis, prefix, subs, instance="g-1", block_ms=50)
    await consumer.start()
    await eventually(lambda: _applied(applied, follows))
    await consumer.stop()

    # The stream's other entries stay; only this group vanishes, before it read the newest ones.
    newer = [followed(i) for i in range(10, 13)]
    await emit(source, *newer)
    while await relay.relay_once():
        pass
    await redis.xgroup_destroy(stream_key(prefix, "UserFollowed"), "g.notify")
    await redis.xtrim(stream_key(prefix, "UserFollowed"), maxlen=0)  # another group's trim
    consumer = StreamConsumer(redis, prefix, subs, instance="g-1", block_ms=50)
    await consumer.start()
    try:
        requests: Any = await redis.xrange(replays_key(prefix))
        assert [bytes(f[b"type"]).decode() for _, f in requests] == ["UserFollowed", "UserFollowed"]
        while await relay.relay_once():
            pass
        await eventually(lambda: _applied(applied, [*follows, *newer]))
        await asyncio.sleep(0.3)
        assert applied == Counter({e.event_id: 1 for e in [*follows, *newer]})
        # Only the asked-for type went again; the likes were left alone.
        assert await stream_ids(redis, prefix, "TweetLiked") == [e.event_id for e in likes]
    finally:
        await consumer.stop()


async def test_an_existing_group_asks_for_nothing(redis: Redis, prefix: str, g: ModuleStore) -> None:
    subs = [Subscription(g, "notify", UserFollowed, handle=counting(Counter()))]
    for _ in range(2):
        consumer = StreamConsumer(redis, prefix, subs, instance="g-1", block_ms=50)
        await consumer.start()
        await consumer.stop()
    assert await redis.xlen(replays_key(prefix)) == 1  # the creation only, not the restart


async def test_published_rows_outside_the_retention_window_are_not_replayed(
    redis: Redis, prefix: str, source: ModuleStore
) -> None:
    relay = OutboxRelay(source, StreamPublisher(redis, prefix), replay_check_s=0, retention_s=60)
    old, recent = followed(1), followed(2)
    await emit(source, old, recent)
    while await relay.relay_once():
        pass
    async with source.transaction() as tx:  # the old one was published two minutes ago
        t = source.outbox
        await tx.conn.execute(
            sa.update(t).where(t.c.event_id == old.event_id).values(published_at=time.time() - 120)
        )
    await relay._cleanup()
    await forget(redis, prefix)
    while await relay.relay_once():
        pass
    assert await stream_ids(redis, prefix, "UserFollowed") == [recent.event_id]


async def test_in_process_delivery_never_asks_for_replays(source: ModuleStore) -> None:
    bus = LocalBus()
    assert await bus.replays("source") == []
    relay = OutboxRelay(source, bus, replay_check_s=0)
    await emit(source, followed(1))
    assert await relay.relay_once() == 1


async def _applied(applied: Counter[str], events: list[Event]) -> bool:
    return all(applied[e.event_id] >= 1 for e in events)


def test_the_outbox_retention_must_be_shorter_than_the_inbox_retention() -> None:
    assert Settings.from_env({"TWITTERCLONE_OUTBOX_RETENTION_S": "3600"}).outbox_retention_s == 3600
    with pytest.raises(SettingsError, match="TWITTERCLONE_OUTBOX_RETENTION_S must be shorter"):
        Settings.from_env(
            {"TWITTERCLONE_OUTBOX_RETENTION_S": "200000", "TWITTERCLONE_INBOX_RETENTION_S": "100000"}
        )
