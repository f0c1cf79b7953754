"""TimelineService against real stores, with fakes for the users and tweets ports.

Every test runs against each home timeline store: SQL rows on SQLite, SQL rows on PostgreSQL,
and Redis sorted sets (the module's outbox and inbox then stay on SQLite).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from timeline_fakes import FakeTweets, FakeUsers, settle

from boundaries._kernel.events import Event
from boundaries._kernel.pagination import PageRequest
from boundaries.timeline.errors import InvalidCursor
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetPosted
from boundaries.tweets.port import TweetsPort
from boundaries.users.events import UserFollowed, UserUnfollowed
from boundaries.users.port import UsersPort
from modules.timeline.consumer import TimelineConsumer
from modules.timeline.home import COMPLETE, RedisHomeTimelines, SqlHomeTimelines
from modules.timeline.service import TimelineService
from modules.timeline.tables import home_timeline
from tests.support.consumers import apply
from tests.support.databases import SchemaPool
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate
from twitterclone.settings import Settings

#: Where home timelines are kept in a test: (home store, SQL database).
HOME_STORES = ["sql-sqlite", "sql-postgresql", "redis"]

ALICE, BOB, CAROL, DAVE, STAR = "1001", "1002", "1003", "1004", "1005"


@dataclass
class World:
    service: TimelineService
    users: FakeUsers
    tweets: FakeTweets
    store: ModuleStore
    ids: IdGenerator
    kind: str

    @property
    def redis(self) -> RedisHomeTimelines | None:
        home = self.service.home
        return home if isinstance(home, RedisHomeTimelines) else None

    async def deliver(self, event: Event) -> None:
        """Apply one event through the module's subscriptions, as the kernel does."""
        await apply(TimelineConsumer(self.service).subscriptions(), event)

    async def stored(self, user_id: str) -> list[str]:
        """The user's stored home timeline, newest first (what fan-out wrote)."""
        return [str(t) for t in sorted(await self.service.home.tweet_ids(int(user_id)), reverse=True)]

    async def sizes(self, user_ids: list[str]) -> dict[str, int]:
        """How many entries each of these users' stored timelines holds (absent: none)."""
        if self.redis is not None:
            pipe = self.redis.redis.pipeline(transaction=False)
            for u in user_ids:
                pipe.zcard(self.redis.key(int(u)))
                pipe.zscore(self.redis.key(int(u)), COMPLETE)
            found = await pipe.execute()
            counts = {u: int(found[2 * i]) - (found[2 * i + 1] is not None) for i, u in enumerate(user_ids)}
            return {u: c for u, c in counts.items() if c}
        async with self.store.read() as conn:
            rows = await conn.execute(
                sa.select(home_timeline.c.user_id, sa.func.count())
                .where(home_timeline.c.user_id.in_([int(u) for u in user_ids]))
                .group_by(home_timeline.c.user_id)
            )
            return {str(u): int(c) for u, c in rows.all()}

    async def row_count(self) -> int:
        """Entries in every stored timeline."""
        if self.redis is not None:
            keys = [k async for k in self.redis.redis.scan_iter(match=f"{self.redis.prefix}*")]
            return sum((await self.sizes([k.decode().rsplit(":", 1)[1] for k in keys])).values())
        async with self.store.read() as conn:
            return int(
                (await conn.execute(sa.select(sa.func.count()).select_from(home_timeline))).scalar_one()
            )

    def posted(self, tweet_id: str, author_id: str, *, ago_s: float = 0.0) -> TweetPosted:
        at = datetime.now(UTC) - timedelta(seconds=ago_s)
        return TweetPosted(
            event_id=self.ids.next(),
            occurred_at=at,
            tweet_id=tweet_id,
            author_id=author_id,
            created_at=at,
            text="hello",
            conversation_id=tweet_id,
        )

    async def post(self, author_id: str) -> str:
        """A tweet exists in the tweets fake and its TweetPosted was handled."""
        tweet_id = self.tweets.post(author_id)
        await self.deliver(self.posted(tweet_id, author_id))
        return tweet_id

    def followed(self, follower: str, followee: str) -> UserFollowed:
        return UserFollowed(
            event_id=self.ids.next(),
            occurred_at=datetime.now(UTC),
            follower_id=follower,
            followee_id=followee,
        )

    def unfollowed(self, follower: str, followee: str) -> UserUnfollowed:
        return UserUnfollowed(
            event_id=self.ids.next(),
            occurred_at=datetime.now(UTC),
            follower_id=follower,
            followee_id=followee,
        )

    async def home_ids(self, user_id: str, limit: int = 100, cursor: str | None = None) -> list[str]:
        page = await self.service.home_timeline(user_id, PageRequest(limit=limit, cursor=cursor))
        return [t.id for t in page.items]


