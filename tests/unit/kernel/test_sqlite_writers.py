"""Writers of one SQLite file in several processes: each waits its turn, and a wait that is
given up (a request's deadline, a cancelled task) leaves nothing held.

Two stores on one file stand for two processes here: each has its own connections and its own
open lock file, which is what separates two processes for SQLite and for ``flock``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from boundaries.users.events import UserFollowed
from tests.support.consumers import kernel_store
from twitterclone.infra import store as store_module
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore

ids = IdGenerator(worker_id=6)


def _event(n: int) -> UserFollowed:
    return UserFollowed(
        event_id=ids.next(), occurred_at=datetime.now(UTC), follower_id=str(n), followee_id="1"
    )


async def _outbox_rows(store: ModuleStore) -> int:
    async with store.read() as conn:
        rows = await conn.execute(store.outbox.select())
        return len(rows.fetchall())


async def _hold_write(store: ModuleStore, holding: asyncio.Event, release: asyncio.Event) -> None:
    async with store.transaction() as tx:
        await tx.emit(_event(0))
        holding.set()
        await release.wait()


async def test_a_writer_waits_for_another_process_and_then_writes(tmp_path: Path) -> None:
    first = await kernel_store(tmp_path, "w")
    second = ModuleStore("w", first.engine.url.render_as_string(hide_password=False))
    holding, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold_write(first, holding, release))
    await holding.wait()

    async def write_second() -> None:
        async with second.transaction() as tx:
            await tx.emit(_event(1))

    waiting = asyncio.create_task(write_second())
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the first process holds the file's write lock
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, waiting), timeout=10)
    assert await _outbox_rows(first) == 2
    # The wait ran on the second store's own thread, which ends when that store is disposed of.
    waiter = [t for t in threading.enumerate() if t.name.startswith(f"sqlite-turn:{tmp_path}")]
    assert len(waiter) == 1
    await second.dispose()
    waiter[0].join(timeout=5)
    assert not waiter[0].is_alive()
    await first.dispose()


async def test_a_wait_given_up_leaves_the_writer_usable(tmp_path: Path) -> None:
    """A writer cancelled while another process holds the lock takes nothing with it: neither
    its own process's next writes nor the other process's wait for it."""
    first = await kernel_store(tmp_path, "w")
    second = ModuleStore("w", first.engine.url.render_as_string(hide_password=False))
    holding, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold_write(first, holding, release))
    await holding.wait()

    async def write_second(n: int) -> None:
        async with second.transaction() as tx:
            await tx.emit(_event(n))

    given_up = asyncio.create_task(write_second(1))
    await asyncio.sleep(0.05)
    given_up.cancel()
    with pytest.raises(asyncio.CancelledError):
        await given_up
    release.set()
    await asyncio.wait_for(holder, timeout=10)

    # Both processes write again, in turn, as if the cancelled wait had never been.
    await asyncio.wait_for(write_second(2), timeout=10)
    async with first.transaction() as tx:
        await tx.emit(_event(3))
    await asyncio.wait_for(write_second(4), timeout=10)
    assert await _outbox_rows(first) == 4  # 0, 2, 3 and 4: the cancelled one wrote nothing

    # Nobody holds the file's write lock now.
    probe = sqlite3.connect(str(first.engine.url.database), isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
    finally:
        probe.close()
    await second.dispose()
    await first.dispose()


async def test_a_wait_out_of_time_fails_as_a_locked_database_and_holds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "_BUSY_WAIT_MS", 50)
    first = await kernel_store(tmp_path, "w")
    second = ModuleStore("w", first.engine.url.render_as_string(hide_password=False))
    holding, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold_write(first, holding, release))
    await holding.wait()

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        async with second.transaction() as tx:
            await tx.emit(_event(1))
    release.set()
    await asyncio.wait_for(holder, timeout=10)
    async with second.transaction() as tx:
        await tx.emit(_event(2))
    assert await _outbox_rows(first) == 2
    await second.dispose()
    await first.dispose()
