"""Live home timelines: what a timeline gained or lost since a position, waited for (streams).

Gains are read from the home timeline store itself (entries above the position, plus the newest
tweets of the popular authors the viewer follows, who are merged in at read time); the fan-out
wakes the waits of the timelines it wrote to. Losses are the deleted tweets, one row each in
``home_removals`` (kept ``REMOVALS_KEPT_S``), handed to the waits of the author's followers and
the author; a deletion wakes every wait. With Redis the wake-ups are also published to the
module's other replicas (``RedisWakeups``); waits re-read every ``poll_interval_s`` whatever happens.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import sqlalchemy as sa
from redis.asyncio import Redis

from boundaries._kernel.ids import Id, parse_id
from boundaries.timeline.dto import HomeChanges
from boundaries.tweets.events import TweetDeleted
from boundaries.tweets.port import TweetsPort
from boundaries.users.directory import UserDirectoryPort
from boundaries.users.errors import UserNotFound
from modules.timeline.home import HomeTimelineStore
from modules.timeline.popular import PopularFollowees
from modules.timeline.tables import metadata
from twitterclone.infra.events import Handle
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.live import RedisWakeups, Seen, Waiters, join_position, split_position
from twitterclone.infra.store import ModuleStore, Transaction

#: Deleted tweets, remembered long enough for every open stream to hear of them.
home_removals = sa.Table(
    "home_removals",
    metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("tweet_id", sa.BigInteger(), nullable=False),
    sa.Column("author_id", sa.BigInteger(), nullable=False),
    sa.Column("removed_at", sa.Float(), nullable=False),
)

#: Seconds a deletion stays in ``home_removals``.
REMOVALS_KEPT_S = 600.0
#: Newest entries of a timeline (and removals) read per look.
LOOK_BATCH = 100
#: Newest tweets per popular followee looked at.
POPULAR_LOOK = 20
#: Seconds between the re-reads of a wait (changes written by another replica).
POLL_INTERVAL_S = 0.4


class LiveHome:
    """Implements ``home_changes`` for the timeline service, and records its deletions."""

    def __init__(
        self,
        store: ModuleStore,
        ids: IdGenerator,
        home: HomeTimelineStore,
        popular: PopularFollowees,
        users: UserDirectoryPort,
        tweets: TweetsPort,
        *,
        poll_interval_s: float = POLL_INTERVAL_S,
        redis: Redis | None = None,
        key_prefix: str = "",
    ) -> None:
        self.store = store
        self.ids = ids
        self.home = home
        self.popular = popular
        self.users = users
        self.tweets = tweets
        self.waiters = Waiters(poll_interval_s)
        #: With Redis, wake-ups reach the waits held by the module's other replicas at once.
        self.wakeups = (
            RedisWakeups(redis, f"{key_prefix}live:home", self.waiters) if redis is not None else None
        )

    async def changes(self, user_id: Id, after: str | None, timeout_s: float) -> HomeChanges:
        uid = parse_id(user_id)
        if uid is None:
            raise UserNotFound(f"no user {user_id!r}")
        if after is None:
            added_at, removed_at = await self._now(uid)
            return HomeChanges(position=join_position(added_at, removed_at))
        added_pos, removed_pos = split_position(after, 2, "after")

        async def look() -> _Look:
            added = added_pos.new(await self._newest_ids(uid))
            rows = await self._removals(removed_pos)
            return _Look(added, rows, await self._of_interest(user_id, uid, rows))

        found = await self.waiters.wait(uid, timeout_s, look, lambda r: bool(r.added or r.removed))
        return HomeChanges(
            added=[str(i) for i in found.added],
            removed=[str(i) for i in found.removed],
            position=join_position(added_pos.after(found.added), removed_pos.after(r[0] for r in found.rows)),
        )

    async def touched(self, user_ids: Iterable[int]) -> None:
        """Timelines that just gained entries (after the write)."""
        if self.wakeups is not None:
            await self.wakeups.announce(user_ids)
        else:
            self.waiters.wake(user_ids)

    async def listen(self) -> None:
        """A background job: wake-ups published by the other replicas (returns at once without Redis)."""
        if self.wakeups is not None:
            await self.wakeups.listen()

    def record_removals(self, events: list[TweetDeleted]) -> Handle[TweetDeleted]:
        """The write, in the consumer's transaction, of the deletions; waits wake after it."""

        async def write(tx: Transaction, fresh: list[TweetDeleted]) -> None:
            now = time.time()
            r = home_removals
            await tx.conn.execute(sa.delete(r).where(r.c.removed_at < now - REMOVALS_KEPT_S))
            if not fresh:
                return
            rows = [
                {
                    "id": self.ids.next_int(),
                    "tweet_id": int(e.tweet_id),
                    "author_id": int(e.author_id),
                    "removed_at": now,
                }
                for e in fresh
            ]
            await tx.conn.execute(sa.insert(home_removals), rows)

            async def wake() -> None:
                if self.wakeups is not None:
                    await self.wakeups.announce(None)
                else:
                    self.waiters.wake_all()

            tx.after_commit(wake)

        return write

    # --- internals ---------------------------------------------------------------------------

    async def _now(self, uid: int) -> tuple[Seen, Seen]:
        return Seen.starting_now(await self._newest_ids(uid)), Seen.starting_now(await self._removal_ids())

    async def _newest_ids(self, uid: int) -> list[int]:
        stored, _ = await self.home.page(uid, None, LOOK_BATCH)
        ids = set(stored)
        popular = await self.popular.followees(uid)
        if popular:  # their tweets are not fanned out: merged in here as on a home read
            refs = await self.tweets.recent_refs([str(a) for a in popular], POPULAR_LOOK)
            ids.update(int(r.tweet_id) for r in refs)
        return sorted(ids)

    async def _removal_ids(self, above: int = 0) -> list[int]:
        r = home_removals
        query = sa.select(r.c.id).where(r.c.id > above).order_by(r.c.id.desc()).limit(LOOK_BATCH)
        async with self.store.read() as conn:
            return [int(i) for i in (await conn.execute(query)).scalars()]

    async def _removals(self, position: Seen) -> list[tuple[int, int, int]]:
        """Deletions past the position: (row id, tweet id, author id), oldest first."""
        r = home_removals
        query = (
            sa.select(r.c.id, r.c.tweet_id, r.c.author_id)
            .where(r.c.id > position.floor)
            .order_by(r.c.id.asc())
            .limit(LOOK_BATCH)
        )
        async with self.store.read() as conn:
            rows = [(int(a), int(b), int(c)) for a, b, c in (await conn.execute(query)).all()]
        fresh = set(position.new(row[0] for row in rows))
        return [row for row in rows if row[0] in fresh]

    async def _of_interest(self, user_id: Id, uid: int, rows: list[tuple[int, int, int]]) -> list[int]:
        """The deleted tweets the timeline may have held: the user's own and their followees'."""
        if not rows:
            return []
        authors = {uid}
        if any(author != uid for _, _, author in rows):
            try:
                authors.update(int(f) for f in await self.users.following_ids(user_id))
            except UserNotFound:
                return []
        return [tweet for _, tweet, author in rows if author in authors]


class _Look:
    """What one look at a timeline found."""

    __slots__ = ("added", "removed", "rows")

    def __init__(self, added: list[int], rows: list[tuple[int, int, int]], removed: list[int]) -> None:
        self.added = added
        self.rows = rows
        self.removed = removed
