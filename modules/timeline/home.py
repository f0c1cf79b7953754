"""Where home timelines are kept: the ``HomeTimelineStore`` interface and its two stores.

``SqlHomeTimelines`` keeps them in the module's own table (the embedded default);
``RedisHomeTimelines`` keeps them in Redis (``home_store = "redis"`` in the manifest). Both
hold derived data: the service rebuilds a timeline from the follow graph and the tweets when
the store has no usable copy of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Protocol, TypeVar

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from modules.timeline.tables import home_timeline as ht
from twitterclone.infra.store import ModuleStore, Transaction

T = TypeVar("T")

#: One home timeline entry: (user_id, tweet_id, author_id).
Entry = tuple[int, int, int]
#: Lists, page by page, the users whose timelines may hold an author's tweets.
Holders = Callable[[], AsyncIterator[list[int]]]

#: Rows per executemany batch (inserts), user ids per IN list (trims), timelines per Redis round trip.
WRITE_CHUNK = 1000


class HomeTimelineStore(Protocol):
    """Capped home timelines (newest ``cap`` tweet ids per user), written by fan-out."""

    #: True when whole timelines can vanish (evicted, flushed): an empty one then proves nothing.
    volatile: bool

    async def page(self, user_id: int, before: int | None, limit: int) -> tuple[list[int], bool]:
        """Up to ``limit`` tweet ids older than ``before``, newest first; and whether the copy is usable."""
        ...

    async def add(self, entries: Sequence[Entry], tx: Transaction | None = None) -> None:
        """Insert entries (existing ones are kept as they are) and trim every timeline touched."""
        ...

    async def fill(self, user_id: int, entries: Sequence[Entry]) -> None:
        """Add entries to a timeline that had no usable copy, and mark it usable."""
        ...

    async def tweet_ids(self, user_id: int) -> set[int]:
        """Every tweet id in one timeline."""
        ...

    async def replace(self, user_id: int, entries: Sequence[Entry], stale: Iterable[int]) -> int:
        """Remove ``stale`` tweet ids, add ``entries``, mark usable; return how many entries it holds."""
        ...

    async def remove_tweet(self, tweet_id: int, holders: Holders) -> None:
        """Remove a tweet from every timeline (``holders`` lists who may have it)."""
        ...

    async def remove_author(self, user_id: int, author_id: int, tx: Transaction | None = None) -> None:
        """Remove one author's tweets from one timeline."""
        ...


