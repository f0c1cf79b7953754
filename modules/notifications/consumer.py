"""The events the notifications module consumes, each under a stable consumer name.

The ``notify_*`` handlers ask the users port about blocks and mutes before the kernel opens
its transaction (``prepare``), then write the notifications in it; all their effects are in
the module's store, except waking the recipients' waiters, which happens after the commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted
from boundaries.users.events import UserFollowed
from modules.notifications.service import NotificationsService
from twitterclone.infra.events import Subscription, subscribe
from twitterclone.infra.kernel import Consumer


class NotificationsConsumer(Consumer):
    """Mentions and replies, likes, retweets and follows become notifications."""

    def __init__(self, service: NotificationsService) -> None:
        self._service = service

    def subscriptions(self) -> list[Subscription[Any]]:
        s = self._service
        store = s.store
        return [
            subscribe(store, "mentions", TweetPosted, prepare=s.notify_mentions),
            subscribe(store, "likes", TweetLiked, prepare=s.notify_likes),
            subscribe(store, "retweets", Retweeted, prepare=s.notify_retweets),
            subscribe(store, "follows", UserFollowed, prepare=s.notify_follows),
            subscribe(store, "cleanup", TweetDeleted, handle=s.remove_deleted),
        ]

    def background_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        return [self._service.listen]  # live streams: wake-ups from the other replicas
