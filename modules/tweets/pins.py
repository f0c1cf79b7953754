"""Pins: up to ``MAX_PINS`` of one's own tweets shown first on one's profile."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from boundaries._kernel.ids import Id
from boundaries._kernel.pagination import Page, PageRequest
from boundaries.tweets.dto import MAX_PINS, Tweet
from boundaries.tweets.errors import NotPinnable, TooManyPins, TweetNotFound
from modules.tweets.reading import TweetReader
from modules.tweets.tables import pins, tweets
from twitterclone.infra.sql import insert_or_ignore
from twitterclone.infra.store import ModuleStore


class Pins:
    """Pin, unpin, and an author's pinned tweets (newest pin first)."""

    def __init__(self, tweets: TweetReader, store: ModuleStore) -> None:
        self._tweets = tweets
        self._store = store

    async def pin(self, user: int, tweet_id: int) -> Tweet:
        """Pin one's own tweet; idempotent. Raises NotPinnable (not one's own, a retweet) or TooManyPins."""
        async with self._store.transaction() as tx:
            row = (
                await tx.conn.execute(
                    sa.select(tweets.c.id, tweets.c.author_id, tweets.c.retweet_of_id).where(
                        tweets.c.id == tweet_id
                    )
                )
            ).first()
            if row is None:
                raise TweetNotFound(f"no tweet {tweet_id}")
            if row.author_id != user:
                raise NotPinnable("only one's own tweets can be pinned", field="tweet_id")
            if row.retweet_of_id is not None:
                raise NotPinnable("a retweet cannot be pinned; pin a tweet of one's own", field="tweet_id")
            # Lock the author's pins while counting, so two concurrent pins cannot both pass the cap.
            held = list(
                (
                    await tx.conn.execute(
                        sa.select(pins.c.tweet_id).where(pins.c.author_id == user).with_for_update()
                    )
                ).scalars()
            )
            if tweet_id not in held:
                if len(held) >= MAX_PINS:
                    raise TooManyPins(
                        f"at most {MAX_PINS} tweets can be pinned; unpin one first", field="tweet_id"
                    )
                await tx.conn.execute(
                    insert_or_ignore(tx.conn, pins).values(
                        tweet_id=tweet_id, author_id=user, created_at=datetime.now(UTC)
                    )
                )
        return await self._tweets.tweet_or_gone(tweet_id, str(user))

    async def unpin(self, user: int, tweet_id: int) -> Tweet:
        """Unpin one's tweet; idempotent (a tweet one did not pin stays as it is)."""
        async with self._store.transaction() as tx:
            await tx.conn.execute(
                sa.delete(pins).where(pins.c.tweet_id == tweet_id, pins.c.author_id == user)
            )
        return await self._tweets.tweet_or_gone(tweet_id, str(user))

    async def pinned(self, author: int, viewer_id: Id | None, page: PageRequest) -> Page[Tweet]:
        """An author's pinned tweets, newest pin first, on one page (there are at most MAX_PINS)."""
        if page.cursor is not None:
            return Page(items=[])
        async with self._store.read() as conn:
            ids = list(
                (
                    await conn.execute(
                        sa.select(pins.c.tweet_id)
                        .where(pins.c.author_id == author)
                        .order_by(pins.c.created_at.desc(), pins.c.tweet_id.desc())
                        .limit(page.limit)
                    )
                ).scalars()
            )
        return Page(items=await self._tweets.get_many([str(i) for i in ids], viewer_id))
