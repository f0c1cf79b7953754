"""Batched event handling in the timeline module, and the SQL store's deferred trimming.

The relay hands a consumer runs of consecutive events; the timeline's batch forms must leave
exactly what the one-by-one handlers leave, in order, with redeliveries changing nothing.
Every test runs against each home timeline store (the fixtures of test_timeline_service).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from test_timeline_service import ALICE, BOB, CAROL, DAVE, STAR, MakeWorld, World, make_world, world
from timeline_fakes import settle

from boundaries._kernel.events import Event
from boundaries.tweets.events import Retweeted
from modules.timeline.consumer import TimelineConsumer
from modules.timeline.home import SqlHomeTimelines
from tests.support.databases import Storage
from twitterclone.infra.events import LocalBus
from twitterclone.infra.store import ModuleStore

__all__ = ["make_world", "world"]  # fixtures, shared with test_timeline_service


def bus_for(w: World) -> LocalBus:
    bus = LocalBus()
    bus.subscribe(TimelineConsumer(w.service).subscriptions())
    return bus


async def deliver(bus: LocalBus, *events: Event) -> None:
    """Hand the events to the bus as one relay batch would, every consumer of each."""
    failed = await bus.publish_many([(e, bus.consumers_of(type(e).__name__)) for e in events])
    assert failed == [[] for _ in events]


async def test_a_burst_of_posts_fans_out_in_one_round(make_world: MakeWorld) -> None:
    w = await make_world(fanout_follower_threshold=3)
    for fan in (BOB, CAROL, DAVE):
        w.users.follow(fan, STAR)  # popular: merged at read time
    w.users.follow(BOB, ALICE)
    w.users.follow(CAROL, ALICE)
    w.users.follow(DAVE, CAROL)
    a1, a2 = w.tweets.post(ALICE), w.tweets.post(ALICE)
    star = w.tweets.post(STAR)
    carol = w.tweets.post(CAROL)
    ghost = w.ids.next()  # by an unknown author: skipped
    original = w.tweets.post(DAVE)
    retweet = w.tweets.retweet(CAROL, original)
    now = datetime.now(UTC)
    posts = [w.posted(a1, ALICE), w.posted(star, STAR), w.posted(a2, ALICE), w.posted(carol, CAROL)]
    posts.append(w.posted(ghost, "999"))
    rt = Retweeted(
        event_id=w.ids.next(),
        occurred_at=now,
        retweet_id=retweet,
        tweet_id=original,
        author_id=DAVE,
        user_id=CAROL,
        created_at=now,
    )

    await deliver(bus_for(w), *posts, rt)

    assert await w.stored(ALICE) == [a2, a1]
    assert await w.stored(BOB) == [a2, a1]
    assert await w.stored(CAROL) == [retweet, carol, a2, a1]
    assert await w.stored(DAVE) == [retweet, carol]
    assert await w.stored(STAR) == [star]  # only the popular author's own timeline
    # One profiles call for the TweetPosted run's authors; the Retweeted run's author (CAROL) is
    # known by then (the module keeps follower counts); each author's followers paged once.
    assert w.users.calls["profiles"] == 1
    assert w.users.calls["profile"] == 0
    assert sorted(user for user, _, _ in w.users.follower_pages) == [ALICE, CAROL, CAROL]
    assert await w.home_ids(BOB) == [star, a2, a1]


async def test_follows_and_unfollows_in_one_batch_apply_in_order(world: World) -> None:
    w = world
    w.users.follow(BOB, CAROL)
    carol = await w.post(CAROL)
    dave = [w.tweets.post(DAVE) for _ in range(3)]
    alice = w.tweets.post(ALICE)
    bus = bus_for(w)

    first = w.followed(BOB, DAVE)
    # follow, unfollow, follow again, and someone else's follow: one relay batch.
    await deliver(bus, first, w.unfollowed(BOB, DAVE), w.followed(BOB, DAVE), w.followed(CAROL, ALICE))

    assert await w.stored(BOB) == [*dave[::-1], carol]
    assert await w.stored(CAROL) == [alice, carol]

    # Redelivered in a later batch, next to a new unfollow: the old follow changes nothing.
    await deliver(bus, w.unfollowed(BOB, DAVE), first)
    assert await w.stored(BOB) == [carol]


async def test_a_failing_batch_falls_back_to_one_by_one(world: World) -> None:
    w = world
    w.users.follow(BOB, ALICE)
    tweets = [w.tweets.post(ALICE) for _ in range(3)]
    bus = bus_for(w)
    calls = {"n": 0}
    real = w.users.profiles

    async def flaky_profiles(user_ids: list[str]) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("users port down for a moment")
        return await real(user_ids)

    w.users.profiles = flaky_profiles
    await deliver(bus, *(w.posted(t, ALICE) for t in tweets))

    assert await w.stored(BOB) == tweets[::-1]
    # The batch, then the first event alone (it learns ALICE's count, which the others reuse).
    assert calls["n"] == 2


@pytest.fixture
async def sql_store(storage: Storage) -> AsyncIterator[ModuleStore]:
    """The timeline module's store on SQLite or PostgreSQL (Redis trims in the write: nothing to test)."""
    url, schema = (await storage.migrated(["timeline"]))["timeline"]
    store = ModuleStore("timeline", url, schema=schema)
    yield store
    await store.dispose()


async def test_sql_trims_off_the_write_path_within_the_slack(sql_store: ModuleStore) -> None:
    home = SqlHomeTimelines(sql_store, 10, trim_interval_s=0.02, trim_slack=4)
    user = 77

    async def size() -> int:
        return len(await home.tweet_ids(user))

    await home.add([(user, i, 1) for i in range(1, 13)])  # 12: never trimmed here, so due at once
    assert await size() == 12
    assert await home.trim_pending() == 1
    assert sorted(await home.tweet_ids(user)) == list(range(3, 13))

    await home.add([(user, i, 1) for i in range(13, 16)])  # 3 more: within the slack of 4
    assert await home.trim_pending() == 0
    assert await size() == 13
    await home.add([(user, 16, 1)])  # the 4th: over the slack
    assert await home.trim_pending() == 1
    assert sorted(await home.tweet_ids(user)) == list(range(7, 17))

    await home.add([(user, 17, 1)])
    await settle(home)  # everything written to, exactly
    assert sorted(await home.tweet_ids(user)) == list(range(8, 18))

    job = asyncio.create_task(home.maintain())
    try:
        await home.add([(user, i, 1) for i in range(18, 24)])
        for _ in range(200):
            if await size() == 10:
                break
            await asyncio.sleep(0.01)
        assert sorted(await home.tweet_ids(user)) == list(range(14, 24))
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
