"""The events the tweets module consumes: users' accounts, for its author projection.

Both event types go to one consumer (``tweets.authors``), written in the transaction in which
the kernel records them in the module's inbox; the projection keeps the newest version of each
account, so the order they come in does not matter either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from boundaries.users.events import ProfileUpdated, UserRegistered
from modules.tweets.service import TweetsService
from twitterclone.infra.events import Subscription, subscribe
from twitterclone.infra.kernel import Consumer
from twitterclone.infra.store import Transaction


class TweetsConsumer(Consumer):
    """Keeps the author projection current; fills it with what reads learnt from users."""

    def __init__(self, service: TweetsService) -> None:
        self._authors = service.authors
        self._store = service.store

    def subscriptions(self) -> list[Subscription[Any]]:
        return [
            subscribe(self._store, "authors", UserRegistered, handle=self.apply_accounts),
            subscribe(self._store, "authors", ProfileUpdated, handle=self.apply_accounts),
        ]

    def background_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        return [self._authors.fill_forever]

    async def apply_accounts(
        self, tx: Transaction, events: Sequence[UserRegistered | ProfileUpdated]
    ) -> None:
        await self._authors.apply_events(tx.conn, events)
