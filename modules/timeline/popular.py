"""Popular followees, kept by the timeline module from the follow events it consumes.

Home timelines are hybrid: an author with ``threshold`` followers or more is not fanned out, and
their tweets are merged in when a follower reads. Both sides need to know who is popular: the
fan-out (per author) and the read (which of the viewer's followees). Asking the users module each
time cost a call per home read and one per fan-out batch, so the module keeps what it needs:

- ``author_followers``: each author's follower count, as the newest follow event told it
  (``UserFollowed``/``UserUnfollowed`` carry the followee's count after the change);
- ``popular_follows``: the edges from a viewer to the popular authors they follow;
- ``popular_viewers``: the viewers whose edges are complete (for which threshold), with a version
  that every follow event of theirs bumps;
- ``popular_backfills``: authors that just crossed the threshold, whose followers' edges a
  background job adds (paging the users module's ``follower_ids``, outside any event's transaction).

A viewer not yet complete (the projection is younger than their follows, or the threshold changed)
is completed on their first read from users' ``popular_following_ids``, once: the edges are written
only if no follow event of theirs arrived meanwhile (the version is unchanged), so a concurrent
unfollow is never undone. An author the counts have never seen (no follow since the projection
began) is asked of users once, at fan-out. The consumer applies each event once, in order (the
kernel's inbox); counts keep the newest version by the event's time all the same.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from boundaries.users.directory import UserDirectoryPort
from boundaries.users.events import UserFollowed, UserUnfollowed
from modules.timeline.tables import author_followers, popular_backfills, popular_follows, popular_viewers
from twitterclone.infra.sql import PerDialect, insert_or_ignore, upsertable
from twitterclone.infra.store import HotRead, HotWrite, ModuleStore, Transaction

log = logging.getLogger("twitterclone.timeline")

#: ``complete_for`` of a viewer whose edges may miss some popular followee.
INCOMPLETE = -1
#: Follower ids asked of users per page while back-filling an author who became popular.
BACKFILL_PAGE = 5000

#: A viewer's state and their edges in one statement (every home read runs it): one row per edge,
#: or one with a null followee when there are none; no row for a viewer the projection never saw.
_VIEWER_AND_FOLLOWEES = HotRead(
    sa.select(popular_viewers.c.complete_for, popular_viewers.c.version, popular_follows.c.followee_id)
    .select_from(
        popular_viewers.outerjoin(
            popular_follows, popular_follows.c.follower_id == popular_viewers.c.viewer_id
        )
    )
    .where(popular_viewers.c.viewer_id == sa.bindparam("viewer"))
)
_COUNTS = HotRead(
    sa.select(author_followers.c.author_id, author_followers.c.followers).where(
        author_followers.c.author_id.in_(sa.bindparam("ids", expanding=True))
    )
)


class PopularFollowees:
    """Who is popular, and which popular authors each viewer follows."""

    def __init__(
        self,
        store: ModuleStore,
        users: UserDirectoryPort,
        threshold: int,
        *,
        backfill_interval_s: float = 1.0,
    ) -> None:
        self.store = store
        self.users = users
        self.threshold = threshold
        self.backfill_interval_s = backfill_interval_s
        #: Calls made to users because the projection did not know yet (for tests and metrics).
        self.asked_viewers = 0
        self.asked_authors = 0

    # --- reads --------------------------------------------------------------------------------

    async def followees(self, viewer_id: int) -> list[int]:
        """The popular authors ``viewer_id`` follows (completing the viewer from users once)."""
        rows = await self.store.fetch(_VIEWER_AND_FOLLOWEES, {"viewer": viewer_id})
        if rows and rows[0][0] == self.threshold:
            return [r[2] for r in rows if r[2] is not None]
        complete_for, version = (rows[0][0], rows[0][1]) if rows else (INCOMPLETE, None)
        self.asked_viewers += 1
        ids = [int(i) for i in await self.users.popular_following_ids(str(viewer_id), self.threshold)]
        # Edges kept for another threshold are wrong for this one; edges of an incomplete viewer
        # are right but maybe too few (the completion only adds).
        await self._complete(viewer_id, ids, version, replace=complete_for != INCOMPLETE)
        return ids

    async def follower_counts(self, author_ids: Sequence[int]) -> dict[int, int]:
        """The follower counts of these authors (those neither the events nor users know are left out)."""
        counts: dict[int, int] = dict(await self.store.fetch(_COUNTS, {"ids": list(author_ids)}))
        unknown = [a for a in author_ids if a not in counts]
        if unknown:
            self.asked_authors += len(unknown)
            asked_at = time.time()
            learnt = {
                int(p.id): p.followers_count for p in await self.users.profiles([str(a) for a in unknown])
            }
            if learnt:
                async with self.store.transaction() as tx:
                    await self._write_counts(tx, [(a, n, asked_at) for a, n in learnt.items()])
            counts.update(learnt)
        return counts

    async def popular(self, author_ids: Sequence[int]) -> set[int]:
        """Which of these authors have ``threshold`` followers or more."""
        counts = await self.follower_counts(author_ids)
        return {a for a in author_ids if counts.get(a, 0) >= self.threshold}

    # --- events -------------------------------------------------------------------------------

    async def apply(self, tx: Transaction, events: Iterable[UserFollowed | UserUnfollowed]) -> None:
        """Apply follow events in order, in the caller's transaction."""
        conn = tx.conn
        counts: list[tuple[int, int, float]] = []
        for e in events:
            follower, followee = int(e.follower_id), int(e.followee_id)
            n = e.followee_followers
            edge = popular_follows.c
            await self._touch(tx, follower, known=n is not None or isinstance(e, UserUnfollowed))
            if n is None:
                # From a users version that does not say the count. An unfollow still ends the
                # edge; a follow leaves the viewer incomplete (``_touch``): completed on next read.
                if isinstance(e, UserUnfollowed):
                    await conn.execute(
                        sa.delete(popular_follows).where(
                            edge.follower_id == follower, edge.followee_id == followee
                        )
                    )
                continue
            counts.append((followee, n, e.occurred_at.timestamp()))
            if isinstance(e, UserFollowed):
                if n >= self.threshold:
                    await conn.execute(
                        insert_or_ignore(conn, popular_follows).values(
                            follower_id=follower, followee_id=followee
                        )
                    )
                if n == self.threshold:  # just became popular: every follower needs the edge
                    await conn.execute(insert_or_ignore(conn, popular_backfills).values(author_id=followee))
            else:
                await conn.execute(
                    sa.delete(popular_follows).where(
                        edge.follower_id == follower, edge.followee_id == followee
                    )
                )
                if n == self.threshold - 1:  # no longer popular: fanned out again from now on
                    await conn.execute(sa.delete(popular_follows).where(edge.followee_id == followee))
                    await conn.execute(
                        sa.delete(popular_backfills).where(popular_backfills.c.author_id == followee)
                    )
        await self._write_counts(tx, counts)

    # --- background ---------------------------------------------------------------------------

    async def backfill_once(self) -> int:
        """Add the edges of every follower of the authors that just became popular; how many authors."""
        async with self.store.read() as conn:
            authors = [
                int(a) for a in (await conn.execute(sa.select(popular_backfills.c.author_id))).scalars()
            ]
        for author in authors:
            cursor: str | None = None
            while True:
                page = await self.users.follower_ids(str(author), cursor, BACKFILL_PAGE)
                if page.ids:
                    async with self.store.transaction() as tx:
                        await tx.conn.execute(
                            insert_or_ignore(tx.conn, popular_follows),
                            [{"follower_id": int(f), "followee_id": author} for f in page.ids],
                        )
                cursor = page.next_cursor
                if not cursor or not page.ids:
                    break
            async with self.store.transaction() as tx:
                await tx.conn.execute(
                    sa.delete(popular_backfills).where(popular_backfills.c.author_id == author)
                )
        return len(authors)

    async def backfill_forever(self) -> None:
        """A background job of the module: ``backfill_once`` every ``backfill_interval_s``."""
        while True:
            try:
                await self.backfill_once()
            except Exception:  # the row stays: the next round tries again
                log.exception("popular back-fill failed")
            await asyncio.sleep(self.backfill_interval_s)

    # --- storage ------------------------------------------------------------------------------

    async def _touch(self, tx: Transaction, viewer_id: int, *, known: bool) -> None:
        """A follow event of this viewer's: bump the version, so a completion in flight does not write.

        ``known``: the event kept the viewer's edges right (otherwise the viewer is incomplete).
        """
        params = {"viewer_id": viewer_id, "complete_for": INCOMPLETE, "version": 1}
        await tx.write(_WRITES(tx.conn).touch[known], params)

    async def _complete(
        self, viewer_id: int, followees: list[int], version: int | None, *, replace: bool
    ) -> None:
        """Write a viewer's edges as users gave them, unless a follow event of theirs came meanwhile."""
        v = popular_viewers.c
        async with self.store.transaction() as tx:
            conn = tx.conn
            if version is None:
                done = await conn.execute(
                    insert_or_ignore(conn, popular_viewers).values(
                        viewer_id=viewer_id, complete_for=self.threshold, version=0
                    )
                )
            else:
                done = await conn.execute(
                    sa.update(popular_viewers)
                    .where(v.viewer_id == viewer_id, v.version == version)
                    .values(complete_for=self.threshold)
                )
            if done.rowcount != 1:
                return  # a follow event came in between: the next read completes the viewer afresh
            if replace:
                await conn.execute(
                    sa.delete(popular_follows).where(popular_follows.c.follower_id == viewer_id)
                )
            if followees:
                await conn.execute(
                    insert_or_ignore(conn, popular_follows),
                    [{"follower_id": viewer_id, "followee_id": f} for f in followees],
                )

    async def _write_counts(self, tx: Transaction, counts: list[tuple[int, int, float]]) -> None:
        newest: dict[int, tuple[int, float]] = {}
        for author, n, at in counts:
            if author not in newest or newest[author][1] <= at:
                newest[author] = (n, at)
        if not newest:
            return
        rows = [{"author_id": a, "followers": n, "updated_at": at} for a, (n, at) in newest.items()]
        await tx.write_rows(_WRITES(tx.conn).counts, rows)


