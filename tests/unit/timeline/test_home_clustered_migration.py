"""Migration timeline_0005 rebuilds SQLite's home timelines as a WITHOUT ROWID table: every entry
is still there afterwards, in its key's b-tree, with the user-author index gone; and back down."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import _config, migrate

ENTRIES = [(1, 100, 7), (1, 101, 8), (2, 100, 7), (3, 102, 9)]
BEFORE = "0004_timeline_home_removals"


async def _downgrade(store: ModuleStore, target: str) -> None:
    cfg = _config(store)

    def down(conn: sa.Connection) -> None:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, target)

    async with store.engine.begin() as conn:
        await conn.run_sync(down)


async def _shape(store: ModuleStore) -> tuple[list[tuple[int, int, int]], str, set[str]]:
    async with store.read() as conn:
        rows = (await conn.execute(sa.text("SELECT user_id, tweet_id, author_id FROM home_timeline"))).all()
        sql = (
            await conn.execute(
                sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'home_timeline'")
            )
        ).scalar_one()
        indexes = {
            r[0]
            for r in await conn.execute(
                sa.text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'home_timeline'")
            )
        }
    return sorted((int(a), int(b), int(c)) for a, b, c in rows), str(sql), indexes


async def test_the_rebuild_keeps_every_entry_and_drops_the_user_author_index(tmp_path: Path) -> None:
    store = ModuleStore("timeline", sqlite_url(tmp_path, "timeline"))
    try:
        await migrate(store, BEFORE)
        async with store.transaction() as tx:
            for user, tweet, author in ENTRIES:
                await tx.conn.execute(
                    sa.text("INSERT INTO home_timeline (user_id, tweet_id, author_id) VALUES (:u, :t, :a)"),
                    {"u": user, "t": tweet, "a": author},
                )
        rows, sql, indexes = await _shape(store)
        assert "WITHOUT ROWID" not in sql.upper()
        assert "ix_home_timeline_user_author" in indexes

        await migrate(store)
        rows, sql, indexes = await _shape(store)
        assert rows == sorted(ENTRIES)
        assert "WITHOUT ROWID" in sql.upper()
        assert indexes == {"ix_home_timeline_tweet"}  # the key is the table itself: no autoindex

        await _downgrade(store, BEFORE)
        rows, sql, indexes = await _shape(store)
        assert rows == sorted(ENTRIES)
        assert "WITHOUT ROWID" not in sql.upper()
        assert {"ix_home_timeline_tweet", "ix_home_timeline_user_author"} <= indexes
    finally:
        await store.dispose()
