"""Migration tweets_0008 counts the statuses that already exist: a profile's statuses_count is
right the moment the upgrade ends, not only for what is posted after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate


async def test_the_upgrade_counts_existing_tweets_but_not_direct_ones(tmp_path: Path) -> None:
    store = ModuleStore("tweets", sqlite_url(tmp_path, "tweets"))
    try:
        await migrate(store, "tweets_0007_public_deletions")
        start = datetime(2026, 1, 1, tzinfo=UTC)
        rows = [
            (1, 10, "public", start),
            (2, 10, "private", start + timedelta(days=1)),
            (3, 10, "direct", start + timedelta(days=2)),  # not counted, and not the last status
            (4, 20, "unlisted", start + timedelta(days=3)),
            (5, 30, "direct", start + timedelta(days=4)),
        ]
        async with store.transaction() as tx:
            for tweet_id, author, visibility, at in rows:
                await tx.conn.execute(
                    sa.text(
                        "INSERT INTO tweets (id, author_id, text, created_at, conversation_id, entities, "
                        "media_ids, visibility) VALUES (:id, :author, 'x', :at, :id, '{}', '[]', :visibility)"
                    ),
                    {"id": tweet_id, "author": author, "at": at, "visibility": visibility},
                )
        await migrate(store)
        async with store.read() as conn:
            found = (
                await conn.execute(
                    sa.text(
                        "SELECT author_id, statuses_count, last_status_at FROM author_activity "
                        "ORDER BY author_id"
                    )
                )
            ).all()
        assert [(r[0], r[1]) for r in found] == [(10, 2), (20, 1)]
        assert str(found[0][2]).startswith("2026-01-02")
    finally:
        await store.dispose()
