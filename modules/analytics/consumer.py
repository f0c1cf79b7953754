"""The events the analytics module consumes: counters (``analytics.counters``) and trends.

Every handler runs in the transaction in which the kernel records its events in the module's
inbox, and gets only events not applied before: all of analytics' effects are in its store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from boundaries.timeline.events import TimelineServed
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted, TweetUnliked
from boundaries.users.events import UserFollowed
from modules.analytics.service import AnalyticsService
from twitterclone.infra.events import Subscription, subscribe
from twitterclone.infra.kernel import Consumer


class AnalyticsConsumer(Consumer):
    """Counters (tweets, engagement, impressions, followers) and trend buckets (hashtags)."""

    def __init__(self, service: AnalyticsService, *, prune_interval_s: float = 60.0) -> None:
        self._service = service
        self._prune_interval_s = prune_interval_s

    def subscriptions(self) -> list[Subscription[Any]]:
        s = self._service
        store = s.store
        return [
            subscribe(store, "counters", TweetPosted, handle=s.count_tweets_posted),
            subscribe(store, "trends", TweetPosted, handle=s.bucket_hashtags),
            subscribe(store, "counters", TweetLiked, handle=s.count_likes),
            subscribe(store, "counters", TweetUnliked, handle=s.count_unlikes),
            subscribe(store, "counters", Retweeted, handle=s.count_retweets),
            subscribe(store, "counters", TweetDeleted, handle=s.mark_deleted),
            subscribe(store, "counters", UserFollowed, handle=s.count_follows),
            subscribe(store, "counters", TimelineServed, handle=s.count_impressions),
        ]

    def background_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        return [lambda: self._service.prune_forever(self._prune_interval_s)]
