"""A viewer's blocks (either way) and mutes, kept in memory while their silence version stands.

Every signed-in page asks how the viewer stands to its authors (``Graph.standings``); blocks and
mutes change rarely next to reads. So each process keeps a viewer's whole list of them together
with the viewer's ``silence_versions`` number it was read under, and every read first reads that
number (one primary-key row): the kept list is used only while it is unchanged. Triggers bump the
number of both users in the transaction that makes or lifts a block or mute (migration 0007), so
a change made by any process, or by hand in SQL, is seen by every process on its next read, as
when the silences were read on every read. The number is read before the list, so a list is never
kept under a number older than what it shows.

A viewer with more than ``MAX_KEPT`` silences is not kept (their pages ask about their authors as
before); at most ``MAX_VIEWERS`` viewers are kept per process, the longest kept leaving first.
Follows are not kept: they change often, and are asked afresh where a page needs them.
"""

from __future__ import annotations

import sqlalchemy as sa

from modules.users.tables import blocks, mutes, silence_versions
from twitterclone.infra.store import HotRead, ModuleStore

#: Viewers whose silences one process keeps.
MAX_VIEWERS = 10_000
#: The most silences (blocks either way and mutes) a viewer may have to be kept.
MAX_KEPT = 1_000

#: Kinds of silence as the statements below return them (the bit ``1 << kind`` in a kept list):
#: 1 the viewer blocks the user, 2 the user blocks the viewer, 3 the viewer mutes the user.
BLOCKING, BLOCKED_BY, MUTING = 1, 2, 3

_VERSION = HotRead(
    sa.select(silence_versions.c.version).where(silence_versions.c.user_id == sa.bindparam("viewer"))
)


def _silences(among: bool) -> HotRead:
    """(user id, kind) of the viewer's silences: with all of them, or only among ``ids``."""
    parts = []
    for table, subject, other, kind in (
        (blocks, blocks.c.blocker_id, blocks.c.blocked_id, BLOCKING),
        (blocks, blocks.c.blocked_id, blocks.c.blocker_id, BLOCKED_BY),
        (mutes, mutes.c.muter_id, mutes.c.muted_id, MUTING),
    ):
        where = [subject == sa.bindparam("viewer")]
        if among:
            where.append(other.in_(sa.bindparam("ids", expanding=True)))
        parts.append(sa.select(other, sa.literal(kind)).select_from(table).where(*where))
    union = sa.union_all(*parts)
    return HotRead(union if among else union.limit(sa.bindparam("limit")))


#: Every silence of a viewer (up to ``limit`` rows): what is kept.
_ALL = _silences(among=False)
#: The silences between a viewer and some users (``ids``): for viewers too silent to keep.
_AMONG = _silences(among=True)


class Silences:
    """The viewer's silences towards some users, as fresh as the database's on every call."""

    def __init__(
        self, store: ModuleStore, *, max_viewers: int = MAX_VIEWERS, max_kept: int = MAX_KEPT
    ) -> None:
        self._store = store
        self._max_viewers = max_viewers
        self._max_kept = max_kept
        #: viewer -> (their silence version, user -> bits of the kinds of silence with them)
        self._kept: dict[int, tuple[int, dict[int, int]]] = {}

    async def among(self, viewer: int, users: list[int], *, version: int | None = None) -> dict[int, int]:
        """The users of ``users`` in some silence with ``viewer``, each with its kinds' bits.

        ``version``: the viewer's silence version, when the caller has just read it (in one
        statement with something else it needed); else it is read here.
        """
        if version is None:
            rows = await self._store.fetch(_VERSION, {"viewer": viewer})
            version = rows[0][0] if rows else 0
        kept = self._kept.get(viewer)
        if kept is None or kept[0] != version:
            listed = await self._store.fetch(_ALL, {"viewer": viewer, "limit": self._max_kept + 1})
            if len(listed) > self._max_kept:
                self._kept.pop(viewer, None)
                return _bits(await self._store.fetch(_AMONG, {"viewer": viewer, "ids": users}))
            if viewer not in self._kept and len(self._kept) >= self._max_viewers:
                del self._kept[next(iter(self._kept))]
            kept = (version, _bits(listed))
            self._kept[viewer] = kept
        silenced = kept[1]
        return {u: silenced[u] for u in users if u in silenced} if silenced else {}


def _bits(rows: list[tuple[int, int]]) -> dict[int, int]:
    found: dict[int, int] = {}
    for user, kind in rows:
        found[user] = found.get(user, 0) | 1 << kind
    return found