MakeWorld = Callable[..., Awaitable[World]]


@pytest.fixture(params=HOME_STORES)
async def make_world(
    request: pytest.FixtureRequest, tmp_path: Path, redis_prefix: tuple[Redis, str]
) -> AsyncIterator[MakeWorld]:
    kind: str = request.param
    stores: list[ModuleStore] = []
    taken: list[dict[str, str]] = []
    pool: SchemaPool | None = request.getfixturevalue("schema_pool") if kind == "sql-postgresql" else None
    redis, prefix = redis_prefix if kind == "redis" else (None, "")

    async def make(**settings: Any) -> World:
        if pool is not None:
            schemas = await pool.acquire(("timeline",))
            taken.append(schemas)
            store = ModuleStore("timeline", pool.url, schema=schemas["timeline"])
        else:
            store = ModuleStore("timeline", sqlite_url(tmp_path / f"data{len(stores)}", "timeline"))
            await migrate(store)
        stores.append(store)
        ids = IdGenerator(7)
        users, tweets = FakeUsers(), FakeTweets(ids)
        app_settings = Settings(**settings)
        home = (
            RedisHomeTimelines(redis, f"{prefix}{len(stores)}:", app_settings.home_timeline_size)
            if redis is not None
            else SqlHomeTimelines(store, app_settings.home_timeline_size)
        )
        service = TimelineService(
            store, ids, app_settings, cast(UsersPort, users), cast(TweetsPort, tweets), home=home
        )
        return World(service, users, tweets, store, ids, kind)

    yield make
    for store in stores:
        await store.dispose()
    if pool is not None:
        for schemas in taken:
            pool.release(schemas)


@pytest.fixture
async def world(make_world: MakeWorld) -> World:
    return await make_world()


# --- fan-out on write -----------------------------------------------------------------------------


async def test_fan_out_writes_to_the_author_and_every_follower(world: World) -> None:
    world.users.follow(BOB, ALICE)
    world.users.follow(CAROL, ALICE)
    world.users.add(DAVE)

    tweet = await world.post(ALICE)

    assert await world.stored(ALICE) == [tweet]
    assert await world.stored(BOB) == [tweet]
    assert await world.stored(CAROL) == [tweet]
    assert await world.stored(DAVE) == []
    assert await world.home_ids(BOB) == [tweet]


async def test_a_small_authors_fan_out_commits_with_its_inbox_record(world: World) -> None:
    """Timelines in the module's store: the entries are written in the transaction that records
    the event in the inbox (one commit), so a failed commit leaves neither; Redis timelines are
    written before it (idempotently: a redelivery writes them again)."""
    world.users.follow(BOB, ALICE)
    first = await world.post(ALICE)  # the module learns Alice's follower count (its own write)
    tweet = world.tweets.post(ALICE)
    event = world.posted(tweet, ALICE)
    open_transaction = world.store.transaction
    opened = 0
    fail = True

    @asynccontextmanager
    async def counted() -> AsyncIterator[Any]:
        nonlocal opened
        opened += 1
        async with open_transaction() as tx:
            yield tx
            if fail:
                raise RuntimeError("the commit failed")

    world.store.transaction = counted  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await world.deliver(event)
    assert opened == 1  # nothing else in the store before the inbox's transaction
    assert await world.stored(BOB) == ([first] if world.service.home.transactional else [tweet, first])
    async with world.store.read() as conn:
        recorded = await conn.execute(sa.select(world.store.inbox.c.event_id))
        assert event.event_id not in {r[0] for r in recorded}

    fail, opened = False, 0
    await world.deliver(event)  # delivered again
    assert opened == 1
    assert await world.stored(BOB) == [tweet, first]
    assert await world.stored(ALICE) == [tweet, first]


