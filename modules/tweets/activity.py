"""Authors' activity: how many statuses each has and when the newest was posted.

Counted in the transaction that posts or deletes a status, so a profile's count is never
behind its statuses. Direct tweets are not counted (they are messages, not the profile's
statuses); retweets are. Deleting a status does not move ``last_status_at`` back (Mastodon
does not either): it says when the author last posted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import Id, parse_id
from boundaries.tweets.dto import AuthorActivity
from modules.tweets.audience import DIRECT
from modules.tweets.tables import author_activity
from twitterclone.infra.sql import PerDialect, hot_read_utc, upsertable
from twitterclone.infra.store import HotRead, HotWrite, ModuleStore, Transaction

#: The most authors one call may ask about.
MAX_AUTHORS = 1000

_a = author_activity


def counts(visibility: str) -> bool:
    """Whether a status of this visibility counts among its author's statuses."""
    return visibility != DIRECT


def _posted(dialect: str) -> HotWrite:
    insert = upsertable(dialect, _a)
    return HotWrite(
        insert.on_conflict_do_update(
            index_elements=[_a.c.author_id],
            set_={
                "statuses_count": _a.c.statuses_count + 1,
                "last_status_at": insert.excluded.last_status_at,
            },
        ),
        ("author_id", "statuses_count", "last_status_at"),
    )


#: ``posted``'s upsert, built once per dialect (building it per post cost more than running it).
_POSTED = PerDialect(_posted)


async def posted(tx: Transaction, author: int, at: datetime) -> None:
    """One more status of ``author``, posted ``at`` (now)."""
    stmt = _POSTED(tx.conn)
    await tx.write(stmt, {"author_id": author, "statuses_count": 1, "last_status_at": at})


async def removed(conn: AsyncConnection, authors: Iterable[int]) -> None:
    """Statuses of these authors are gone (an author listed twice lost two); never below zero."""
    for author, n in Counter(authors).items():
        await conn.execute(
            sa.update(_a)
            .where(_a.c.author_id == author)
            .values(statuses_count=sa.case((_a.c.statuses_count > n, _a.c.statuses_count - n), else_=0))
        )


#: Some authors' rows (``ids``), as plain tuples: read for every page of new authors.
_BY_AUTHORS = HotRead(
    sa.select(_a.c.author_id, _a.c.statuses_count, _a.c.last_status_at).where(
        _a.c.author_id.in_(sa.bindparam("ids", expanding=True))
    )
)


async def activity_of(store: ModuleStore, author_ids: list[Id]) -> list[AuthorActivity]:
    """Every asked author's activity in the order asked (zero for one who never posted; what is
    no id at all left out)."""
    if len(author_ids) > MAX_AUTHORS:
        raise InvalidInput(f"ask about at most {MAX_AUTHORS} authors at once", field="author_ids")
    wanted = {a: i for a in dict.fromkeys(author_ids) if (i := parse_id(a)) is not None}
    ints = list(wanted.values())
    found = {row[0]: row for row in await store.fetch(_BY_AUTHORS, {"ids": ints})} if ints else {}
    out: list[AuthorActivity] = []
    for author_id, as_int in wanted.items():
        row = found.get(as_int)
        out.append(
            AuthorActivity(
                author_id=author_id,
                statuses_count=int(row[1]) if row else 0,
                last_status_at=hot_read_utc(row[2]) if row else None,
            )
        )
    return out
