"""What the AnalyticsPort promises, as port calls, under every storage and binding.

Counters are fed by delivering events to the module's consumer (``deliver``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from boundaries._kernel.errors import InvalidInput
from boundaries.analytics.errors import NotStatsOwner, StatsNotFound
from boundaries.analytics.port import AnalyticsPort
from boundaries.tweets.events import TweetLiked, TweetPosted
from tests.support.wiring import Deliver
from twitterclone.infra.ids import IdGenerator

IDS = IdGenerator(22)
ANN, BEN = "5001", "5002"


def tweet(author: str, *hashtags: str) -> TweetPosted:
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
