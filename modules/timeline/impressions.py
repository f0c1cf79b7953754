"""Impressions: which tweets each viewer was shown, batched in memory and written as events.

A timeline read only appends ids to an in-memory buffer; a background job writes the
buffer to the outbox about once a second, in one transaction, as ``TimelineServed`` events
that sum the batch over every viewer (tweet id -> how many viewers saw it). So the request
path never writes to the database for analytics, and the analytics module applies one
event per second and per 500 distinct tweets, however many reads there were.

Trade-off, on purpose: impressions buffered in memory are LOST if the process crashes before
the next flush (a graceful stop flushes). They are analytics, not user data, so losing about
a second of them is acceptable; a write per timeline read would not be.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime

from boundaries.timeline.events import TimelineServed
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore

log = logging.getLogger("twitterclone.timeline")

#: Ids held per flush at most; beyond that new impressions are dropped (memory bound).
MAX_BUFFERED_IDS = 200_000
#: Distinct tweet ids per TimelineServed event at most (a bigger batch becomes several events).
MAX_IDS_PER_EVENT = 500


class ImpressionBuffer:
    """Tweet ids shown per viewer since the last flush (deduplicated within a flush)."""

    def __init__(self, store: ModuleStore, ids: IdGenerator, *, interval_s: float = 1.0) -> None:
        self._store = store
        self._ids = ids
        self.interval_s = interval_s
        self._pending: dict[str, dict[str, None]] = {}
        self._size = 0
        self.dropped = 0

    def record(self, viewer_id: str, tweet_ids: list[str]) -> None:
        """Remember that ``viewer_id`` was shown ``tweet_ids`` (no I/O)."""
        if not tweet_ids:
            return
        if self._size >= MAX_BUFFERED_IDS:
            self.dropped += len(tweet_ids)
            return
        seen = self._pending.setdefault(viewer_id, {})
        before = len(seen)
        seen.update(dict.fromkeys(tweet_ids))
        self._size += len(seen) - before

    @property
    def pending(self) -> int:
        """How many (viewer, tweet) impressions wait for the next flush."""
        return self._size

    async def flush(self) -> int:
        """Write everything buffered as TimelineServed events in one transaction; return the count."""
        if not self._pending:
            return 0
        batch, self._pending, size, self._size = self._pending, {}, self._size, 0
        now = datetime.now(UTC)
        shown: Counter[str] = Counter()
        for seen in batch.values():
            shown.update(seen.keys())
        tweet_ids = list(shown)
        events = [
            TimelineServed(
                event_id=self._ids.next(),
                occurred_at=now,
                tweet_ids=chunk,
                counts=[shown[t] for t in chunk],
            )
            for chunk in _chunks(tweet_ids, MAX_IDS_PER_EVENT)
        ]
        try:
            async with self._store.transaction() as tx:
                await tx.emit(*events)
        except Exception:
            # Put them back so the next pass retries (new impressions merge in).
            for viewer, seen in batch.items():
                self.record(viewer, list(seen))
            raise
        log.debug("impressions flushed", extra={"events": len(events), "impressions": size})
        return size

    async def run(self) -> None:
        """Flush every ``interval_s`` until cancelled; flush once more on the way out."""
        try:
            while True:
                await asyncio.sleep(self.interval_s)
                try:
                    await self.flush()
                except Exception:
                    log.exception("could not write impressions; will retry")
        except asyncio.CancelledError:
            try:
                await self.flush()
            except Exception:
                log.exception("impressions lost at shutdown")
            raise


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
