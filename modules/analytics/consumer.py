"""The events the analytics module consumes, each under a stable consumer name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from boundaries.timeline.events import TimelineServed
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted, TweetUnliked
from boundaries.users.events import UserFollowed
from modules.analytics.service import COUNTERS, TRENDS, AnalyticsService
from twitterclone.infra.events import BatchHandler, Handler, Subscription
from twitterclone.infra.kernel import Consumer


class AnalyticsConsumer(Consumer):
    """Counters (tweets, engagement, impressions, followers) and trend buckets (hashtags)."""

    def __init__(self, service: AnalyticsService, *, prune_interval_s: float = 60.0) -> None:
        self._service = service
        self._prune_interval_s = prune_interval_s

    def subscriptions(self) -> list[Subscription]:
        s = self._service
        return [
            Subscription(TweetPosted, COUNTERS, _handler(s.on_tweet_posted)),
            Subscription(TweetPosted, TRENDS, _handler(s.on_tweet_posted_trends)),
            Subscription(TweetLiked, COUNTERS, _handler(s.on_tweet_liked)),
            Subscription(TweetUnliked, COUNTERS, _handler(s.on_tweet_unliked)),
            Subscription(Retweeted, COUNTERS, _handler(s.on_retweeted)),
            Subscription(TweetDeleted, COUNTERS, _handler(s.on_tweet_deleted)),
            Subscription(UserFollowed, COUNTERS, _handler(s.on_user_followed), _batch(s.on_users_followed)),
            Subscription(TimelineServed, COUNTERS, _handler(s.on_timeline_served)),
        ]

    def background_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        return [lambda: self._service.prune_forever(self._prune_interval_s)]


def _handler(method: Any) -> Handler:
    # Each handler takes its own event type; the bus only hands it events of that type.
    return cast(Handler, method)


def _batch(method: Any) -> BatchHandler:
    return cast(BatchHandler, method)