class SqlHomeTimelines:
    """Home timelines as rows of the module's ``home_timeline`` table."""

    volatile = False

    def __init__(self, store: ModuleStore, cap: int) -> None:
        self.store = store
        self.cap = cap
        self._insert = (
            sqlite.insert(ht).on_conflict_do_nothing()
            if store.is_sqlite
            else postgresql.insert(ht).on_conflict_do_nothing()
        )
        # Delete a user's entries older than their ``cap``-th newest (run as an executemany).
        keep = ht.alias("keep")
        cutoff = (
            sa.select(keep.c.tweet_id)
            .where(keep.c.user_id == sa.bindparam("u"))
            .order_by(keep.c.tweet_id.desc())
            .limit(1)
            .offset(max(cap - 1, 0))
            .scalar_subquery()
        )
        self._trim_one = sa.delete(ht).where(ht.c.user_id == sa.bindparam("u"), ht.c.tweet_id < cutoff)

    async def page(self, user_id: int, before: int | None, limit: int) -> tuple[list[int], bool]:
        query = sa.select(ht.c.tweet_id).where(ht.c.user_id == user_id)
        if before is not None:
            query = query.where(ht.c.tweet_id < before)
        query = query.order_by(ht.c.tweet_id.desc()).limit(limit)
        async with self.store.read() as conn:
            ids = [int(i) for i in (await conn.execute(query)).scalars()]
        # Rows are never lost, so only an empty first page can mean "never built".
        return ids, bool(ids) or before is not None

    async def add(self, entries: Sequence[Entry], tx: Transaction | None = None) -> None:
        if not entries:
            return
        if tx is not None:
            await self._write(tx.conn, entries)
            return
        async with self.store.transaction() as own:
            await self._write(own.conn, entries)

    async def fill(self, user_id: int, entries: Sequence[Entry]) -> None:
        await self.add(entries)

    async def tweet_ids(self, user_id: int) -> set[int]:
        async with self.store.read() as conn:
            rows = await conn.execute(sa.select(ht.c.tweet_id).where(ht.c.user_id == user_id))
            return {int(i) for i in rows.scalars()}

    async def replace(self, user_id: int, entries: Sequence[Entry], stale: Iterable[int]) -> int:
        async with self.store.transaction() as tx:
            for chunk in _chunks(sorted(stale), WRITE_CHUNK):
                await tx.conn.execute(sa.delete(ht).where(ht.c.user_id == user_id, ht.c.tweet_id.in_(chunk)))
            if entries:
                await self._write(tx.conn, entries)
            count = (
                await tx.conn.execute(
                    sa.select(sa.func.count()).select_from(ht).where(ht.c.user_id == user_id)
                )
            ).scalar_one()
        return int(count)

    async def remove_tweet(self, tweet_id: int, holders: Holders) -> None:
        # The index on tweet_id finds every holder; no need to ask who they are.
        async with self.store.transaction() as tx:
            await tx.conn.execute(sa.delete(ht).where(ht.c.tweet_id == tweet_id))

    async def remove_author(self, user_id: int, author_id: int, tx: Transaction | None = None) -> None:
        stmt = sa.delete(ht).where(ht.c.user_id == user_id, ht.c.author_id == author_id)
        if tx is not None:
            await tx.conn.execute(stmt)
            return
        async with self.store.transaction() as own:
            await own.conn.execute(stmt)

    async def _write(self, conn: AsyncConnection, entries: Sequence[Entry]) -> None:
        for chunk in _chunks(list(entries), WRITE_CHUNK):
            await conn.execute(
                self._insert, [{"user_id": u, "tweet_id": t, "author_id": a} for u, t, a in chunk]
            )
        await self._trim(conn, sorted({e[0] for e in entries}))

    async def _trim(self, conn: AsyncConnection, user_ids: list[int]) -> None:
        """Keep the newest ``cap`` entries of these users; only those over the cap are touched."""
        for chunk in _chunks(user_ids, WRITE_CHUNK):
            over = (
                await conn.execute(
                    sa.select(ht.c.user_id)
                    .where(ht.c.user_id.in_(chunk))
                    .group_by(ht.c.user_id)
                    .having(sa.func.count() > self.cap)
                )
            ).scalars()
            params = [{"u": u} for u in over]
            if params:
                await conn.execute(self._trim_one, params)


#: Marks a Redis home timeline as complete (built from the source of truth, then kept current).
#: "~" sorts after every digit, so it is the top member and never collides with an entry.
COMPLETE = "~"

#: Add members to one timeline and trim it to the newest ``cap`` entries (plus the mark), atomically.
_ADD_AND_TRIM = """
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 0, ARGV[i]) end
local keep = tonumber(ARGV[1])
if redis.call('ZSCORE', KEYS[1], '~') then keep = keep + 1 end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(keep + 1))
return redis.call('ZCARD', KEYS[1])
"""


