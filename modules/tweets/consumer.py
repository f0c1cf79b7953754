"""The events the tweets module consumes (users' accounts, for its author projection), and its
background jobs: filling the projection, expiring old Idempotency-Keys.

Both event types go to one consumer (``tweets.authors``), written in the transaction in which
the kernel records them in the module's inbox; the projection keeps the newest version of each
account, so the order they come in does not matter either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from boundaries.users.events import ProfileUpdated, UserRegistered
from modules.tweets.service import TweetsService
from twitterclone.infra.events import Subscription, subscribe
from twitterclone.infra.kernel import Consumer
from twitterclone.infra.store import Transaction

log = logging.getLogger("twitterclone.tweets")

#: The key cleanup runs this many times per window, at least every second and at most hourly.
EXPIRY_ROUNDS_PER_WINDOW = 24


class TweetsConsumer(Consumer):
    """Keeps the author projection current; fills it with what reads learnt from users."""

    def __init__(self, service: TweetsService) -> None:
        self._service = service
        self._authors = service.authors
        self._store = service.store
        self.expiry_interval_s = min(max(service.idempotency_ttl_s / EXPIRY_ROUNDS_PER_WINDOW, 1.0), 3600.0)

    def subscriptions(self) -> list[Subscription[Any]]:
        return [
            subscribe(self._store, "authors", UserRegistered, handle=self.apply_accounts),
            subscribe(self._store, "authors", ProfileUpdated, handle=self.apply_accounts),
        ]

    def background_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        # The last one: live streams' wake-ups from the other replicas (returns at once without Redis).
        return [self._authors.fill_forever, self.expire_idempotency_keys_forever, self._service.live.listen]

    async def expire_idempotency_keys_forever(self) -> None:
        """Delete Idempotency-Keys past their window, so the table holds one window's worth."""
        while True:
            await asyncio.sleep(self.expiry_interval_s)
            try:
                removed = await self._service.expire_idempotency_keys()
                if removed:
                    log.info("expired idempotency keys", extra={"count": removed})
            except Exception:  # the next round tries again; reads already ignore expired keys
                log.exception("idempotency key expiry failed")

    async def apply_accounts(
        self, tx: Transaction, events: Sequence[UserRegistered | ProfileUpdated]
    ) -> None:
        await self._authors.apply_events_in(tx, events)
