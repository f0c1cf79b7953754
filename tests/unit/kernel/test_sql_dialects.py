"""The kernel's storage helpers behave the same on SQLite and PostgreSQL.

``insert_or_ignore``/``upsertable`` (conflicts skipped or updated), ``UtcDateTime`` (always
aware UTC back), the full-text index (FTS5 or tsvector columns), and ``HotWrite`` (the same rows
through the sqlite3 fast path as through SQLAlchemy, dates and JSON converted as their column
types convert them) — each run on both storages against the tweets module's migrated tables,
where the module uses them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from modules.tweets.tables import SEARCH_FIELDS, SQLITE_FTS_TABLE, likes, tweets
from tests.support.databases import Storage
from twitterclone.infra.search import Term, full_text_index
from twitterclone.infra.sql import PerDialect, as_utc, greatest, insert_or_ignore, upsertable
from twitterclone.infra.store import HotRead, HotWrite, ModuleStore

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
async def store(storage: Storage) -> AsyncIterator[ModuleStore]:
    (url, schema) = (await storage.migrated(["tweets"]))["tweets"]
    s = ModuleStore("tweets", url, schema=schema)
    yield s
    await s.dispose()


def _tweet(tweet_id: int, text: str, created_at: datetime = T0) -> dict[str, object]:
    return {
        "id": tweet_id,
        "author_id": 1,
        "text": text,
        "created_at": created_at,
        "conversation_id": tweet_id,
        "entities": {},
        "media_ids": [],
    }


async def test_insert_or_ignore_skips_a_row_whose_key_exists(store: ModuleStore) -> None:
    async with store.transaction() as tx:
        first = await tx.conn.execute(
            insert_or_ignore(tx.conn, likes).values(user_id=1, tweet_id=2, created_at=T0)
        )
        again = await tx.conn.execute(
            insert_or_ignore(tx.conn, likes).values(user_id=1, tweet_id=2, created_at=T0 + timedelta(1))
        )
    assert (first.rowcount, again.rowcount) == (1, 0)
    async with store.read() as conn:
        rows = (await conn.execute(sa.select(likes.c.created_at))).scalars().all()
    assert rows == [T0]  # the first write stands


async def test_upsertable_updates_on_conflict_with_the_excluded_row(store: ModuleStore) -> None:
    async with store.transaction() as tx:
        for when in (T0, T0 + timedelta(hours=1)):
            stmt = upsertable(tx.conn, likes).values(user_id=1, tweet_id=2, created_at=when)
            await tx.conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[likes.c.user_id, likes.c.tweet_id],
                    set_={"created_at": stmt.excluded.created_at},
                )
            )
    async with store.read() as conn:
        assert (await conn.execute(sa.select(likes.c.created_at))).scalars().all() == [
            T0 + timedelta(hours=1)
        ]


async def test_timestamps_come_back_aware_in_utc_whatever_was_written(store: ModuleStore) -> None:
    paris = timezone(timedelta(hours=1))
    async with store.transaction() as tx:
        await tx.conn.execute(
            sa.insert(tweets),
            [
                _tweet(1, "aware elsewhere", T0.astimezone(paris)),
                _tweet(2, "naive means utc", T0.replace(tzinfo=None)),
            ],
        )
    async with store.read() as conn:
        got = (await conn.execute(sa.select(tweets.c.created_at).order_by(tweets.c.id))).scalars().all()
    assert got == [T0, T0]
    assert all(g.tzinfo is not None and g.utcoffset() == timedelta(0) for g in got)


def test_as_utc_keeps_the_instant() -> None:
    moment = datetime(2026, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=-4)))
    assert as_utc(moment) == moment
    assert as_utc(moment).utcoffset() == timedelta(0)
    assert as_utc(datetime(2026, 5, 1, 12, 0)) == datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def test_full_text_index_finds_every_term_newest_first_below_the_cursor(store: ModuleStore) -> None:
    index = full_text_index(
        store, table="tweets", key="id", fields=SEARCH_FIELDS, fts5_table=SQLITE_FTS_TABLE
    )
    docs = {
        10: ("red apples and green pears", "fruit"),
        11: ("green apples", "fruit autumn"),
        12: ("a red car", "cars"),
    }
    async with store.transaction() as tx:
        for doc_id, (body, tags) in docs.items():
            await tx.conn.execute(sa.insert(tweets).values(**_tweet(doc_id, body)))
            await index.add(tx, doc_id, {"body": body, "tags": tags})

    async def ids(*terms: Term, before: int = 100, limit: int = 10) -> list[int]:
        async with store.read() as conn:
            return await index.search(conn, list(terms), before, limit)

    assert await ids(Term("body", "apples")) == [11, 10]
    assert await ids(Term("body", "apples"), Term("tags", "autumn")) == [11]
    assert await ids(Term("body", "red apples")) == [10]  # a phrase, in order
    assert await ids(Term("body", "apples red")) == []
    assert await ids(Term("tags", "red")) == []  # fields are apart
    assert await ids(Term("body", "apples"), before=11) == [10]
    assert await ids(Term("body", "red"), limit=1) == [12]
    assert await ids() == []

    async with store.transaction() as tx:
        await index.remove(tx.conn, 12)
        await tx.conn.execute(sa.delete(tweets).where(tweets.c.id == 12))
    assert await ids(Term("body", "red")) == [10]


@pytest.mark.parametrize(
    "term",
    [Term("nope", "word"), Term("body", 'word" OR "x'), Term("body", "two  spaces"), Term("body", "")],
)
async def test_full_text_index_refuses_terms_it_cannot_quote_safely(store: ModuleStore, term: Term) -> None:
    index = full_text_index(
        store, table="tweets", key="id", fields=SEARCH_FIELDS, fts5_table=SQLITE_FTS_TABLE
    )
    async with store.read() as conn:
        with pytest.raises(ValueError, match=r"field|phrase"):
            await index.search(conn, [term], 100, 10)


async def test_greatest_is_the_larger_value_on_both_storages(store: ModuleStore) -> None:
    async with store.read() as conn:
        got = (await conn.execute(sa.select(greatest(sa.literal(3), sa.literal(7), sa.literal(5))))).scalar()
    assert got == 7


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


async def test_more_rows_than_one_statement_may_bind_are_all_written(store: ModuleStore) -> None:
    """On SQLite a statement binds at most the connection's limit of values (32,766 by default,
    lowered here to 100): 50 rows of 8 values go as several statements, all of them written."""
    at = datetime.now(UTC)
    async with store.transaction() as tx:
        raw = getattr(tx.conn, "dbapi", None)  # the loop's SQLite writer: its sqlite3 connection
        if isinstance(raw, sqlite3.Connection):
            before = raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)
        try:
            await tx.write_rows(INSERT, [row(i, at) for i in range(1, 51)])
        finally:
            if isinstance(raw, sqlite3.Connection):
                raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, before)
    async with store.read() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(tweets))).scalar() == 50


async def test_a_hot_read_in_a_transaction_sees_its_uncommitted_writes(store: ModuleStore) -> None:
    """``Transaction.fetch`` reads in the transaction (what it wrote, not yet committed), with
    IN lists, literals and a parameter used twice, as ``ModuleStore.fetch`` reads outside one."""
    at = datetime.now(UTC)
    by_ids = HotRead(
        sa.union_all(
            sa.select(sa.literal(0), tweets.c.id).where(tweets.c.id.in_(sa.bindparam("ids", expanding=True))),
            sa.select(sa.literal(1), tweets.c.id).where(tweets.c.id == sa.bindparam("one")),
            sa.select(sa.literal(2), tweets.c.id).where(tweets.c.conversation_id == sa.bindparam("one")),
        )
    )
    async with store.transaction() as tx:
        await tx.write_rows(INSERT, [row(1, at), row(2, at), row(3, at)])
        got = await tx.fetch(by_ids, {"ids": [1, 3, 9], "one": 2})
        assert sorted((int(k), int(i)) for k, i in got) == [(0, 1), (0, 3), (1, 2), (2, 2)]
        assert await tx.fetch(by_ids, {"ids": [], "one": 9}) == []
    assert sorted(await store.fetch(by_ids, {"ids": [2], "one": 1})) == [(0, 2), (1, 1), (2, 1)]


def test_a_value_sqlalchemy_would_fill_in_is_refused() -> None:
    """A column default SQLAlchemy computes at execution is not computed here: named, not NULL."""
    t = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("n", default=0))
    with pytest.raises(ValueError, match="'n'"):
        HotWrite(t.insert(), ("id",)).sqlite_args({"id": 1})


async def test_per_dialect_builds_once_for_each_dialect_and_runs_on_it(store: ModuleStore) -> None:
    built: list[str] = []

    def build(dialect: str) -> HotWrite:
        built.append(dialect)
        return HotWrite(insert_or_ignore(dialect, likes), ("user_id", "tweet_id", "created_at"))

    insert_like = PerDialect(build)
    async with store.transaction() as tx:
        first = await tx.write(insert_like(tx.conn), {"user_id": 1, "tweet_id": 2, "created_at": T0})
        again = await tx.write(insert_like(tx.conn), {"user_id": 1, "tweet_id": 2, "created_at": T0})
    assert (first.rowcount, again.rowcount) == (1, 0)
    ours = store.engine.dialect.name
    assert built == [ours]  # built on first use, then kept
    other = "postgresql" if ours == "sqlite" else "sqlite"
    assert insert_like(other) is not insert_like(ours)
    assert insert_like(other) is insert_like(other)
    assert built == [ours, other]
