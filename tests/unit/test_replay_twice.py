"""Delivering every event twice changes nothing a user can read (notifications and analytics).

At-least-once delivery means any event may come again (a relay retry, a stream redelivery).
This feeds a realistic sequence through the real consumers on real SQLite stores, snapshots
every read, delivers EVERY event a second time, and compares.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import msgspec
import pytest

from boundaries._kernel.events import Event
from boundaries._kernel.pagination import PageRequest
from boundaries.timeline.events import TimelineServed
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted, TweetUnliked
from boundaries.users.directory import UserDirectoryPort
from boundaries.users.dto import Silencing, Standing
from boundaries.users.events import UserFollowed
from modules.analytics.consumer import AnalyticsConsumer
from modules.analytics.service import AnalyticsService
from modules.notifications.consumer import NotificationsConsumer
from modules.notifications.service import NotificationsService
from twitterclone.infra.events import LocalBus
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate

ALICE, BOB, CAROL, DAVE = "3001", "3002", "3003", "3004"
USERS = (ALICE, BOB, CAROL, DAVE)
NOW = datetime.now(UTC).replace(microsecond=0)
IDS = IdGenerator(11)


class QuietUsers:
    """Dave mutes alice; nobody else blocks or mutes anyone."""

    async def silencing(self, actor_id: str, user_ids: list[str]) -> list[Silencing]:
        return [
            Silencing(user_id=u, actor_id=actor_id, blocking=False, muting=(u, actor_id) == (DAVE, ALICE))
            for u in user_ids
        ]

    async def standings(self, viewer_id: str, user_ids: list[str], follow_ids: list[str]) -> list[Standing]:
        return [Standing(user_id=ALICE, muting=True)] if viewer_id == DAVE and ALICE in user_ids else []


class Modules:
    def __init__(
        self, notifications: NotificationsService, analytics: AnalyticsService, bus: LocalBus
    ) -> None:
        self.notifications = notifications
        self.analytics = analytics
        self.bus = bus

    async def deliver(self, event: Event) -> None:
        failed = await self.bus.publish(event, self.bus.consumers_of(type(event).__name__))
        assert failed == []


@pytest.fixture
async def modules(tmp_path: Path) -> AsyncIterator[Modules]:
    n_store = ModuleStore("notifications", sqlite_url(tmp_path, "notifications"))
    a_store = ModuleStore("analytics", sqlite_url(tmp_path, "analytics"))
    for store in (n_store, a_store):
        await migrate(store)
    notifications = NotificationsService(n_store, IDS, cast(UserDirectoryPort, QuietUsers()))
    analytics = AnalyticsService(a_store, clock=lambda: NOW.timestamp())
    bus = LocalBus()
    bus.subscribe(NotificationsConsumer(notifications).subscriptions())
    bus.subscribe(AnalyticsConsumer(analytics).subscriptions())
    yield Modules(notifications, analytics, bus)
    for store in (n_store, a_store):
        await store.dispose()


def _at(minutes_ago: float) -> datetime:
    return NOW - timedelta(minutes=minutes_ago)


def _posted(
    tweet_id: str,
    author: str,
    minutes_ago: float,
    text: str,
    *,
    hashtags: list[str],
    mentions: list[str],
    reply_to: tuple[str, str] | None = None,
) -> TweetPosted:
    return TweetPosted(
        event_id=IDS.next(),
        occurred_at=_at(minutes_ago),
        tweet_id=tweet_id,
        author_id=author,
        created_at=_at(minutes_ago),
        text=text,
        conversation_id=reply_to[0] if reply_to else tweet_id,
        reply_to_id=reply_to[0] if reply_to else None,
        reply_to_author_id=reply_to[1] if reply_to else None,
        hashtags=hashtags,
        mentioned_user_ids=mentions,
    )


def scenario() -> list[Event]:
    """Follows, a post with mentions and hashtags, a reply, likes and an unlike, a retweet,
    impressions, and a deleted tweet."""
    t1, t2, t3, t4, rt = IDS.next(), IDS.next(), IDS.next(), IDS.next(), IDS.next()
    day_ago = 60 * 20
    return [
        UserFollowed(event_id=IDS.next(), occurred_at=_at(day_ago), follower_id=BOB, followee_id=ALICE),
        UserFollowed(event_id=IDS.next(), occurred_at=_at(30), follower_id=CAROL, followee_id=ALICE),
        UserFollowed(event_id=IDS.next(), occurred_at=_at(30), follower_id=ALICE, followee_id=ALICE),
        _posted(t1, ALICE, 40, "hi @bob @dave #python", hashtags=["python", "Asyncio"], mentions=[BOB, DAVE]),
        _posted(
            t2, BOB, 20, "@alice agreed #python", hashtags=["python"], mentions=[ALICE], reply_to=(t1, ALICE)
        ),
        _posted(t3, CAROL, 5, "#rust is nice", hashtags=["rust"], mentions=[]),
        _posted(t4, CAROL, day_ago, "old news #legacy", hashtags=["legacy"], mentions=[ALICE]),
        TweetLiked(event_id=IDS.next(), occurred_at=_at(15), tweet_id=t1, author_id=ALICE, user_id=BOB),
        TweetLiked(event_id=IDS.next(), occurred_at=_at(14), tweet_id=t1, author_id=ALICE, user_id=CAROL),
        TweetUnliked(event_id=IDS.next(), occurred_at=_at(13), tweet_id=t1, author_id=ALICE, user_id=CAROL),
        TweetLiked(event_id=IDS.next(), occurred_at=_at(12), tweet_id=t2, author_id=BOB, user_id=ALICE),
        Retweeted(
            event_id=IDS.next(),
            occurred_at=_at(10),
            retweet_id=rt,
            tweet_id=t1,
            author_id=ALICE,
            user_id=CAROL,
            created_at=_at(10),
        ),
        TimelineServed(event_id=IDS.next(), occurred_at=_at(9), tweet_ids=[t1, t2, t3], counts=[1, 1, 1]),
        TimelineServed(event_id=IDS.next(), occurred_at=_at(8), tweet_ids=[t1, t3], counts=[1, 1]),
        TimelineServed(event_id=IDS.next(), occurred_at=_at(7), tweet_ids=[t1], counts=[1]),
        TweetDeleted(event_id=IDS.next(), occurred_at=_at(2), tweet_id=t3, author_id=CAROL),
    ]


async def snapshot(m: Modules, events: list[Event]) -> dict[str, Any]:
    """Every read a user could make of the two modules."""
    tweet_ids = {(e.tweet_id, e.author_id) for e in events if isinstance(e, TweetPosted)}
    out: dict[str, Any] = {}
    for user in USERS:
        page = await m.notifications.notifications(user, PageRequest(limit=100))
        out[f"notifications:{user}"] = msgspec.to_builtins(page)
        out[f"unread:{user}"] = (await m.notifications.unread_count(user)).unread
        out[f"waiting:{user}"] = msgspec.to_builtins(await m.notifications.wait_for_new(user, None, 0))
        out[f"user_stats:{user}"] = msgspec.to_builtins(await m.analytics.user_stats(user, 3))
    for tweet_id, author in sorted(tweet_ids):
        try:
            out[f"tweet_stats:{tweet_id}"] = msgspec.to_builtins(
                await m.analytics.tweet_stats(author, tweet_id)
            )
        except Exception as exc:  # a deleted tweet's stats are gone: that is part of the snapshot too
            out[f"tweet_stats:{tweet_id}"] = type(exc).__name__
    for window in ("1h", "24h"):
        out[f"trends:{window}"] = msgspec.to_builtins(await m.analytics.trends(window, 50))
    return out


async def test_delivering_every_event_twice_changes_nothing(modules: Modules) -> None:
    events = scenario()
    for event in events:
        await modules.deliver(event)
    first = await snapshot(modules, events)

    # The snapshot is not trivially empty: the scenario did something everywhere.
    # Two follows (not her own), bob's reply (not also a mention), two likes, a retweet, a mention.
    assert first["unread:" + ALICE] == 7
    assert first["notifications:" + DAVE]["items"] == []  # dave mutes alice
    assert first["tweet_stats:" + events[3].tweet_id] == {  # type: ignore[attr-defined]
        "tweet_id": events[3].tweet_id,  # type: ignore[attr-defined]
        "impressions": 3,
        "likes": 1,
        "retweets": 1,
        "replies": 1,
    }
    assert [t["hashtag"] for t in first["trends:1h"]["trends"]] == [
        "rust",
        "python",
        "asyncio",
    ]  # decay: recent beats more

    for event in events:
        await modules.deliver(event)
    # And once more, in reverse order, as a redelivering stream might.
    for event in reversed(events):
        await modules.deliver(event)
    assert await snapshot(modules, events) == first
