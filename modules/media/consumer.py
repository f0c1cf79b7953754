"""What the media module does when tweets come and go, and its cleanup job."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from boundaries.tweets.events import TweetDeleted, TweetPosted
from modules.media.service import MediaService
from twitterclone.infra.events import Handle, Subscription, record_only, subscribe
from twitterclone.infra.kernel import Consumer
from twitterclone.infra.store import Transaction

log = logging.getLogger("twitterclone.media")

#: How often the sweep looks for uploads that were never attached.
SWEEP_INTERVAL_S = 300.0


class MediaConsumer(Consumer):
    """Attaches media to posted tweets, removes the media of deleted ones, sweeps leftovers.

    Attaching is a conditional update in the transaction that records the event in the inbox.
    Removing deletes blob files, which no transaction covers: it runs before that transaction
    (``prepare``) and is idempotent (rows are marked ``deleting``, then blobs and rows go; a run
    cut short is finished by the redelivery, or by the sweep), so the inbox row commits only
    once the files are gone.
    """

    def __init__(self, service: MediaService, *, sweep_interval_s: float = SWEEP_INTERVAL_S) -> None:
        self.service = service
        self.sweep_interval_s = sweep_interval_s

    def subscriptions(self) -> list[Subscription[Any]]:
        store = self.service.store
        return [
            # Only tweets with media: the others (most) cost media no transaction.
            subscribe(store, "attach", TweetPosted, handle=self.attach_media, wants=_with_media),
            subscribe(store, "cleanup", TweetDeleted, prepare=self.remove_media, wants=_with_media),
        ]

    def background_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        return [self.sweep_forever]

    async def attach_media(self, tx: Transaction, events: list[TweetPosted]) -> None:
        for event in events:
            if event.media_ids:
                await self.service.attach(
                    tx, event.tweet_id, event.author_id, event.media_ids, event.visibility
                )

    async def remove_media(self, events: list[TweetDeleted]) -> Handle[TweetDeleted]:
        for event in events:
            if event.media_ids:
                await self.service.remove_for_tweet(event.tweet_id, event.author_id, event.media_ids)
        return record_only

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


def _with_media(event: TweetPosted | TweetDeleted) -> bool:
    return bool(event.media_ids)
