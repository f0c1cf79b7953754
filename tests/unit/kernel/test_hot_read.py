"""HotRead: the same rows from the sqlite3 fast path as from SQLAlchemy, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from modules.users.tables import follows, users
from tests.support.databases import Storage
from twitterclone.infra.store import HotRead, ModuleStore

NOW = datetime.now(UTC)

FOLLOWEES = HotRead(
    sa.select(follows.c.followee_id, sa.literal(7))
    .where(
        follows.c.follower_id == sa.bindparam("who"),
        follows.c.followee_id.in_(sa.bindparam("among", expanding=True)),
    )
    .union_all(
        sa.select(users.c.id, sa.literal(8)).where(users.c.id.in_(sa.bindparam("ids", expanding=True)))
    )
    .order_by(sa.text("1"))
)
PAGE = HotRead(
    sa.select(users.c.id, users.c.handle)
    .where(users.c.id < sa.bindparam("before"))
    .order_by(users.c.id.desc())
    .limit(sa.bindparam("n"))
)


@pytest.fixture
async def store(storage: Storage) -> AsyncIterator[ModuleStore]:
    (url, schema) = (await storage.migrated(["users"]))["users"]
    s = ModuleStore("users", url, schema=schema)
    async with s.transaction() as tx:
        await tx.conn.execute(
            users.insert(),
            [
                {
                    "id": i,
                    "handle": f"u{i}",
                    "handle_lower": f"u{i}",
                    "handle_skeleton": f"u{i}",
                    "email": f"u{i}@example.org",
                    "password_hash": "x",
                    "display_name": f"U {i}",
                    "created_at": NOW,
                }
                for i in range(1, 6)
            ],
        )
        await tx.conn.execute(
            follows.insert(), [{"follower_id": 1, "followee_id": f, "created_at": NOW} for f in (2, 3, 4)]
        )
    yield s
    await s.dispose()


async def test_lists_of_any_length_and_literals_bind_in_order(store: ModuleStore) -> None:
    rows = await store.fetch(FOLLOWEES, {"who": 1, "among": [3, 4, 5], "ids": [5]})
    assert sorted(rows) == [(3, 7), (4, 7), (5, 8)]
    rows = await store.fetch(FOLLOWEES, {"who": 1, "among": [2], "ids": [1, 2, 3]})
    assert sorted(rows) == [(1, 8), (2, 7), (2, 8), (3, 8)]


async def test_an_empty_list_matches_nothing(store: ModuleStore) -> None:
    assert await store.fetch(FOLLOWEES, {"who": 1, "among": [], "ids": []}) == []
    assert await store.fetch(FOLLOWEES, {"who": 1, "among": [2], "ids": []}) == [(2, 7)]


async def test_limits_and_plain_values(store: ModuleStore) -> None:
    assert await store.fetch(PAGE, {"before": 5, "n": 2}) == [(4, "u4"), (3, "u3")]
    assert await store.fetch(PAGE, {"before": 1, "n": 2}) == []


async def test_a_read_sees_the_latest_commit(store: ModuleStore) -> None:
    assert await store.fetch(PAGE, {"before": 100, "n": 1}) == [(5, "u5")]
    async with store.transaction() as tx:
        await tx.conn.execute(
            users.insert().values(
                id=6,
                handle="u6",
                handle_lower="u6",
                handle_skeleton="u6",
                email="u6@example.org",
                password_hash="x",
                display_name="U 6",
                created_at=NOW,
            )
        )
    assert await store.fetch(PAGE, {"before": 100, "n": 1}) == [(6, "u6")]
