"""The tweets module's copy of its authors' summaries (handle, display name).

Hydrating a page of tweets needs each author's handle and display name. The users module owns
them; asking it on every read made each home read cross one more process when split, and made
reads fail whenever users was down. So the module keeps a projection, ``authors``, fed by the
users module's events (``UserRegistered``, ``ProfileUpdated``), and asks users only for the
authors it has never heard of (accounts older than the projection, or whose event is still on
its way). What it learns that way is written to the projection off the read path, by a
background job, so a read never waits for SQLite's writer.

Every write keeps the newer of two versions (``updated_at``: the event's time, or the time of the
read from users), so a late or redelivered event never brings an old name back: applying an
event twice changes nothing.

Reads are served from memory: each process keeps the summaries it read from the projection for
``CACHE_S`` seconds (a home read then runs no statement for its authors, which was ~18 µs of
SQLite work for a page of twenty). Staleness is bounded either way: in the process that applies
an account's event (its consumer), the entry is dropped once the event's transaction commits, so
the next read there sees the new name at once; in every other process of the module (another
monolith worker, another tweets replica, which each consume only a share of the events) an entry
lives at most ``CACHE_S``, so a new handle or display name shows everywhere within ``CACHE_S`` of
the projection having it. Nothing else is cached: which tweets exist and their counts are read
fresh on every read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from boundaries._kernel.errors import Unavailable
from boundaries.users.directory import UserDirectoryPort
from boundaries.users.dto import Author
from boundaries.users.events import ProfileUpdated, UserRegistered
from modules.tweets.tables import authors
from twitterclone.infra.sql import upsertable
from twitterclone.infra.store import HotRead, ModuleStore, Transaction

log = logging.getLogger("twitterclone.tweets")

_BY_IDS = HotRead(
    sa.select(authors.c.id, authors.c.handle, authors.c.display_name).where(
        authors.c.id.in_(sa.bindparam("ids", expanding=True))
    )
)
#: (id, handle, display name, updated_at)
Row = tuple[int, str, str, float]

#: Seconds a process serves an author's summary from memory (see the module's docstring).
CACHE_S = 5.0
#: Summaries kept in memory at most (past that the expired ones go, then all).
MAX_CACHED = 100_000


class AuthorProjection:
    """Author summaries by id: from the module's own table, from users only for those it lacks."""

    def __init__(
        self,
        store: ModuleStore,
        users: UserDirectoryPort,
        *,
        fill_interval_s: float = 1.0,
        cache_s: float = CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._users = users
        self._fill_interval_s = fill_interval_s
        self._cache_s = cache_s
        self._clock = clock
        #: Learnt from users on reads, waiting to be written: id -> row.
        self._learnt: dict[int, Row] = {}
        #: Read from the projection: id -> (kept until, per ``clock``; the summary).
        self._cached: dict[int, tuple[float, Author]] = {}
        #: Bumped by every ``forget``: a read that began before one does not cache what it read.
        self._generation = 0
        #: How many authors were asked of users (for tests and metrics).
        self.asked = 0
        #: How many statements reads ran on the projection (for tests and metrics).
        self.reads = 0

    async def summaries(self, ids: Sequence[int]) -> dict[int, Author]:
        """The summaries of ``ids`` that anyone knows; unknown ids (or users down) are left out."""
        now = self._clock()
        cached = self._cached
        found: dict[int, Author] = {}
        unread: list[int] = []
        for i in ids:
            entry = cached.get(i)
            if entry is not None and entry[0] > now:
                found[i] = entry[1]
            else:
                unread.append(i)
        if not unread:
            return found
        self.reads += 1
        generation = self._generation
        rows = await self._store.fetch(_BY_IDS, {"ids": unread})
        if generation != self._generation:  # an event committed meanwhile: what we read may be older
            cached = {}
        elif len(cached) + len(rows) > MAX_CACHED:
            self._cached = cached = {k: v for k, v in cached.items() if v[0] > now}
            if len(cached) + len(rows) > MAX_CACHED:
                cached.clear()
        until = now + self._cache_s
        for r in rows:
            author = Author(id=str(r[0]), handle=r[1], display_name=r[2])
            found[r[0]] = author
            cached[r[0]] = (until, author)
        missing = [i for i in ids if i not in found and i not in self._learnt]
        found.update((i, _author(self._learnt[i])) for i in ids if i not in found and i in self._learnt)
        if not missing:
            return found
        self.asked += len(missing)
        now = time.time()
        try:
            fetched = await self._users.authors([str(i) for i in missing])
        except Unavailable:
            # Users is down: these few authors show bare for now; the tweets themselves still do.
            log.warning("users unavailable; authors left bare", extra={"authors": len(missing)})
            return found
        for a in fetched:
            self._learnt[int(a.id)] = (int(a.id), a.handle, a.display_name, now)
            found[int(a.id)] = a
        return found

    async def ids_by_handles(self, handles: Sequence[str]) -> dict[str, str]:
        """Mentioned handles (any case) to ids, from this projection alone: the fallback for
        posting while users is down. A handle the projection does not know stays unresolved,
        as one users does not know does."""
        lowered = {h.lower() for h in handles}
        if not lowered:
            return {}
        async with self._store.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(authors.c.id, authors.c.handle).where(
                        sa.func.lower(authors.c.handle).in_(lowered)
                    )
                )
            ).all()
        found = {str(r.handle).lower(): str(r.id) for r in rows}
        found.update((r[1].lower(), str(r[0])) for r in self._learnt.values() if r[1].lower() in lowered)
        return {h: found[h.lower()] for h in handles if h.lower() in found}

    async def apply(self, conn: AsyncConnection, rows: Iterable[Row]) -> None:
        """Write rows, each only over an older version (in the caller's transaction)."""
        values = [{"id": i, "handle": h, "display_name": d, "updated_at": t} for i, h, d, t in rows]
        if not values:
            return
        stmt = upsertable(conn, authors)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[authors.c.id],
                set_={
                    "handle": stmt.excluded.handle,
                    "display_name": stmt.excluded.display_name,
                    "updated_at": stmt.excluded.updated_at,
                },
                where=authors.c.updated_at <= stmt.excluded.updated_at,
            ),
            values,
        )

    async def apply_events(
        self, conn: AsyncConnection, events: Iterable[UserRegistered | ProfileUpdated]
    ) -> None:
        """Apply users' events: the newest version of each account wins."""
        await self.apply(
            conn,
            ((int(e.user_id), e.handle, e.display_name, e.occurred_at.timestamp()) for e in events),
        )

    async def apply_events_in(
        self, tx: Transaction, events: Sequence[UserRegistered | ProfileUpdated]
    ) -> None:
        """``apply_events`` in the consumer's transaction; this process's cached summaries of
        those accounts are dropped once it commits (so the next read here reads the new row)."""
        await self.apply_events(tx.conn, events)
        changed = [int(e.user_id) for e in events]

        async def forget() -> None:
            self.forget(changed)

        tx.after_commit(forget)

    def forget(self, ids: Iterable[int]) -> None:
        """Drop the cached summaries of ``ids``: the next read takes them from the projection."""
        self._generation += 1
        for i in ids:
            self._cached.pop(i, None)

    async def fill(self) -> int:
        """Write what reads learnt from users to the projection; how many rows."""
        if not self._learnt:
            return 0
        learnt, self._learnt = self._learnt, {}
        async with self._store.transaction() as tx:
            await self.apply(tx.conn, learnt.values())
        return len(learnt)

    async def fill_forever(self) -> None:
        """A background job: ``fill`` every ``fill_interval_s``."""
        while True:
            await asyncio.sleep(self._fill_interval_s)
            try:
                await self.fill()
            except Exception:  # the next round tries again; reads meanwhile ask users again
                log.exception("author projection fill failed")


def _author(row: Row) -> Author:
    return Author(id=str(row[0]), handle=row[1], display_name=row[2])