async def test_fan_out_pages_followers_5000_at_a_time(world: World) -> None:
    followers = [str(10_000 + i) for i in range(6001)]
    for f in followers:
        world.users.follow(f, ALICE)

    tweet = await world.post(ALICE)

    assert [(c, limit) for _, c, limit in world.users.follower_pages] == [(None, 5000), ("5000", 5000)]
    assert await world.row_count() == 6002  # every follower and the author
    assert await world.stored(followers[-1]) == [tweet]


async def test_retweet_goes_to_the_retweeters_followers(world: World) -> None:
    world.users.follow(CAROL, BOB)
    world.users.add(ALICE)
    original = world.tweets.post(ALICE)
    retweet = world.tweets.retweet(BOB, original)

    await world.deliver(
        Retweeted(
            event_id=world.ids.next(),
            occurred_at=datetime.now(UTC),
            retweet_id=retweet,
            tweet_id=original,
            author_id=ALICE,
            user_id=BOB,
            created_at=datetime.now(UTC),
        )
    )

    assert await world.stored(CAROL) == [retweet]
    page = await world.service.home_timeline(CAROL, PageRequest())
    assert [(t.id, t.retweet_of_id) for t in page.items] == [(retweet, original)]


async def test_unknown_author_is_skipped_without_error(world: World) -> None:
    await world.deliver(world.posted(world.ids.next(), "999"))
    assert await world.row_count() == 0


async def test_fan_out_lag_is_recorded(world: World) -> None:
    world.users.follow(BOB, ALICE)
    name = "twitterclone_fanout_lag_seconds"
    count_before = REGISTRY.get_sample_value(f"{name}_count") or 0.0
    sum_before = REGISTRY.get_sample_value(f"{name}_sum") or 0.0

    await world.deliver(world.posted(world.tweets.post(ALICE), ALICE, ago_s=2.0))

    assert REGISTRY.get_sample_value(f"{name}_count") == count_before + 1
    assert (REGISTRY.get_sample_value(f"{name}_sum") or 0.0) - sum_before >= 2.0


# --- hybrid: popular authors merged at read time ----------------------------------------------------


async def test_popular_author_is_not_fanned_out_but_merged_at_read(make_world: MakeWorld) -> None:
    world = await make_world(fanout_follower_threshold=3)
    for fan in (BOB, CAROL, DAVE):
        world.users.follow(fan, STAR)
    world.users.follow(BOB, ALICE)

    early = await world.post(ALICE)
    star_tweet = await world.post(STAR)
    late = await world.post(ALICE)

    assert await world.stored(STAR) == [star_tweet]  # the author still sees their own tweet
    assert star_tweet not in await world.stored(BOB)
    assert world.users.calls["follower_ids"] == 2  # only ALICE's two tweets were fanned out
    assert await world.home_ids(BOB) == [late, star_tweet, early]
    assert await world.home_ids(CAROL) == [star_tweet]


async def test_hybrid_merge_respects_the_cursor(make_world: MakeWorld) -> None:
    world = await make_world(fanout_follower_threshold=2)
    world.users.follow(BOB, STAR)
    world.users.follow(CAROL, STAR)
    world.users.follow(BOB, ALICE)
    posted = []
    for author in (ALICE, STAR, ALICE, STAR, ALICE):
        posted.append(await world.post(author))
    newest_first = posted[::-1]

    first = await world.service.home_timeline(BOB, PageRequest(limit=2))
    second = await world.service.home_timeline(BOB, PageRequest(limit=2, cursor=first.next_cursor))
    third = await world.service.home_timeline(BOB, PageRequest(limit=2, cursor=second.next_cursor))

    assert [t.id for t in first.items] == newest_first[:2]
    assert [t.id for t in second.items] == newest_first[2:4]
    assert [t.id for t in third.items] == newest_first[4:]
    assert third.next_cursor is None