class RedisHomeTimelines:
    """Home timelines in Redis: one sorted set per user, ``<prefix>home:<user_id>``.

    Snowflake ids are 63-bit, more than a double score holds exactly, so every member has
    score 0 and the order is lexicographic on the member ``<tweet id, 20 digits>:<author id>``:
    fixed width makes string order id order (newest last), paging is ZREVRANGEBYLEX from
    ``(<cursor id>``, trimming is ZREMRANGEBYRANK from the bottom. The author in the member
    lets an unfollow remove that author's entries. A timeline is only trusted when it holds
    the ``COMPLETE`` mark; one without it (never built, evicted, flushed, a new Redis; or only
    written to by fan-out since) is rebuilt from the source of truth on its first read.
    """

    volatile = True

    def __init__(self, redis: Redis, key_prefix: str, cap: int) -> None:
        self.redis = redis
        self.prefix = f"{key_prefix}home:"
        self.cap = cap
        self._add_and_trim = redis.register_script(_ADD_AND_TRIM)

    def key(self, user_id: int) -> str:
        return f"{self.prefix}{user_id}"

    async def page(self, user_id: int, before: int | None, limit: int) -> tuple[list[int], bool]:
        if before is None:  # the first page also tells whether the timeline is complete
            raw = await self.redis.zrevrangebylex(self.key(user_id), "+", "-", start=0, num=limit + 1)
            members = [_text(m) for m in raw]
            complete = bool(members) and members[0] == COMPLETE
            return [_tweet_id(m) for m in members if m != COMPLETE][:limit], complete
        raw = await self.redis.zrevrangebylex(self.key(user_id), f"({before:020d}", "-", start=0, num=limit)
        return [_tweet_id(_text(m)) for m in raw], True

    async def add(self, entries: Sequence[Entry], tx: Transaction | None = None) -> None:
        # Redis is not part of the SQL transaction: adding is idempotent, so a redelivery is harmless.
        by_user: dict[int, list[str]] = {}
        for user_id, tweet_id, author_id in entries:
            by_user.setdefault(user_id, []).append(_member(tweet_id, author_id))
        await self._add(list(by_user.items()))

    async def fill(self, user_id: int, entries: Sequence[Entry]) -> None:
        await self._add([(user_id, [*(_member(t, a) for _, t, a in entries), COMPLETE])])

    async def tweet_ids(self, user_id: int) -> set[int]:
        members = await self.redis.zrange(self.key(user_id), 0, -1)
        return {_tweet_id(m) for m in map(_text, members) if m != COMPLETE}

    async def replace(self, user_id: int, entries: Sequence[Entry], stale: Iterable[int]) -> int:
        key = self.key(user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            for tweet_id in stale:
                pipe.zremrangebylex(key, *_range_of(tweet_id))
            members = [*(_member(t, a) for _, t, a in entries), COMPLETE]
            await self._add_and_trim(keys=[key], args=[self.cap, *members], client=pipe)
            results = await pipe.execute()
        return int(results[-1]) - 1  # without the mark

    async def remove_tweet(self, tweet_id: int, holders: Holders) -> None:
        low, high = _range_of(tweet_id)
        async for users in holders():
            for chunk in _chunks(users, WRITE_CHUNK):
                pipe = self.redis.pipeline(transaction=False)
                for user_id in chunk:
                    pipe.zremrangebylex(self.key(user_id), low, high)
                await pipe.execute()

    async def remove_author(self, user_id: int, author_id: int, tx: Transaction | None = None) -> None:
        key = self.key(user_id)
        suffix = f":{author_id}"
        gone = [m for m in map(_text, await self.redis.zrange(key, 0, -1)) if m.endswith(suffix)]
        if gone:
            await self.redis.zrem(key, *gone)

    async def _add(self, timelines: list[tuple[int, list[str]]]) -> None:
        """One round trip per ``WRITE_CHUNK`` timelines: add and trim each, atomically per timeline."""
        for chunk in _chunks(timelines, WRITE_CHUNK):
            pipe = self.redis.pipeline(transaction=False)
            for user_id, members in chunk:
                await self._add_and_trim(keys=[self.key(user_id)], args=[self.cap, *members], client=pipe)
            await pipe.execute()


def _member(tweet_id: int, author_id: int) -> str:
    return f"{tweet_id:020d}:{author_id}"


def _range_of(tweet_id: int) -> tuple[str, str]:
    """The lexicographic range holding every member of one tweet (":" < ";" in ASCII)."""
    return f"[{tweet_id:020d}:", f"[{tweet_id:020d};"


def _tweet_id(member: str) -> int:
    return int(member.partition(":")[0])


def _text(member: object) -> str:
    return member.decode() if isinstance(member, bytes) else str(member)


def _chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
