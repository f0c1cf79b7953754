"""Who engaged with a tweet (likers, retweeters) and what a user liked, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from boundaries._kernel.ids import Id
from boundaries._kernel.pagination import Page, PageRequest
from boundaries.tweets.dto import Tweet
from boundaries.tweets.errors import TweetNotFound
from modules.tweets.reading import TweetReader
from modules.tweets.tables import likes, tweets
from twitterclone.infra.cursor import decode_cursor, encode_cursor
from twitterclone.infra.store import ModuleStore

_MAX_BIGINT = 2**63 - 1


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(at: datetime) -> int:
    """A like's time as whole microseconds since the epoch (exact: no float on the way)."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


def _from_micros(value: int) -> datetime:
    return _EPOCH + value * _MICROSECOND


class Engagement:
    """Lists over likes and retweets. Like pages use the (time, id) of the last like as cursor."""

    def __init__(self, tweets: TweetReader, store: ModuleStore) -> None:
        self._tweets = tweets
        self._store = store

    async def favourites(self, user: int, page: PageRequest) -> Page[Tweet]:
        """The tweets ``user`` liked, newest like first; deleted tweets are gone with their likes."""
        query = sa.select(likes.c.tweet_id.label("key"), likes.c.created_at).where(likes.c.user_id == user)
        keys, cursor = await self._like_page(query, likes.c.tweet_id, page)
        items = await self._tweets.get_many([str(k) for k in keys], str(user))
        return Page(items=items, next_cursor=cursor)

    async def liked_by(self, tweet_id: int, page: PageRequest, viewer_id: Id | None) -> Page[Id]:
        """Ids of the users who liked a tweet, newest like first."""
        target = await self._existing(tweet_id, viewer_id)
        query = sa.select(likes.c.user_id.label("key"), likes.c.created_at).where(likes.c.tweet_id == target)
        keys, cursor = await self._like_page(query, likes.c.user_id, page)
        return Page(items=[str(k) for k in keys], next_cursor=cursor)

    async def retweeted_by(self, tweet_id: int, page: PageRequest, viewer_id: Id | None) -> Page[Id]:
        """Ids of the users who retweeted a tweet, newest retweet first (the retweet id is the cursor)."""
        target = await self._existing(tweet_id, viewer_id)
        before = _MAX_BIGINT if page.cursor is None else decode_cursor(page.cursor, int)
        t = tweets
        async with self._store.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.c.id, t.c.author_id)
                    .where(t.c.retweet_of_id == target, t.c.id < before)
                    .order_by(t.c.id.desc())
                    .limit(page.limit + 1)
                )
            ).all()
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        return Page(
            items=[str(r.author_id) for r in rows],
            next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
        )

    async def _existing(self, tweet_id: int, viewer_id: Id | None) -> int:
        """The tweet that likes and retweets point at (a retweet stands for its original), when the
        viewer may see it (hydration decides, as for any read); raises TweetNotFound."""
        if not await self._tweets.get_many([str(tweet_id)], viewer_id):
            raise TweetNotFound(f"no tweet {tweet_id}")
        async with self._store.read() as conn:
            row = (
                await conn.execute(
                    sa.select(tweets.c.id, tweets.c.retweet_of_id).where(tweets.c.id == tweet_id)
                )
            ).first()
        if row is None:
            raise TweetNotFound(f"no tweet {tweet_id}")
        return int(row.retweet_of_id if row.retweet_of_id is not None else row.id)

    async def _like_page(
        self, query: sa.Select[tuple[int, datetime]], key: sa.Column[int], page: PageRequest
    ) -> tuple[list[int], str | None]:
        """One page of ``query`` (like rows) newest first, keyed by (created_at, key)."""
        if page.cursor is not None:
            at_us, last = decode_cursor(page.cursor, tuple[int, int])
            at = _from_micros(at_us)
            query = query.where(
                sa.or_(likes.c.created_at < at, sa.and_(likes.c.created_at == at, key < last))
            )
        query = query.order_by(likes.c.created_at.desc(), key.desc()).limit(page.limit + 1)
        async with self._store.read() as conn:
            rows = (await conn.execute(query)).all()
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        cursor = encode_cursor((_micros(rows[-1].created_at), rows[-1].key)) if more and rows else None
        return [int(r.key) for r in rows], cursor