# --- the cap ----------------------------------------------------------------------------------------


async def test_home_timeline_keeps_only_the_newest_800(world: World) -> None:
    world.users.follow(BOB, ALICE)
    # 797 older entries (ids 1..797), then five new tweets arrive through fan-out.
    await world.service.home.add([(int(BOB), i, 1) for i in range(1, 798)])
    posted = [await world.post(ALICE) for _ in range(5)]
    await settle(world.service.home)  # the SQL store trims off the fan-out's path

    stored = await world.stored(BOB)
    assert len(stored) == 800
    assert stored[:5] == posted[::-1]
    assert stored[-1] == "3"  # ids 1 and 2, the oldest, went
    page = await world.service.home_timeline(BOB, PageRequest(limit=100))
    assert len(page.items) == 5  # the old ids are not real tweets: hydration drops them


async def test_cap_holds_after_a_back_fill_too(make_world: MakeWorld) -> None:
    world = await make_world(home_timeline_size=3)
    alice = [world.tweets.post(ALICE) for _ in range(5)]
    world.users.follow(BOB, CAROL)
    carol = await world.post(CAROL)  # newer than all of ALICE's

    world.users.follow(BOB, ALICE)
    await world.deliver(world.followed(BOB, ALICE))
    await settle(world.service.home)

    assert await world.stored(BOB) == [carol, alice[4], alice[3]]


async def test_fan_out_to_1000_full_timelines_trims_each_to_the_cap(world: World) -> None:
    followers = [str(20_000 + i) for i in range(1000)]
    for f in followers:
        world.users.follow(f, ALICE)
    # Every follower's timeline is already full: 800 older entries (ids 1..800) from someone else.
    await fill_1000_timelines(world)

    started = time.perf_counter()
    tweet = await world.post(ALICE)
    elapsed = time.perf_counter() - started
    await settle(world.service.home)
    trimmed = time.perf_counter() - started - elapsed
    print(
        f"\nfan-out to 1000 followers with full timelines: {elapsed * 1000:.0f} ms, "
        f"then trimming them: {trimmed * 1000:.0f} ms"
    )

    sizes = await world.sizes(followers)
    assert set(sizes.values()) == {800}
    assert len(sizes) == 1000
    assert (await world.stored(followers[500]))[:1] == [tweet]
    assert (await world.stored(followers[500]))[-1] == "2"  # the oldest entry (id 1) was trimmed


# --- deletes and follows ----------------------------------------------------------------------------


async def test_deleted_tweet_leaves_every_timeline(world: World) -> None:
    world.users.follow(BOB, ALICE)
    world.users.follow(CAROL, ALICE)
    keep = await world.post(ALICE)
    gone = await world.post(ALICE)
    world.tweets.remove(gone)

    deleted = TweetDeleted(
        event_id=world.ids.next(), occurred_at=datetime.now(UTC), tweet_id=gone, author_id=ALICE
    )
    await world.deliver(deleted)

    for user in (ALICE, BOB, CAROL):
        assert await world.stored(user) == [keep]


async def test_follow_back_fills_and_unfollow_removes(world: World) -> None:
    world.users.follow(BOB, CAROL)
    carol_tweet = await world.post(CAROL)
    alice_tweets = [world.tweets.post(ALICE) for _ in range(60)]  # posted before BOB followed

    world.users.follow(BOB, ALICE)
    await world.deliver(world.followed(BOB, ALICE))

    stored = await world.stored(BOB)
    assert stored[:50] == alice_tweets[::-1][:50]  # the 50 newest of ALICE
    assert stored[50:] == [carol_tweet]

    world.users.unfollow(BOB, ALICE)
    await world.deliver(world.unfollowed(BOB, ALICE))

    assert await world.stored(BOB) == [carol_tweet]
    assert await world.home_ids(BOB) == [carol_tweet]


