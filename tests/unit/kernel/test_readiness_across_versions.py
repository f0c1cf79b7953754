"""/readyz during a rolling upgrade: the old version stays ready after the new one's migration ran."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import head_revision, is_at_head, known_revisions, migrate, version_table


async def stamp(store: ModuleStore, revision: str) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.text(f"UPDATE {version_table(store.module)} SET version_num = :r"),  # noqa: S608 - our own table name
            {"r": revision},
        )


async def test_ready_at_head_and_at_a_newer_release_not_while_migrations_are_pending(tmp_path: Path) -> None:
    store = ModuleStore("users", sqlite_url(tmp_path, "users"))
    try:
        assert not await is_at_head(store)  # never migrated
        await migrate(store, "0002_users_oauth_moderation")
        assert "0002_users_oauth_moderation" in known_revisions("users")
        assert not await is_at_head(store)  # this code's migrations are still to run
        await migrate(store)
        assert await is_at_head(store)
        # The next release's migration Job ran (an expand step this code does not know): the old
        # pods must stay ready, or the roll would take every old replica out of service at once.
        await stamp(store, "9999_users_next_release")
        assert await is_at_head(store)
        assert head_revision("users") != "9999_users_next_release"
    finally:
        await store.dispose()
