"""What the media module does when tweets come and go, and its cleanup job."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from boundaries._kernel.events import Event
from boundaries.tweets.events import TweetDeleted, TweetPosted
from modules.media.service import MediaService
from twitterclone.infra.events import Subscription
from twitterclone.infra.kernel import Consumer

log = logging.getLogger("twitterclone.media")

#: How often the sweep looks for uploads that were never attached.
SWEEP_INTERVAL_S = 300.0


class MediaConsumer(Consumer):
    """Attaches media to posted tweets, removes the media of deleted ones, sweeps leftovers.

    Both handlers are naturally idempotent (conditional updates, idempotent deletes), so a
    redelivered event changes nothing.
    """

    def __init__(self, service: MediaService, *, sweep_interval_s: float = SWEEP_INTERVAL_S) -> None:
        self.service = service
        self.sweep_interval_s = sweep_interval_s

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(TweetPosted, "media.attach", self.on_tweet_posted),
            Subscription(TweetDeleted, "media.cleanup", self.on_tweet_deleted),
        ]

    def background_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        return [self.sweep_forever]

    async def on_tweet_posted(self, event: Event) -> None:
        if isinstance(event, TweetPosted) and event.media_ids:
            await self.service.attach(event.tweet_id, event.author_id, event.media_ids)

    async def on_tweet_deleted(self, event: Event) -> None:
        if isinstance(event, TweetDeleted) and event.media_ids:
            await self.service.remove_for_tweet(event.tweet_id, event.author_id, event.media_ids)

    async def sweep_forever(self) -> None:
        """Every few minutes, remove uploads never attached within the grace period."""
        while True:
            try:
                removed = await self.service.sweep_unattached()
                if removed:
                    log.info("swept unattached media", extra={"count": removed})
            except Exception:  # the next round tries again
                log.exception("media sweep failed")
            await asyncio.sleep(self.sweep_interval_s)