async def test_redelivered_events_change_nothing(world: World) -> None:
    world.users.follow(BOB, ALICE)
    world.users.follow(CAROL, ALICE)
    tweet = world.tweets.post(ALICE)
    posted = world.posted(tweet, ALICE)
    await world.deliver(posted)
    await world.deliver(posted)
    assert await world.row_count() == 3
    assert await world.stored(BOB) == [tweet]

    # A follow redelivered after the unfollow must not bring the tweets back.
    dave_tweet = world.tweets.post(DAVE)
    followed = world.followed(BOB, DAVE)
    await world.deliver(followed)
    unfollowed = world.unfollowed(BOB, DAVE)
    await world.deliver(unfollowed)
    await world.deliver(followed)
    assert dave_tweet not in await world.stored(BOB)

    # An unfollow redelivered after a re-follow must not remove the back-filled tweets.
    refollowed = world.followed(BOB, DAVE)
    await world.deliver(refollowed)
    await world.deliver(unfollowed)
    assert await world.stored(BOB) == [dave_tweet, tweet]

    deleted = TweetDeleted(
        event_id=world.ids.next(), occurred_at=datetime.now(UTC), tweet_id=tweet, author_id=ALICE
    )
    await world.deliver(deleted)
    await world.deliver(deleted)
    assert await world.stored(BOB) == [dave_tweet]
    assert await world.stored(CAROL) == []


# --- reads ------------------------------------------------------------------------------------------


async def test_pages_hydrate_with_one_get_many_call_each(world: World) -> None:
    world.users.follow(BOB, ALICE)
    posted = [await world.post(ALICE) for _ in range(5)]
    newest_first = posted[::-1]

    first = await world.service.home_timeline(BOB, PageRequest(limit=3))
    second = await world.service.home_timeline(BOB, PageRequest(limit=3, cursor=first.next_cursor))

    assert [t.id for t in first.items] == newest_first[:3]
    assert first.next_cursor is not None
    assert [t.id for t in second.items] == newest_first[3:]  # strictly older than the cursor
    assert second.next_cursor is None
    assert world.tweets.get_many_calls == [newest_first[:3], newest_first[3:]]


async def test_tweets_gone_at_hydration_drop_out_of_the_page(world: World) -> None:
    world.users.follow(BOB, ALICE)
    a, b = await world.post(ALICE), await world.post(ALICE)
    world.tweets.remove(b)  # deleted, cleanup not yet applied
    assert await world.home_ids(BOB) == [a]


async def test_a_bad_cursor_is_refused(world: World) -> None:
    with pytest.raises(InvalidCursor):
        await world.service.home_timeline(BOB, PageRequest(cursor="not-a-cursor"))


async def test_empty_timeline_of_someone_who_follows_is_rebuilt_on_read(world: World) -> None:
    alice_tweets = [world.tweets.post(ALICE) for _ in range(3)]  # events never reached timeline
    own = world.tweets.post(BOB)
    world.users.follow(BOB, ALICE)

    assert await world.home_ids(BOB) == [own, *alice_tweets[::-1]]
    assert await world.stored(BOB) == [own, *alice_tweets[::-1]]


async def test_empty_timeline_of_someone_who_follows_nobody_stays_empty(world: World) -> None:
    world.users.add(DAVE)
    world.tweets.post(ALICE)
    for _ in range(2):
        page = await world.service.home_timeline(DAVE, PageRequest())
        assert page.items == []
        assert page.next_cursor is None
    # SQL rows are never lost: nothing to ask. Redis may have lost DAVE's own tweets: it asks
    # once, then knows the timeline is complete.
    expected = [([DAVE], 800)] if world.kind == "redis" else []
    assert world.tweets.recent_refs_calls == expected
    assert world.tweets.get_many_calls == []


async def test_rebuild_replaces_the_stored_timeline(world: World) -> None:
    world.users.follow(BOB, ALICE)
    world.users.follow(BOB, CAROL)
    alice_tweet = await world.post(ALICE)
    carol_tweet = await world.post(CAROL)
    # The follow graph changed without the timeline hearing of it, and a tweet is gone.
    world.users.unfollow(BOB, CAROL)
    world.tweets.remove(alice_tweet)
    newer = world.tweets.post(ALICE)

    result = await world.service.rebuild(BOB)

    assert result.entries == 1
    assert await world.stored(BOB) == [newer]
    assert carol_tweet not in await world.stored(BOB)


