"""The events the tweets module consumes: users' accounts, for its author projection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from boundaries._kernel.events import Event
from boundaries.users.events import ProfileUpdated, UserRegistered
from modules.tweets.service import TweetsService
from twitterclone.infra.events import Subscription
from twitterclone.infra.kernel import Consumer

#: Keys the inbox and the stream consumer group.
AUTHORS = "tweets.authors"


class TweetsConsumer(Consumer):
    """Keeps the author projection current; fills it with what reads learnt from users."""

    def __init__(self, service: TweetsService) -> None:
        self._authors = service.authors
        self._store = service.store

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(UserRegistered, AUTHORS, self.on_account, self.on_accounts),
            Subscription(ProfileUpdated, AUTHORS, self.on_account, self.on_accounts),
        ]

    def background_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        return [self._authors.fill_forever]

    async def on_account(self, event: Event) -> None:
        await self.on_accounts([event])

    async def on_accounts(self, events: list[Event]) -> None:
        # Naturally idempotent: the newer version of an account always wins.
        accounts = [e for e in events if isinstance(e, UserRegistered | ProfileUpdated)]
        async with self._store.transaction() as tx:
            await self._authors.apply_events(tx.conn, accounts)
