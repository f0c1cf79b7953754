"""The events the notifications module consumes, each under a stable consumer name."""

from __future__ import annotations

from typing import Any, cast

from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted
from boundaries.users.events import UserFollowed
from modules.notifications.service import NotificationsService
from twitterclone.infra.events import BatchHandler, Handler, Subscription
from twitterclone.infra.kernel import Consumer


class NotificationsConsumer(Consumer):
    """Mentions and replies, likes, retweets and follows become notifications."""

    def __init__(self, service: NotificationsService) -> None:
        self._service = service

    def subscriptions(self) -> list[Subscription]:
        s = self._service
        return [
            Subscription(TweetPosted, "notifications.mentions", _handler(s.on_tweet_posted)),
            Subscription(TweetLiked, "notifications.likes", _handler(s.on_tweet_liked)),
            Subscription(Retweeted, "notifications.retweets", _handler(s.on_retweeted)),
            Subscription(
                UserFollowed,
                "notifications.follows",
                _handler(s.on_user_followed),
                _batch(s.on_users_followed),  # a burst of follows: one transaction
            ),
            Subscription(TweetDeleted, "notifications.cleanup", _handler(s.on_tweet_deleted)),
        ]


def _handler(method: Any) -> Handler:
    # Each handler takes its own event type; the bus only hands it events of that type.
    return cast(Handler, method)


def _batch(method: Any) -> BatchHandler:
    return cast(BatchHandler, method)
