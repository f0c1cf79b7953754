"""The analytics service against a real SQLite store, fed constructed events, on a fixed clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.events import Event
from boundaries.analytics.errors import NotStatsOwner, StatsNotFound
from boundaries.timeline.events import TimelineServed
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted, TweetUnliked
from boundaries.users.events import UserFollowed
from modules.analytics.consumer import AnalyticsConsumer
from modules.analytics.service import AnalyticsService
from tests.support.consumers import apply
from tests.support.databases import Storage
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore

ALICE, BOB, CAROL = "2001", "2002", "2003"
IDS = IdGenerator(9)
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


async def feed(service: AnalyticsService, event: Event, *, name: str | None = None) -> None:
    """Deliver one event as the kernel does (to the consumer ``name``d, or every one)."""
    await apply(AnalyticsConsumer(service).subscriptions(), event, name=name)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at.timestamp()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def service(storage: Storage, clock: Clock) -> AsyncIterator[AnalyticsService]:
    url, schema = (await storage.migrated(["analytics"]))["analytics"]  # SQLite file or PostgreSQL schema
    store = ModuleStore("analytics", url, schema=schema)
    yield AnalyticsService(store, clock=clock)
    await store.dispose()


def posted(
    author: str,
    *,
    at: datetime = NOW,
    hashtags: list[str] | None = None,
    reply_to: tuple[str, str] | None = None,
    visibility: str = "public",
) -> TweetPosted:
    tweet_id = IDS.next()
    return TweetPosted(
        event_id=IDS.next(),
        occurred_at=at,
        tweet_id=tweet_id,
        author_id=author,
        created_at=at,
        text="hi",
        conversation_id=reply_to[0] if reply_to else tweet_id,
        reply_to_id=reply_to[0] if reply_to else None,
        reply_to_author_id=reply_to[1] if reply_to else None,
        hashtags=hashtags or [],
        visibility=visibility,
    )


def liked(user: str, tweet: TweetPosted, *, at: datetime = NOW) -> TweetLiked:
    return TweetLiked(
        event_id=IDS.next(), occurred_at=at, tweet_id=tweet.tweet_id, author_id=tweet.author_id, user_id=user
    )


def unliked(user: str, tweet: TweetPosted, *, at: datetime = NOW) -> TweetUnliked:
    return TweetUnliked(
        event_id=IDS.next(), occurred_at=at, tweet_id=tweet.tweet_id, author_id=tweet.author_id, user_id=user
    )


def retweeted(user: str, tweet: TweetPosted) -> Retweeted:
    return Retweeted(
        event_id=IDS.next(),
        occurred_at=NOW,
        retweet_id=IDS.next(),
        tweet_id=tweet.tweet_id,
        author_id=tweet.author_id,
        user_id=user,
        created_at=NOW,
    )


def served(viewer: str, *tweets: TweetPosted, at: datetime = NOW) -> TimelineServed:
    # One read by ``viewer``: each tweet shown once. The event names no viewer (impressions are
    # counted, not attributed); the timeline module sums many reads into one event.
    return TimelineServed(
        event_id=IDS.next(), occurred_at=at, tweet_ids=[t.tweet_id for t in tweets], counts=[1] * len(tweets)
    )


async def test_tweet_counters_follow_engagement(service: AnalyticsService) -> None:
    tweet = posted(ALICE)
    await feed(service, tweet, name="counters")
    await feed(service, liked(BOB, tweet))
    await feed(service, liked(CAROL, tweet))
    await feed(service, unliked(CAROL, tweet))
    await feed(service, retweeted(BOB, tweet))
    await feed(service, posted(BOB, reply_to=(tweet.tweet_id, ALICE)), name="counters")
    await feed(service, served(BOB, tweet))
    await feed(service, served(CAROL, tweet))

    stats = await service.tweet_stats(ALICE, tweet.tweet_id)
    assert (stats.impressions, stats.likes, stats.retweets, stats.replies) == (2, 1, 1, 1)


async def test_a_batch_summed_over_viewers_counts_every_viewer(service: AnalyticsService) -> None:
    first, second = posted(ALICE), posted(ALICE)
    await feed(service, first, name="counters")
    await feed(service, second, name="counters")
    batch = TimelineServed(
        event_id=IDS.next(), occurred_at=NOW, tweet_ids=[first.tweet_id, second.tweet_id], counts=[3, 1]
    )
    await feed(service, batch)
    await feed(service, batch)  # a redelivery counts nothing twice

    assert (await service.tweet_stats(ALICE, first.tweet_id)).impressions == 3
    assert (await service.tweet_stats(ALICE, second.tweet_id)).impressions == 1
    assert (await service.user_stats(ALICE, 1)).days[-1].impressions == 4


async def test_only_the_author_sees_tweet_stats(service: AnalyticsService) -> None:
    tweet = posted(ALICE)
    await feed(service, tweet, name="counters")
    with pytest.raises(NotStatsOwner):
        await service.tweet_stats(BOB, tweet.tweet_id)
    with pytest.raises(StatsNotFound):
        await service.tweet_stats(ALICE, IDS.next())
    with pytest.raises(StatsNotFound):
        await service.tweet_stats(ALICE, "nope")


async def test_impressions_before_the_tweet_is_known_still_count(service: AnalyticsService) -> None:
    tweet = posted(ALICE)
    await feed(service, served(BOB, tweet))
    with pytest.raises(StatsNotFound):  # the author is not known yet
        await service.tweet_stats(ALICE, tweet.tweet_id)
    await feed(service, tweet, name="counters")
    assert (await service.tweet_stats(ALICE, tweet.tweet_id)).impressions == 1


async def test_deleted_tweet_has_no_stats(service: AnalyticsService) -> None:
    tweet = posted(ALICE)
    await feed(service, tweet, name="counters")
    await feed(
        service, TweetDeleted(event_id=IDS.next(), occurred_at=NOW, tweet_id=tweet.tweet_id, author_id=ALICE)
    )
    with pytest.raises(StatsNotFound):
        await service.tweet_stats(ALICE, tweet.tweet_id)


async def test_user_stats_by_utc_day_oldest_first_with_zero_days(service: AnalyticsService) -> None:
    yesterday = NOW - timedelta(days=1)
    old = posted(ALICE, at=yesterday)
    await feed(service, old, name="counters")
    await feed(service, liked(BOB, old, at=yesterday))
    new = posted(ALICE)
    await feed(service, new, name="counters")
    await feed(service, posted(BOB, reply_to=(new.tweet_id, ALICE)), name="counters")
    await feed(service, retweeted(CAROL, new))
    await feed(service, served(BOB, old, new))
    await feed(service, served(CAROL, new))
    await feed(
        service, UserFollowed(event_id=IDS.next(), occurred_at=NOW, follower_id=BOB, followee_id=ALICE)
    )

    stats = await service.user_stats(ALICE, 3)
    assert [d.day for d in stats.days] == [date(2025, 6, 13), date(2025, 6, 14), date(2025, 6, 15)]
    first, second, today = stats.days
    assert (first.tweets, first.likes, first.impressions) == (0, 0, 0)
    assert (second.tweets, second.likes) == (1, 1)
    assert (today.tweets, today.impressions, today.replies, today.retweets, today.new_followers) == (
        1,
        3,
        1,
        1,
        1,
    )
    # Bob's own stats count his reply as a tweet, and nothing he received.
    bob_today = (await service.user_stats(BOB, 1)).days[0]
    assert (bob_today.tweets, bob_today.replies, bob_today.new_followers) == (1, 0, 0)


async def test_user_stats_days_bounds(service: AnalyticsService) -> None:
    assert len((await service.user_stats(ALICE, 90)).days) == 90
    for bad in (0, 91):
        with pytest.raises(InvalidInput):
            await service.user_stats(ALICE, bad)


async def test_trends_rank_by_decayed_counts(service: AnalyticsService) -> None:
    # #old: 3 tweets 50 minutes ago; #new: 2 tweets just now. Decay puts #new first in 1h.
    for _ in range(3):
        await feed(service, posted(ALICE, at=NOW - timedelta(minutes=50), hashtags=["old"]), name="trends")
    for _ in range(2):
        await feed(service, posted(BOB, hashtags=["New", "new"]), name="trends")
    # Outside the 1h window, inside 24h.
    await feed(service, posted(CAROL, at=NOW - timedelta(hours=5), hashtags=["yesterday"]), name="trends")

    hour = await service.trends("1h", 10)
    assert [(t.hashtag, t.tweets) for t in hour.trends] == [("new", 2), ("old", 3)]
    assert hour.trends[0].score > hour.trends[1].score
    assert hour.trends[1].score < 3  # decayed

    day = await service.trends("24h", 10)
    assert [t.hashtag for t in day.trends] == ["old", "new", "yesterday"]
    assert (await service.trends("24h", 1)).trends[0].hashtag == "old"


async def test_only_public_tweets_make_trends(service: AnalyticsService) -> None:
    for visibility in ("unlisted", "private", "direct"):
        await feed(service, posted(ALICE, hashtags=["hidden"], visibility=visibility), name="trends")
    await feed(service, posted(BOB, hashtags=["shown"]), name="trends")
    assert [t.hashtag for t in (await service.trends("1h", 10)).trends] == ["shown"]


async def test_trends_validation(service: AnalyticsService) -> None:
    with pytest.raises(InvalidInput):
        await service.trends("1h", 51)
    with pytest.raises(InvalidInput):
        await service.trends("7d", 10)  # type: ignore[arg-type]


async def test_old_buckets_fall_out_and_are_pruned(service: AnalyticsService, clock: Clock) -> None:
    await feed(service, posted(ALICE, hashtags=["python"]), name="trends")
    clock.at = NOW + timedelta(hours=2)
    assert (await service.trends("1h", 10)).trends == []
    assert [t.hashtag for t in (await service.trends("24h", 10)).trends] == ["python"]
    assert await service.prune() == 1  # the 1h bucket
    clock.at = NOW + timedelta(days=2)
    assert await service.prune() == 1  # the 24h bucket
    assert (await service.trends("24h", 10)).trends == []


async def test_a_run_of_events_counts_as_each_one_would(service: AnalyticsService) -> None:
    """One transaction for a run: the same hashtag, tweet or day several times in it still adds up."""
    first = posted(ALICE, hashtags=["python", "Python"])
    second = posted(BOB, hashtags=["python"])
    reply = posted(CAROL, hashtags=["python", "asyncio"], reply_to=(first.tweet_id, ALICE))
    subs = {(s.event_type, s.name): s for s in AnalyticsConsumer(service).subscriptions()}
    run = [first, second, reply]
    assert await subs[(TweetPosted, "trends")].apply(run) == run
    assert await subs[(TweetPosted, "counters")].apply(run) == run
    likes = [liked(BOB, first), liked(CAROL, first), liked(CAROL, second)]
    assert await subs[(TweetLiked, "counters")].apply(likes) == likes

    trends = {t.hashtag: t.tweets for t in (await service.trends("1h", 10)).trends}
    assert trends == {"python": 3, "asyncio": 1}
    stats = await service.tweet_stats(ALICE, first.tweet_id)
    assert (stats.likes, stats.replies) == (2, 1)
    [today] = (await service.user_stats(ALICE, 1)).days
    assert (today.tweets, today.likes, today.replies) == (1, 2, 1)


async def test_every_handler_is_idempotent(service: AnalyticsService) -> None:
    tweet = posted(ALICE, hashtags=["once"])
    events: list[tuple[str, Event]] = [
        ("counters", tweet),
        ("trends", tweet),
        ("counters", liked(BOB, tweet)),
        ("counters", retweeted(BOB, tweet)),
        ("counters", served(BOB, tweet)),
    ]
    for _ in range(3):
        for name, event in events:
            await feed(service, event, name=name)
    stats = await service.tweet_stats(ALICE, tweet.tweet_id)
    assert (stats.impressions, stats.likes, stats.retweets) == (1, 1, 1)
    assert (await service.trends("1h", 5)).trends[0].tweets == 1
    assert (await service.user_stats(ALICE, 1)).days[0].tweets == 1


async def test_consumer_names(service: AnalyticsService) -> None:
    subs = AnalyticsConsumer(service).subscriptions()
    pairs = {(s.event_type.__name__, s.consumer) for s in subs}
    assert ("TweetPosted", "analytics.counters") in pairs
    assert ("TweetPosted", "analytics.trends") in pairs
    assert {e for e, _ in pairs} == {
        "TweetPosted",
        "TweetLiked",
        "TweetUnliked",
        "Retweeted",
        "TweetDeleted",
        "UserFollowed",
        "TimelineServed",
    }
