"""The analytics service against a real SQLite store, fed constructed events, on a fixed clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from boundaries._kernel.errors import InvalidInput
from boundaries.analytics.errors import NotStatsOwner, StatsNotFound
from boundaries.timeline.events import TimelineServed
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted, TweetUnliked
from boundaries.users.events import UserFollowed
from modules.analytics.consumer import AnalyticsConsumer
from modules.analytics.service import AnalyticsService
from tests.support.databases import Storage
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore

ALICE, BOB, CAROL = "2001", "2002", "2003"
IDS = IdGenerator(9)
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


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
    return TimelineServed(
        event_id=IDS.next(), occurred_at=at, viewer_id=viewer, tweet_ids=[t.tweet_id for t in tweets]
    )


async def test_tweet_counters_follow_engagement(service: AnalyticsService) -> None:
    tweet = posted(ALICE)
    await service.on_tweet_posted(tweet)
    await service.on_tweet_liked(liked(BOB, tweet))
    await service.on_tweet_liked(liked(CAROL, tweet))
    await service.on_tweet_unliked(unliked(CAROL, tweet))
    await service.on_retweeted(retweeted(BOB, tweet))
    await service.on_tweet_posted(posted(BOB, reply_to=(tweet.tweet_id, ALICE)))
    await service.on_timeline_served(served(BOB, tweet))
    await service.on_timeline_served(served(CAROL, tweet))

    stats = await service.tweet_stats(ALICE, tweet.tweet_id)
    assert (stats.impressions, stats.likes, stats.retweets, stats.replies) == (2, 1, 1, 1)


async def test_a_batch_summed_over_viewers_counts_every_viewer(service: AnalyticsService) -> None:
    first, second = posted(ALICE), posted(ALICE)
    await service.on_tweet_posted(first)
    await service.on_tweet_posted(second)
    batch = TimelineServed(
        event_id=IDS.next(), occurred_at=NOW, tweet_ids=[first.tweet_id, second.tweet_id], counts=[3, 1]
    )
    await service.on_timeline_served(batch)
    await service.on_timeline_served(batch)  # a redelivery counts nothing twice

    assert (await service.tweet_stats(ALICE, first.tweet_id)).impressions == 3
    assert (await service.tweet_stats(ALICE, second.tweet_id)).impressions == 1
    assert (await service.user_stats(ALICE, 1)).days[-1].impressions == 4


async def test_only_the_author_sees_tweet_stats(service: AnalyticsService) -> None:
    tweet = posted(ALICE)
    await service.on_tweet_posted(tweet)
    with pytest.raises(NotStatsOwner):
        await service.tweet_stats(BOB, tweet.tweet_id)
    with pytest.raises(StatsNotFound):
        await service.tweet_stats(ALICE, IDS.next())
    with pytest.raises(StatsNotFound):
        await service.tweet_stats(ALICE, "nope")


async def test_impressions_before_the_tweet_is_known_still_count(service: AnalyticsService) -> None:
    tweet = posted(ALICE)
    await service.on_timeline_served(served(BOB, tweet))
    with pytest.raises(StatsNotFound):  # the author is not known yet
        await service.tweet_stats(ALICE, tweet.tweet_id)
    await service.on_tweet_posted(tweet)
    assert (await service.tweet_stats(ALICE, tweet.tweet_id)).impressions == 1


async def test_deleted_tweet_has_no_stats(service: AnalyticsService) -> None:
    tweet = posted(ALICE)
    await service.on_tweet_posted(tweet)
    await service.on_tweet_deleted(
        TweetDeleted(event_id=IDS.next(), occurred_at=NOW, tweet_id=tweet.tweet_id, author_id=ALICE)
    )
    with pytest.raises(StatsNotFound):
        await service.tweet_stats(ALICE, tweet.tweet_id)


async def test_user_stats_by_utc_day_oldest_first_with_zero_days(service: AnalyticsService) -> None:
    yesterday = NOW - timedelta(days=1)
    old = posted(ALICE, at=yesterday)
    await service.on_tweet_posted(old)
    await service.on_tweet_liked(liked(BOB, old, at=yesterday))
    new = posted(ALICE)
    await service.on_tweet_posted(new)
    await service.on_tweet_posted(posted(BOB, reply_to=(new.tweet_id, ALICE)))
    await service.on_retweeted(retweeted(CAROL, new))
    await service.on_timeline_served(served(BOB, old, new))
    await service.on_timeline_served(served(CAROL, new))
    await service.on_user_followed(
        UserFollowed(event_id=IDS.next(), occurred_at=NOW, follower_id=BOB, followee_id=ALICE)
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
        await service.on_tweet_posted_trends(posted(ALICE, at=NOW - timedelta(minutes=50), hashtags=["old"]))
    for _ in range(2):
        await service.on_tweet_posted_trends(posted(BOB, hashtags=["New", "new"]))
    # Outside the 1h window, inside 24h.
    await service.on_tweet_posted_trends(posted(CAROL, at=NOW - timedelta(hours=5), hashtags=["yesterday"]))

    hour = await service.trends("1h", 10)
    assert [(t.hashtag, t.tweets) for t in hour.trends] == [("new", 2), ("old", 3)]
    assert hour.trends[0].score > hour.trends[1].score
    assert hour.trends[1].score < 3  # decayed

    day = await service.trends("24h", 10)
    assert [t.hashtag for t in day.trends] == ["old", "new", "yesterday"]
    assert (await service.trends("24h", 1)).trends[0].hashtag == "old"


async def test_trends_validation(service: AnalyticsService) -> None:
    with pytest.raises(InvalidInput):
        await service.trends("1h", 51)
    with pytest.raises(InvalidInput):
        await service.trends("7d", 10)  # type: ignore[arg-type]


async def test_old_buckets_fall_out_and_are_pruned(service: AnalyticsService, clock: Clock) -> None:
    await service.on_tweet_posted_trends(posted(ALICE, hashtags=["python"]))
    clock.at = NOW + timedelta(hours=2)
    assert (await service.trends("1h", 10)).trends == []
    assert [t.hashtag for t in (await service.trends("24h", 10)).trends] == ["python"]
    assert await service.prune() == 1  # the 1h bucket
    clock.at = NOW + timedelta(days=2)
    assert await service.prune() == 1  # the 24h bucket
    assert (await service.trends("24h", 10)).trends == []


async def test_every_handler_is_idempotent(service: AnalyticsService) -> None:
    tweet = posted(ALICE, hashtags=["once"])
    events = [
        (service.on_tweet_posted, tweet),
        (service.on_tweet_posted_trends, tweet),
        (service.on_tweet_liked, liked(BOB, tweet)),
        (service.on_retweeted, retweeted(BOB, tweet)),
        (service.on_timeline_served, served(BOB, tweet)),
    ]
    for _ in range(3):
        for handler, event in events:
            await handler(event)  # type: ignore[operator]
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