class _Writes:
    """The writes every follow event makes here, built once per dialect (``_WRITES``): a
    statement built per event cost more than SQLite takes to run it."""

    def __init__(self, dialect: str) -> None:
        v = popular_viewers.c
        #: ``known`` -> bump the viewer's version (a new viewer starts incomplete, at version 1);
        #: when not known, the viewer becomes incomplete as well
        self.touch: dict[bool, HotWrite] = {}
        for known in (True, False):
            changes: dict[str, object] = {"version": v.version + 1}
            if not known:
                changes["complete_for"] = INCOMPLETE
            stmt = upsertable(dialect, popular_viewers).on_conflict_do_update(
                index_elements=[v.viewer_id], set_=changes
            )
            self.touch[known] = HotWrite(stmt, ("viewer_id", "complete_for", "version"))
        #: an author's follower count, unless a newer one is there already
        counts = upsertable(dialect, author_followers)
        self.counts = HotWrite(
            counts.on_conflict_do_update(
                index_elements=[author_followers.c.author_id],
                set_={"followers": counts.excluded.followers, "updated_at": counts.excluded.updated_at},
                where=author_followers.c.updated_at <= counts.excluded.updated_at,
            ),
            ("author_id", "followers", "updated_at"),
        )


#: The follow events' writes, built once per dialect.
_WRITES = PerDialect(_Writes)
