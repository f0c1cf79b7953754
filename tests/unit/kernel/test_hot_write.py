"""HotWrite: the same rows written through the sqlite3 fast path as through SQLAlchemy, on SQLite
and PostgreSQL (dates and JSON converted as their column types convert them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from modules.tweets.tables import tweets
from tests.support.databases import Storage
from twitterclone.infra.sql import upsertable
from twitterclone.infra.store import HotWrite, ModuleStore

KEYS = ("id", "author_id", "text", "created_at", "conversation_id", "entities", "media_ids", "language")
INSERT = HotWrite(tweets.insert(), KEYS)
LIKED = HotWrite(
    sa.update(tweets)
    .where(tweets.c.id.in_(sa.bindparam("ids", expanding=True)))
    .values(like_count=tweets.c.like_count + sa.bindparam("n"))
    .returning(tweets.c.id, tweets.c.like_count),
    ("ids", "n"),
)


def row(i: int, at: datetime) -> dict[str, object]:
    return {
        "id": i,
        "author_id": 7,
        "text": f"tweet {i}",
        "created_at": at,
        "conversation_id": i,
        "entities": {"hashtags": ["#a"], "mentions": [], "urls": []},
        "media_ids": ["m1"] if i % 2 else [],
        "language": None,
    }


@pytest.fixture
async def store(storage: Storage) -> AsyncIterator[ModuleStore]:
    (url, schema) = (await storage.migrated(["tweets"]))["tweets"]
    s = ModuleStore("tweets", url, schema=schema)
    yield s
    await s.dispose()


async def test_rows_written_read_back_as_sqlalchemys_own(store: ModuleStore) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=2)))
    async with store.transaction() as tx:
        await tx.write(INSERT, row(1, at))
        await tx.write(INSERT, row(2, at))
        await tx.conn.execute(tweets.insert(), [row(3, at), row(4, at)])
    async with store.read() as conn:
        got = {r.id: r for r in await conn.execute(sa.select(tweets))}
    for hot, plain in ((1, 3), (2, 4)):
        a, b = got[hot]._asdict(), got[plain]._asdict()
        for differs in ("id", "text", "conversation_id", "media_ids"):
            a.pop(differs), b.pop(differs)
        assert a == b
    assert got[1].created_at == at.astimezone(UTC)
    assert got[1].entities == {"hashtags": ["#a"], "mentions": [], "urls": []}
    assert (got[1].media_ids, got[2].media_ids) == (["m1"], [])


async def test_returning_rows_in_lists_and_row_counts(store: ModuleStore) -> None:
    at = datetime.now(UTC)
    ignore = HotWrite(upsertable(store.engine.dialect.name, tweets).on_conflict_do_nothing(), KEYS)
    async with store.transaction() as tx:
        for i in (1, 2, 3):
            assert (await tx.write(ignore, row(i, at))).rowcount == 1
        assert (await tx.write(ignore, row(2, at))).rowcount == 0  # already there: skipped
        liked = await tx.write(LIKED, {"ids": [1, 3], "n": 2})
        assert sorted(liked.rows) == [(1, 2), (3, 2)]
        assert (await tx.write(LIKED, {"ids": [], "n": 1})).rows == []


async def test_many_rows_in_one_statement_return_what_they_wrote(store: ModuleStore) -> None:
    at = datetime.now(UTC)
    ignore = HotWrite(
        upsertable(store.engine.dialect.name, tweets).on_conflict_do_nothing().returning(tweets.c.id), KEYS
    )
    async with store.transaction() as tx:
        assert sorted((await tx.write_rows(ignore, [row(1, at), row(2, at)])).rows) == [(1,), (2,)]
        written = await tx.write_rows(ignore, [row(2, at), row(3, at), row(4, at)])
        assert sorted(written.rows) == [(3,), (4,)]  # 2 was there: skipped
        assert (await tx.write_rows(ignore, [])).rows == []
    async with store.read() as conn:
        got = {r.id: r for r in await conn.execute(sa.select(tweets))}
    assert sorted(got) == [1, 2, 3, 4]
    assert got[3].created_at == at
    assert got[3].media_ids == ["m1"]


def test_a_value_sqlalchemy_would_fill_in_is_refused() -> None:
    """A column default SQLAlchemy computes at execution is not computed here: named, not NULL."""
    t = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("n", default=0))
    with pytest.raises(ValueError, match="'n'"):
        HotWrite(t.insert(), ("id",)).sqlite_args({"id": 1})
