"""What only the Redis home timeline store has to get right: lost timelines, 64-bit order, wiring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest
from redis.asyncio import Redis
from timeline_fakes import FakeTweets, FakeUsers

from boundaries._kernel.pagination import PageRequest
from boundaries.tweets.events import TweetPosted
from boundaries.tweets.port import TweetsPort
from boundaries.users.port import UsersPort
from modules.timeline.consumer import TimelineConsumer
from modules.timeline.home import RedisHomeTimelines, SqlHomeTimelines
from modules.timeline.provider import home_store
from modules.timeline.service import TimelineService
from tests.support.consumers import apply
from tests.support.databases import redis_url
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.kernel import Kernel
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate
from twitterclone.settings import Settings

ALICE, BOB = "1001", "1002"


@dataclass
class World:
    service: TimelineService
    home: RedisHomeTimelines
    users: FakeUsers
    tweets: FakeTweets
    ids: IdGenerator

    async def post(self, author: str) -> str:
        tweet_id = self.tweets.post(author)
        now = datetime.now(UTC)
        await apply(
            TimelineConsumer(self.service).subscriptions(),
            TweetPosted(
                event_id=self.ids.next(),
                occurred_at=now,
                tweet_id=tweet_id,
                author_id=author,
                created_at=now,
                text="hi",
                conversation_id=tweet_id,
            ),
        )
        return tweet_id

    async def home_ids(self, user: str, limit: int = 100) -> list[str]:
        return [t.id for t in (await self.service.home_timeline(user, PageRequest(limit=limit))).items]

    async def lose(self, user: str) -> None:
        """What a FLUSH, an eviction or a new Redis does to one timeline."""
        await self.home.redis.delete(self.home.key(int(user)))


@pytest.fixture
async def world(tmp_path: Path, redis_prefix: tuple[Redis, str]) -> AsyncIterator[World]:
    redis, prefix = redis_prefix
    store = ModuleStore("timeline", sqlite_url(tmp_path, "timeline"))
    await migrate(store)
    ids = IdGenerator(9)
    users, tweets = FakeUsers(), FakeTweets(ids)
    home = RedisHomeTimelines(redis, prefix, 800)
    service = TimelineService(
        store, ids, Settings(), cast(UsersPort, users), cast(TweetsPort, tweets), home=home
    )
    yield World(service, home, users, tweets, ids)
    await store.dispose()


async def test_a_lost_timeline_is_rebuilt_on_read_with_own_tweets(world: World) -> None:
    world.users.add(BOB)
    world.users.follow(BOB, ALICE)
    alice = await world.post(ALICE)
    own = await world.post(BOB)
    assert await world.home_ids(BOB) == [own, alice]

    await world.lose(BOB)
    world.tweets.recent_refs_calls.clear()

    assert await world.home_ids(BOB) == [own, alice]
    assert len(world.tweets.recent_refs_calls) == 1
    assert await world.home_ids(BOB) == [own, alice]
    assert len(world.tweets.recent_refs_calls) == 1  # rebuilt once, then trusted


async def test_fan_out_into_a_lost_timeline_does_not_hide_its_history(world: World) -> None:
    world.users.follow(BOB, ALICE)
    older = [await world.post(ALICE) for _ in range(3)]
    assert await world.home_ids(BOB) == older[::-1]

    await world.lose(BOB)
    newest = await world.post(ALICE)  # fan-out writes the new tweet into the lost timeline

    assert await world.home_ids(BOB) == [newest, *older[::-1]]


async def test_order_and_cursor_are_exact_beyond_double_precision(world: World) -> None:
    # Snowflakes of one millisecond differ in the low bits only: a double score would tie them.
    base = 2**62 + 12_345
    assert float(base) == float(base + 1)
    entries = [(int(BOB), base + i, int(ALICE)) for i in range(5)]
    await world.home.fill(int(BOB), entries)

    seen: list[int] = []
    before: int | None = None
    while True:
        ids, complete = await world.home.page(int(BOB), before, 2)
        assert complete
        if not ids:
            break
        seen += ids
        before = ids[-1]
    assert seen == [base + i for i in reversed(range(5))]


async def test_cap_is_exact_and_the_complete_mark_survives_trimming(world: World) -> None:
    home = RedisHomeTimelines(world.home.redis, world.home.prefix + "cap:", 3)
    await home.fill(int(BOB), [(int(BOB), t, 1) for t in (10, 20, 30)])
    await home.add([(int(BOB), 40, 1), (int(BOB), 5, 1)])

    assert await home.tweet_ids(int(BOB)) == {40, 30, 20}
    ids, complete = await home.page(int(BOB), None, 10)
    assert (ids, complete) == ([40, 30, 20], True)
    assert await home.replace(int(BOB), [(int(BOB), 50, 1)], stale={20, 30}) == 2
    assert await home.page(int(BOB), None, 10) == ([50, 40], True)


async def test_unfollow_removes_only_that_authors_entries(world: World) -> None:
    await world.home.fill(int(BOB), [(int(BOB), 7, 1), (int(BOB), 8, 2), (int(BOB), 9, 12)])
    await world.home.remove_author(int(BOB), 1)
    assert await world.home.tweet_ids(int(BOB)) == {8, 9}


def kernel(tmp_path: Path, options: dict[str, str]) -> Kernel:
    return Kernel(
        Settings(data_dir=str(tmp_path)),
        {"timeline": (sqlite_url(tmp_path, "timeline"), None)},
        redis_url=redis_url(),
        key_prefix="tc:test:unused:",
        module_options={"timeline": options},
    )


async def test_the_manifest_option_chooses_the_store(tmp_path: Path) -> None:
    chosen = kernel(tmp_path, {"home_store": "redis"})
    default = kernel(tmp_path, {})
    wrong = kernel(tmp_path, {"home_store": "memcached"})
    try:
        redis_home = home_store(chosen, chosen.store("timeline"))
        assert isinstance(redis_home, RedisHomeTimelines)
        assert redis_home.key(42) == "tc:test:unused:home:42"
        assert isinstance(home_store(default, default.store("timeline")), SqlHomeTimelines)
        with pytest.raises(ValueError, match="home_store"):
            home_store(wrong, wrong.store("timeline"))
    finally:
        for k in (chosen, default, wrong):
            await k.dispose()
