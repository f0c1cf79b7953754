"""Applied inbox rows are purged after the retention window; a redelivery inside it is still caught.

Against a real module's migrated store (analytics: its inbox and the index the purge uses), on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from boundaries.users.events import UserFollowed
from tests.support.databases import Storage
from tests.support.wiring import FAST_ARGON2
from twitterclone import composition
from twitterclone.composition import MODULES, build_runtime
from twitterclone.infra.events import Subscription, purge_inbox_forever
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, Transaction
from twitterclone.manifest import parse_manifest
from twitterclone.settings import Settings, SettingsError

ids = IdGenerator(worker_id=13)
DAY = 86_400.0
WEEK = 7 * DAY


def followed(n: int) -> UserFollowed:
    return UserFollowed(
        event_id=ids.next(), occurred_at=datetime.now(UTC), follower_id=str(n), followee_id="1"
    )


@pytest.fixture
async def store(storage: Storage) -> AsyncIterator[ModuleStore]:
    url, schema = (await storage.migrated(["analytics"]))["analytics"]
    s = ModuleStore("analytics", url, schema=schema)
    yield s
    await s.dispose()


async def backdate(store: ModuleStore, events: list[UserFollowed], seconds: float) -> None:
    """Pretend these events were applied ``seconds`` ago."""
    async with store.transaction() as tx:
        await tx.conn.execute(
            sa.update(store.inbox)
            .where(store.inbox.c.event_id.in_([e.event_id for e in events]))
            .values(processed_at=time.time() - seconds)
        )


async def inbox_ids(store: ModuleStore) -> set[str]:
    async with store.read() as conn:
        return set((await conn.execute(sa.select(store.inbox.c.event_id))).scalars())


async def test_rows_past_the_window_go_newer_stay_and_a_redelivery_inside_it_is_still_caught(
    store: ModuleStore,
) -> None:
    applied: list[str] = []

    async def handle(tx: Transaction, events: list[UserFollowed]) -> None:
        applied.extend(e.event_id for e in events)

    sub = Subscription(store, "follows", UserFollowed, handle=handle)
    old = [followed(i) for i in range(3)]
    recent = [followed(10), followed(11)]
    assert await sub.apply([*old, *recent]) == [*old, *recent]
    await backdate(store, old, WEEK + 60)
    await backdate(store, recent[:1], WEEK - 60)  # just inside the window

    # In chunks of two rows: three old ones take two chunks.
    assert await store.purge_inbox(time.time() - WEEK, chunk=2) == 3
    assert await inbox_ids(store) == {e.event_id for e in recent}
    assert await store.purge_inbox(time.time() - WEEK) == 0

    applied.clear()
    assert await sub.apply(recent) == []  # redelivered inside the window: still de-duplicated
    assert applied == []


async def test_the_kernel_job_purges_each_round(store: ModuleStore, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("twitterclone.events")
    logger.addHandler(caplog.handler)  # app logs may not propagate
    caplog.set_level(logging.INFO, logger="twitterclone.events")

    async def handle(tx: Transaction, events: list[UserFollowed]) -> None:
        return None

    sub = Subscription(store, "follows", UserFollowed, handle=handle)
    old, recent = followed(1), followed(2)
    await sub.apply([old, recent])
    await backdate(store, [old], 2 * DAY)
    job = asyncio.create_task(purge_inbox_forever(store, DAY, interval_s=0.02, first_after_s=0))
    try:
        deadline = time.monotonic() + 5
        while await inbox_ids(store) != {recent.event_id}:
            assert time.monotonic() < deadline, "the purge job did not run"
            await asyncio.sleep(0.02)
        await sub.apply([followed(3)])
        await asyncio.sleep(0.1)  # more rounds: nothing inside the window goes
        assert len(await inbox_ids(store)) == 2
        assert not job.done()
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
        logger.removeHandler(caplog.handler)
    # Each record once (it may reach caplog both through propagation and the handler added here).
    purged = list(
        {id(r): r for r in caplog.records if r.getMessage() == "purged applied inbox rows"}.values()
    )
    assert [(r.store, r.rows) for r in purged] == [("analytics", 1)]  # type: ignore[attr-defined]


async def test_every_local_module_store_gets_a_purge_job(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    locations = await storage.migrated(list(MODULES))
    monkeypatch.setattr(composition, "store_locations", lambda _manifest, _settings: locations)
    settings = Settings(data_dir=str(storage.data_dir), **FAST_ARGON2)
    runtime = build_runtime(parse_manifest('name = "purge"'), settings)
    await runtime.start()
    try:
        names = {task.get_name() for task in asyncio.all_tasks()}
        assert {f"inbox-purge-{m}" for m in MODULES} <= names
    finally:
        await runtime.stop()
    assert not any(t.get_name().startswith("inbox-purge-") for t in asyncio.all_tasks())


def test_retention_is_a_week_by_default_and_must_outlast_the_outbox() -> None:
    assert Settings().inbox_retention_s == WEEK
    assert Settings.from_env({"TWITTERCLONE_INBOX_RETENTION_S": "1209600"}).inbox_retention_s == 2 * WEEK
    # Not longer than the outbox keeps published events (a day): refused, naming the variable.
    with pytest.raises(SettingsError, match="TWITTERCLONE_INBOX_RETENTION_S"):
        Settings.from_env({"TWITTERCLONE_INBOX_RETENTION_S": "86400"})
