"""What the AnalyticsPort promises, as port calls, under every storage and binding.

Counters are fed by delivering events to the module's consumer (``deliver``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from boundaries._kernel.errors import InvalidInput
from boundaries.analytics.errors import NotStatsOwner, StatsNotFound
from boundaries.analytics.port import AnalyticsPort
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted, TweetUnliked
from tests.support.wiring import Deliver
from twitterclone.infra.ids import IdGenerator

IDS = IdGenerator(22)
ANN, BEN = "5001", "5002"


def tweet(
    author: str, *hashtags: str, visibility: str = "public", reply_to: TweetPosted | None = None
) -> TweetPosted:
    now = datetime.now(UTC)
    tweet_id = IDS.next()
    return TweetPosted(
        event_id=IDS.next(),
        occurred_at=now,
        tweet_id=tweet_id,
        author_id=author,
        created_at=now,
        text="x",
        conversation_id=tweet_id,
        hashtags=list(hashtags),
        visibility=visibility,
        reply_to_id=reply_to.tweet_id if reply_to else None,
        reply_to_author_id=reply_to.author_id if reply_to else None,
    )


def liked(posted: TweetPosted, user: str) -> TweetLiked:
    return TweetLiked(
        event_id=IDS.next(),
        occurred_at=datetime.now(UTC),
        tweet_id=posted.tweet_id,
        author_id=posted.author_id,
        user_id=user,
    )


async def test_tweet_stats_for_the_author_only(analytics_port: AnalyticsPort, deliver: Deliver) -> None:
    posted = tweet(ANN)
    await deliver(posted)
    await deliver(
        TweetLiked(
            event_id=IDS.next(),
            occurred_at=datetime.now(UTC),
            tweet_id=posted.tweet_id,
            author_id=ANN,
            user_id=BEN,
        )
    )
    stats = await analytics_port.tweet_stats(ANN, posted.tweet_id)
    assert (stats.tweet_id, stats.likes, stats.impressions, stats.retweets, stats.replies) == (
        posted.tweet_id,
        1,
        0,
        0,
        0,
    )
    with pytest.raises(NotStatsOwner):
        await analytics_port.tweet_stats(BEN, posted.tweet_id)
    with pytest.raises(StatsNotFound):
        await analytics_port.tweet_stats(ANN, IDS.next())


async def test_user_stats_are_oldest_first_and_zero_filled(
    analytics_port: AnalyticsPort, deliver: Deliver
) -> None:
    await deliver(tweet(ANN))
    stats = await analytics_port.user_stats(ANN, 7)
    assert stats.user_id == ANN
    days = [d.day for d in stats.days]
    assert days == sorted(days)
    assert days[-1] == datetime.now(UTC).date()
    assert days[-1] - days[0] == timedelta(days=6)
    assert [d.tweets for d in stats.days] == [0, 0, 0, 0, 0, 0, 1]
    with pytest.raises(InvalidInput):
        await analytics_port.user_stats(ANN, 91)


async def test_trends_highest_first_with_counts(analytics_port: AnalyticsPort, deliver: Deliver) -> None:
    assert (await analytics_port.trends("24h", 10)).trends == []
    await deliver(tweet(ANN, "a", "b"))
    await deliver(tweet(BEN, "b"))
    trends = await analytics_port.trends("1h", 10)
    assert trends.window == "1h"
    assert [(t.hashtag, t.tweets) for t in trends.trends] == [("b", 2), ("a", 1)]
    assert trends.trends[0].score > trends.trends[1].score > 0
    assert len((await analytics_port.trends("24h", 1)).trends) == 1


async def test_trending_tweets_public_only_by_engagement(
    analytics_port: AnalyticsPort, deliver: Deliver
) -> None:
    assert (await analytics_port.trending_tweets("24h", 10)).tweets == []
    quiet, busy, middling = tweet(ANN), tweet(BEN), tweet(ANN)
    private, direct, gone = tweet(ANN, visibility="private"), tweet(ANN, visibility="direct"), tweet(BEN)
    unlisted = tweet(BEN, visibility="unlisted")
    for posted in (quiet, busy, middling, private, direct, gone, unlisted):
        await deliver(posted)
    # busy: two likes, a retweet and a reply; middling: a like (and one taken back: net 1)
    for user in ("7001", "7002", "7003"):
        for posted in (private, direct, gone, unlisted):
            await deliver(liked(posted, user))
    await deliver(liked(busy, "7001"))
    await deliver(liked(busy, "7002"))
    await deliver(
        Retweeted(
            event_id=IDS.next(),
            occurred_at=datetime.now(UTC),
            retweet_id=IDS.next(),
            tweet_id=busy.tweet_id,
            author_id=BEN,
            user_id="7003",
            created_at=datetime.now(UTC),
        )
    )
    await deliver(tweet(ANN, reply_to=busy))
    await deliver(liked(middling, "7001"))
    await deliver(liked(middling, "7002"))
    await deliver(
        TweetUnliked(
            event_id=IDS.next(),
            occurred_at=datetime.now(UTC),
            tweet_id=middling.tweet_id,
            author_id=ANN,
            user_id="7002",
        )
    )
    await deliver(
        TweetDeleted(
            event_id=IDS.next(), occurred_at=datetime.now(UTC), tweet_id=gone.tweet_id, author_id=BEN
        )
    )
    trending = await analytics_port.trending_tweets("24h", 10)
    assert trending.window == "24h"
    # Not the followers-only, direct, unlisted or deleted ones, however liked; not the quiet one.
    assert [(t.tweet_id, t.engagements) for t in trending.tweets] == [
        (busy.tweet_id, 4),
        (middling.tweet_id, 1),
    ]
    assert trending.tweets[0].score > trending.tweets[1].score > 0
    assert [t.tweet_id for t in (await analytics_port.trending_tweets("1h", 1, 1)).tweets] == [
        middling.tweet_id
    ]
    with pytest.raises(InvalidInput):
        await analytics_port.trending_tweets("24h", 41)
    with pytest.raises(InvalidInput):
        await analytics_port.trending_tweets("24h", 10, 195)
