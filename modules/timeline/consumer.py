"""The timeline module's event consumers and its impressions job."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from boundaries.tweets.events import Retweeted, TweetDeleted, TweetPosted
from boundaries.users.events import UserFollowed, UserUnfollowed
from modules.timeline.service import FOLLOW_CONSUMER, TimelineService
from twitterclone.infra.events import Subscription
from twitterclone.infra.kernel import Consumer


class TimelineConsumer(Consumer):
    """Keeps home timelines current from tweets and follow events; flushes impressions."""

    def __init__(self, service: TimelineService) -> None:
        self.service = service

    def subscriptions(self) -> list[Subscription]:
        s = self.service
        return [
            Subscription(TweetPosted, "timeline.fan_out", s.on_tweet_posted),
            Subscription(Retweeted, "timeline.fan_out", s.on_retweeted),
            Subscription(TweetDeleted, "timeline.cleanup", s.on_tweet_deleted),
            Subscription(UserFollowed, FOLLOW_CONSUMER, s.on_user_followed),
            Subscription(UserUnfollowed, FOLLOW_CONSUMER, s.on_user_unfollowed),
        ]

    def background_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        # Impressions are written to the outbox about once a second, never per read.
        return [self.service.impressions.run]
