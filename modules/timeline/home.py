"""Where home timelines are kept: the ``HomeTimelineStore`` interface and its two stores.

``SqlHomeTimelines`` keeps them in the module's own table (the embedded default);
``RedisHomeTimelines`` keeps them in Redis (``home_store = "redis"`` in the manifest). Both
hold derived data: the service rebuilds a timeline from the follow graph and the tweets when
the store has no usable copy of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Protocol, TypeVar

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from modules.timeline.tables import home_timeline as ht
from twitterclone.infra.sql import insert_or_ignore
from twitterclone.infra.store import HotRead, HotWrite, ModuleStore, Transaction

T = TypeVar("T")

log = logging.getLogger("twitterclone.timeline")

#: One home timeline entry: (user_id, tweet_id, author_id).
Entry = tuple[int, int, int]
#: Lists, page by page, the users whose timelines may hold an author's tweets.
Holders = Callable[[], AsyncIterator[list[int]]]

#: Rows per executemany batch (inserts), user ids per IN list (trims), timelines per Redis round trip.
WRITE_CHUNK = 1000
#: PostgreSQL: rows per INSERT ... SELECT FROM unnest(arrays) statement.
ARRAY_CHUNK = 10_000
#: SQL store: seconds between trims of the timelines written to, and users trimmed per transaction.
TRIM_INTERVAL_S = 2.0
TRIM_CHUNK = 250
#: SQL store: seconds between two chunks of one trim pass (10,000 users: 40 chunks over ~1 s).
TRIM_PAUSE_S = 0.02
#: SQL store: entries a timeline may take over the cap before it is trimmed (amortises the trim).
TRIM_SLACK = 32
#: SQL store: users whose counts since their last trim are kept at most (then quiet ones are dropped).
MAX_TRACKED = 500_000


#: One page of a home timeline, newest first (built once: it runs on every home read).
_PAGE = HotRead(
    sa.select(ht.c.tweet_id)
    .where(ht.c.user_id == sa.bindparam("u"), ht.c.tweet_id < sa.bindparam("before"))
    .order_by(ht.c.tweet_id.desc())
    .limit(sa.bindparam("n"))
)
#: Above every Snowflake id: "before" for the first page.
_NEWEST = 2**63 - 1


class HomeTimelineStore(Protocol):
    """Capped home timelines (newest ``cap`` tweet ids per user), written by fan-out."""

    #: True when whole timelines can vanish (evicted, flushed): an empty one then proves nothing.
    volatile: bool
    #: True when ``add(entries, tx)`` writes in ``tx`` (the timelines are rows of the module's
    #: store), so entries commit with whatever else the transaction holds.
    transactional: bool

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

    async def maintain(self) -> None:
        """Deferred work, forever (a background job of the module); returns at once if there is none."""
        ...


class SqlHomeTimelines:
    """Home timelines as rows of the module's ``home_timeline`` table.

    Writes insert only; trimming is deferred and amortised. Finding what lies beyond the
    ``cap``-th newest entry reads the whole of a full timeline (800 index entries), ten to thirty
    times the cost of the insert: done inline, it made the fan-out of an author with 1,000
    followers whose timelines are full take ~0.25 s on SQLite and ~0.8 s on PostgreSQL, of which
    the insert was 0.03 s. So ``add`` only counts, per user, the entries added since that user's
    timeline was last trimmed, and ``maintain`` (a background job, every ``trim_interval_s``)
    trims the users with ``trim_slack`` or more of them, or never trimmed by this process, each
    once however many entries arrived meanwhile, ``TRIM_CHUNK`` users per transaction so SQLite's
    writer is never held for long. A timeline therefore holds at most ``cap + trim_slack`` entries
    (plus what arrived since the last pass), newest first, so pages look the same;
    ``trim_pending(everyone=True)`` trims everything to the exact cap. The counts live in
    memory: after a restart each timeline is trimmed again on its first write.
    """

    volatile = False
    transactional = True

    def __init__(
        self,
        store: ModuleStore,
        cap: int,
        *,
        trim_interval_s: float = TRIM_INTERVAL_S,
        trim_slack: int = TRIM_SLACK,
    ) -> None:
        self.store = store
        self.cap = cap
        self.trim_interval_s = trim_interval_s
        self.trim_slack = trim_slack
        #: Entries added per user since this process last trimmed that user's timeline.
        self._since_trim: dict[int, int] = {}
        #: Users to trim on the next pass (over the slack, or never trimmed by this process).
        self._due: set[int] = set()
        self._insert = HotWrite(
            insert_or_ignore(store.engine.dialect, ht), ("user_id", "tweet_id", "author_id")
        )
        # PostgreSQL: many rows as three arrays in one statement (INSERT ... SELECT FROM unnest):
        # a third of the time of a multi-row VALUES insert for 10,000 rows, and far fewer bound values.
        arrays = (
            sa.func.unnest(
                sa.bindparam("users", type_=postgresql.ARRAY(sa.BigInteger())),
                sa.bindparam("tweets", type_=postgresql.ARRAY(sa.BigInteger())),
                sa.bindparam("authors", type_=postgresql.ARRAY(sa.BigInteger())),
            )
            .table_valued("user_id", "tweet_id", "author_id")
            .render_derived(name="entries")
        )
        self._insert_arrays = (
            postgresql.insert(ht)
            .from_select(["user_id", "tweet_id", "author_id"], sa.select(arrays))
            .on_conflict_do_nothing()
        )
        # The users (of a list) whose timelines hold more than ``cap`` entries.
        self._over_cap = sa.select(ht.c.user_id).group_by(ht.c.user_id).having(sa.func.count() > cap)
        users = sa.bindparam("users", type_=postgresql.ARRAY(sa.BigInteger()))
        self._over_cap_any = self._over_cap.where(ht.c.user_id == sa.any_(users))
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
        params = {"u": user_id, "before": _NEWEST if before is None else before, "n": limit}
        ids = [int(r[0]) for r in await self.store.fetch(_PAGE, params)]
        # Rows are never lost, so only an empty first page can mean "never built".
        return ids, bool(ids) or before is not None

    async def add(self, entries: Sequence[Entry], tx: Transaction | None = None) -> None:
        if not entries:
            return
        if tx is not None:
            await self._write(tx, entries)
            return
        async with self.store.transaction() as own:
            await self._write(own, entries)

    async def maintain(self) -> None:
        while True:
            await asyncio.sleep(self.trim_interval_s)
            try:
                await self.trim_pending(pause_s=TRIM_PAUSE_S)
            except Exception:
                log.exception("trimming home timelines failed; will retry")

    async def trim_pending(self, *, everyone: bool = False, pause_s: float = 0.0) -> int:
        """Trim the timelines that are due (``everyone``: written to at all) to the cap; how many.

        ``pause_s`` is slept between two chunks (the background job's passes are spread out)."""
        if everyone:
            self._due.update(u for u, added in self._since_trim.items() if added)
        users, self._due = sorted(self._due), set()
        done = 0
        try:
            for chunk in _chunks(users, TRIM_CHUNK):
                if done and pause_s:
                    await asyncio.sleep(pause_s)  # spread a big pass: reads keep their share
                async with self.store.transaction() as tx:
                    await self._trim(tx.conn, chunk)
                for user_id in chunk:
                    self._since_trim[user_id] = 0
                done += len(chunk)
        finally:
            self._due.update(users[done:])  # not trimmed (failed or cancelled): next pass
        if len(self._since_trim) > MAX_TRACKED:  # forget the quiet ones: trimmed again on next write
            self._since_trim = {u: n for u, n in self._since_trim.items() if n}
        return done

    def _added(self, entries: Sequence[Entry]) -> None:
        for user_id, _, _ in entries:
            before = self._since_trim.get(user_id)
            now = 1 if before is None else before + 1
            self._since_trim[user_id] = now
            if before is None or now >= self.trim_slack:
                self._due.add(user_id)

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
                await self._write(tx, entries)
            await self._trim(tx.conn, [user_id])  # one timeline: exact at once, cheap
            self._since_trim[user_id] = 0
            self._due.discard(user_id)
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

    async def _write(self, tx: Transaction, entries: Sequence[Entry]) -> None:
        if self.store.is_sqlite:
            for chunk in _chunks(list(entries), WRITE_CHUNK):
                await tx.write_rows(
                    self._insert, [{"user_id": u, "tweet_id": t, "author_id": a} for u, t, a in chunk]
                )
        else:
            conn = tx.conn
            for chunk in _chunks(list(entries), ARRAY_CHUNK):
                users, tweets, authors = (list(column) for column in zip(*chunk, strict=True))
                params = {"users": users, "tweets": tweets, "authors": authors}
                await conn.execute(self._insert_arrays, params)
        self._added(entries)  # trimmed later by ``maintain`` (see the class)

    async def _trim(self, conn: AsyncConnection, user_ids: list[int]) -> None:
        """Keep the newest ``cap`` entries of these users; only those over the cap are touched."""
        for chunk in _chunks(user_ids, WRITE_CHUNK):
            if self.store.is_sqlite:
                over = (await conn.execute(self._over_cap.where(ht.c.user_id.in_(chunk)))).scalars()
            else:  # one array parameter: the same prepared statement whatever the chunk's size
                over = (await conn.execute(self._over_cap_any, {"users": chunk})).scalars()
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
    transactional = False  # Redis is not part of the SQL transaction

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

    async def maintain(self) -> None:
        return None

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
