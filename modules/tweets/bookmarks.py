"""Bookmarks: the tweets a user saved for later, private to that user, newest bookmark first."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from boundaries._kernel.pagination import Page, PageRequest
from boundaries.tweets.dto import Tweet
from modules.tweets.reading import TweetReader
from modules.tweets.tables import bookmarks
from twitterclone.infra.cursor import decode_cursor, encode_cursor
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.sql import insert_or_ignore
from twitterclone.infra.store import ModuleStore

_MAX_BIGINT = 2**63 - 1


class Bookmarks:
    """Bookmark, unbookmark, and a user's bookmarks. A retweet stands for its original."""

    def __init__(self, tweets: TweetReader, store: ModuleStore, ids: IdGenerator) -> None:
        self._tweets = tweets
        self._store = store
        self._ids = ids

    async def bookmark(self, user: int, tweet_id: int) -> Tweet:
        """Bookmark a tweet the user may see; idempotent (the first bookmark keeps its place)."""
        await self._tweets.tweet_or_gone(tweet_id, str(user))  # TweetNotFound unless visible
        async with self._store.transaction() as tx:
            target = await self._tweets.load_target(tx.conn, tweet_id)
            await tx.conn.execute(
                insert_or_ignore(tx.conn, bookmarks).values(
                    id=self._ids.next_int(), user_id=user, tweet_id=target.id, created_at=datetime.now(UTC)
                )
            )
        return await self._tweets.tweet_or_gone(target.id, str(user))

    async def unbookmark(self, user: int, tweet_id: int) -> Tweet:
        """Remove a bookmark; idempotent."""
        async with self._store.transaction() as tx:
            target = await self._tweets.load_target(tx.conn, tweet_id)
            await tx.conn.execute(
                sa.delete(bookmarks).where(bookmarks.c.user_id == user, bookmarks.c.tweet_id == target.id)
            )
        return await self._tweets.tweet_or_gone(target.id, str(user))

    async def list(self, user: int, page: PageRequest) -> Page[Tweet]:
        """The user's bookmarked tweets, newest bookmark first; deleted tweets drop out."""
        before = _MAX_BIGINT if page.cursor is None else decode_cursor(page.cursor, int)
        b = bookmarks
        async with self._store.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(b.c.id, b.c.tweet_id)
                    .where(b.c.user_id == user, b.c.id < before)
                    .order_by(b.c.id.desc())
                    .limit(page.limit + 1)
                )
            ).all()
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        items = await self._tweets.get_many([str(r.tweet_id) for r in rows], str(user))
        return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if more and rows else None)
