"""The timeline module's event consumers and its background jobs.

Fan-out (``timeline.fan_out``) and removal of deleted tweets (``timeline.cleanup``) write
home timelines before the kernel's transaction, idempotently (see the service's event
handlers); the follow graph (``timeline.follow``) writes in that transaction, so a follow or
unfollow is applied once even when delivered again after a later change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from boundaries.tweets.events import Retweeted, TweetDeleted, TweetPosted
from boundaries.users.events import UserFollowed, UserUnfollowed
from modules.timeline.service import TimelineService
from twitterclone.infra.events import Subscription, subscribe
from twitterclone.infra.kernel import Consumer


class TimelineConsumer(Consumer):
    """Keeps home timelines current from tweets and follow events; flushes impressions."""

    def __init__(self, service: TimelineService) -> None:
        self.service = service

    def subscriptions(self) -> list[Subscription[Any]]:
        s = self.service
        store = s.store
        # The kernel hands each a run of consecutive events at once: one profiles call and
        # shared write rounds for many tweets, one transaction for many follows.
        return [
            subscribe(store, "fan_out", TweetPosted, prepare=s.fan_out_posts),
            subscribe(store, "fan_out", Retweeted, prepare=s.fan_out_retweets),
            subscribe(store, "cleanup", TweetDeleted, prepare=s.remove_deleted),
            subscribe(store, "follow", UserFollowed, prepare=s.backfill),
            subscribe(store, "follow", UserUnfollowed, handle=s.remove_unfollowed),
        ]

    def background_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        # Impressions are written to the outbox about once a second, never per read; the home
        # store trims the timelines fan-out wrote to, off the fan-out's path (SQL store only);
        # authors who just became popular get their followers' edges (popular.py).
        return [
            self.service.impressions.run,
            self.service.home.maintain,
            self.service.popular.backfill_forever,
            self.service.live.listen,  # live streams: wake-ups from the other replicas
        ]
