"""The impressions buffer: no writes on record, batched TimelineServed events from the job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from boundaries.timeline.events import TimelineServed
from modules.timeline.impressions import MAX_IDS_PER_EVENT, ImpressionBuffer
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ModuleStore]:
    s = ModuleStore("timeline", sqlite_url(tmp_path, "timeline"))
    await migrate(s)
    yield s
    await s.dispose()


async def served(store: ModuleStore) -> list[TimelineServed]:
    async with store.read() as conn:
        rows = (await conn.execute(sa.select(store.outbox.c.payload).order_by(store.outbox.c.seq))).scalars()
        return [msgspec.json.decode(p, type=TimelineServed) for p in rows]


async def test_the_job_flushes_about_every_interval_and_once_more_at_stop(store: ModuleStore) -> None:
    buffer = ImpressionBuffer(store, IdGenerator(3), interval_s=0.05)
    job = asyncio.create_task(buffer.run())
    buffer.record("1", ["10", "11"])
    await asyncio.sleep(0.3)
    assert [e.impressions() for e in await served(store)] == [[("10", 1), ("11", 1)]]

    buffer.record("2", ["12"])
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert [e.impressions() for e in await served(store)] == [[("10", 1), ("11", 1)], [("12", 1)]]


async def test_a_flush_sums_each_tweet_over_every_viewer(store: ModuleStore) -> None:
    buffer = ImpressionBuffer(store, IdGenerator(3))
    buffer.record("1", ["10", "11"])
    buffer.record("2", ["10"])
    buffer.record("3", ["10", "12"])
    buffer.record("3", ["10"])  # the same viewer again within the flush: once

    assert await buffer.flush() == 5  # (viewer, tweet) pairs
    (event,) = await served(store)
    assert dict(event.impressions()) == {"10": 3, "11": 1, "12": 1}


async def test_a_big_batch_is_split_into_bounded_events(store: ModuleStore) -> None:
    buffer = ImpressionBuffer(store, IdGenerator(3))
    ids = [str(i) for i in range(1, MAX_IDS_PER_EVENT + 11)]
    buffer.record("1", ids)
    buffer.record("1", ids[:5])  # seen again within the same flush: one impression

    assert await buffer.flush() == len(ids)
    events = await served(store)
    assert [len(e.tweet_ids) for e in events] == [MAX_IDS_PER_EVENT, 10]
    assert [t for e in events for t in e.tweet_ids] == ids
