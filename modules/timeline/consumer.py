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
        # Runs of consecutive events go to the batch forms: one write round for many tweets,
        # one transaction for many follows (same effect as the one-by-one handlers).
        return [
            Subscription(TweetPosted, "timeline.fan_out", s.on_tweet_posted, s.on_tweets_posted),
            Subscription(Retweeted, "timeline.fan_out", s.on_retweeted, s.on_retweets),
            Subscription(TweetDeleted, "timeline.cleanup", s.on_tweet_deleted),
            Subscription(UserFollowed, FOLLOW_CONSUMER, s.on_user_followed, s.on_users_followed),
            Subscription(UserUnfollowed, FOLLOW_CONSUMER, s.on_user_unfollowed, s.on_users_unfollowed),
        ]

    def background_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        # Impressions are written to the outbox about once a second, never per read; the home
        # store trims the timelines fan-out wrote to, off the fan-out's path (SQL store only);
        # authors who just became popular get their followers' edges (popular.py).
        return [
            self.service.impressions.run,
            self.service.home.maintain,
            self.service.popular.backfill_forever,
        ]
