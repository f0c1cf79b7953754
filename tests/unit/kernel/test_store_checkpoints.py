"""The event loop's SQLite writer leaves WAL checkpoints to a thread of its own: a commit on the
loop never copies the WAL into the database file or syncs it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from boundaries.users.events import UserFollowed
from tests.support.consumers import kernel_store
from twitterclone.infra.ids import IdGenerator

ids = IdGenerator(worker_id=5)


async def test_the_loop_writer_leaves_checkpoints_to_a_thread(tmp_path: Path) -> None:
    store = await kernel_store(tmp_path, "t")
    for n in range(50):
        async with store.transaction() as tx:
            await tx.emit(
                UserFollowed(
                    event_id=ids.next(), occurred_at=datetime.now(UTC), follower_id=str(n), followee_id="1"
                )
            )
    kept = store._loop_writer
    assert kept is not None
    writer = kept.get()
    assert writer is not None
    assert writer.dbapi.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    checkpointer = kept._checkpointer
    assert checkpointer is not None
    assert checkpointer._thread.is_alive()

    conn = sqlite3.connect(checkpointer.database)
    try:
        busy, frames, copied = checkpointer.checkpoint_once(conn)
    finally:
        conn.close()
    assert (busy, copied) == (0, frames)
    assert frames > 0
    await store.dispose()
    assert not checkpointer._thread.is_alive()