async def test_user_timeline_is_one_call_to_the_tweets_port(world: World) -> None:
    posted = [world.tweets.post(ALICE) for _ in range(3)]
    page = await world.service.user_timeline(ALICE, BOB, PageRequest(limit=2))
    assert [t.id for t in page.items] == posted[::-1][:2]
    assert world.tweets.user_tweets_calls == [(ALICE, BOB, PageRequest(limit=2))]


async def fill_1000_timelines(world: World) -> None:
    """Users 20000..20999 each hold tweet ids 1..800 (author 1), written in bulk."""
    if world.redis is not None:
        pipe = world.redis.redis.pipeline(transaction=False)
        for f in range(20_000, 21_000):
            pipe.zadd(world.redis.key(f), {f"{t:020d}:1": 0 for t in range(1, 801)})
        await pipe.execute()
        return
    # (Secondary indexes are rebuilt after the bulk insert: only to make this setup fast.)
    async with world.store.transaction() as tx:
        for index in home_timeline.indexes:
            await tx.conn.execute(sa.schema.DropIndex(index))
        if world.store.is_sqlite:
            await tx.conn.exec_driver_sql(
                "CREATE TEMP TABLE n AS WITH RECURSIVE s(i) AS "
                "(SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000) SELECT i FROM s"
            )
            await tx.conn.exec_driver_sql(
                "INSERT INTO home_timeline (user_id, tweet_id, author_id) "
                "SELECT 20000 + f.i - 1, t.i, 1 FROM n AS f, n AS t WHERE t.i <= 800 ORDER BY f.i, t.i"
            )
        else:
            await tx.conn.execute(
                home_timeline.insert().from_select(
                    ["user_id", "tweet_id", "author_id"],
                    sa.select(
                        sa.literal_column("f") + 20_000, sa.literal_column("t"), sa.literal(1, sa.BigInteger)
                    ).select_from(
                        sa.func.generate_series(0, 999).alias("f"), sa.func.generate_series(1, 800).alias("t")
                    ),
                )
            )
        for index in home_timeline.indexes:
            await tx.conn.execute(sa.schema.CreateIndex(index))


# --- impressions ------------------------------------------------------------------------------------


async def outbox_events(store: ModuleStore) -> list[tuple[str, bytes]]:
    async with store.read() as conn:
        rows = await conn.execute(sa.select(store.outbox.c.event_type, store.outbox.c.payload))
        return [(r[0], r[1]) for r in rows]


async def test_impressions_are_buffered_and_written_in_one_batch(world: World) -> None:
    import msgspec

    from boundaries.timeline.events import TimelineServed

    world.users.follow(BOB, ALICE)
    world.users.follow(CAROL, ALICE)
    a, b = await world.post(ALICE), await world.post(ALICE)

    await world.home_ids(BOB)
    await world.home_ids(BOB)
    await world.home_ids(CAROL, limit=1)
    assert await outbox_events(world.store) == []  # reads never write

    assert await world.service.impressions.flush() == 3
    events = [msgspec.json.decode(p, type=TimelineServed) for _, p in await outbox_events(world.store)]
    # One event for the whole batch: bob saw b and a (twice, counted once), carol saw b.
    assert len(events) == 1
    assert sorted(events[0].impressions()) == sorted([(b, 2), (a, 1)])

    assert await world.service.impressions.flush() == 0  # nothing new, nothing written
    assert len(await outbox_events(world.store)) == 1


async def test_consumer_subscribes_every_event_and_runs_the_flush_job(world: World) -> None:
    consumer = TimelineConsumer(world.service)
    subs = {(s.event_type.__name__, s.consumer) for s in consumer.subscriptions()}
    assert subs == {
        ("TweetPosted", "timeline.fan_out"),
        ("Retweeted", "timeline.fan_out"),
        ("TweetDeleted", "timeline.cleanup"),
        ("UserFollowed", "timeline.follow"),
        ("UserUnfollowed", "timeline.follow"),
    }
    # The impressions flush, the home store's trims, the popular authors' back-fill, and the live
    # streams' wake-ups from other replicas.
    assert len(consumer.background_jobs()) == 4
