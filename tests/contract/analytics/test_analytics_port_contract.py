"""What the AnalyticsPort promises, as port calls, under any binding.

Today the fixture binds the local service; the HTTP binding will parametrise
``analytics_port``. Counters are fed by delivering events to the module's consumer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.events import Event
from boundaries.analytics.errors import NotStatsOwner, StatsNotFound
from boundaries.analytics.port import AnalyticsPort
from boundaries.tweets.events import TweetLiked, TweetPosted
from modules.analytics.consumer import AnalyticsConsumer
from modules.analytics.service import AnalyticsService
from twitterclone.infra.events import LocalBus
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate

IDS = IdGenerator(22)
ANN, BEN = "5001", "5002"

Deliver = Callable[[Event], Awaitable[None]]


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[tuple[AnalyticsPort, Deliver]]:
    store = ModuleStore("analytics", sqlite_url(tmp_path, "analytics"))
    await migrate(store)
    service = AnalyticsService(store)
    bus = LocalBus()
    bus.subscribe(AnalyticsConsumer(service).subscriptions())

    async def deliver(event: Event) -> None:
        assert await bus.publish(event, bus.consumers_of(type(event).__name__)) == []

    yield service, deliver
    await store.dispose()


@pytest.fixture
def analytics_port(local: tuple[AnalyticsPort, Deliver]) -> AnalyticsPort:
    return local[0]


@pytest.fixture
def deliver(local: tuple[AnalyticsPort, Deliver]) -> Deliver:
    return local[1]


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
