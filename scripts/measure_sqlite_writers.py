"""Measure how processes writing one SQLite file share it: with turns (``_WriterTurns``) and without.

Starts ``--processes`` processes (two: a monolith's two workers), each with its own
``ModuleStore`` on one SQLite file, and has each run ``--transactions`` write transactions through
``ModuleStore.transaction`` (an outbox row, then ``--hold-us`` of CPU inside, then
``--gap-us`` asleep outside), as a worker under write load does. Prints, per mode, the
transactions per second of all processes together and the wait from asking for a transaction
to being in it (p50, p99, max), alternating the modes ``--rounds`` times:

    PYTHONPATH=src:. .venv/bin/python scripts/measure_sqlite_writers.py --hold-us 1000 --gap-us 300

``without`` turns is the loop writer before them: ``BEGIN IMMEDIATE`` at once, and when another
process holds the lock, SQLite's own busy wait (its sleeps of 1, 2, 5 … 100 ms) on a thread.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from boundaries.users.events import UserFollowed
from twitterclone.infra import store as store_module
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, sqlite_url


def _busy_wait_begin(dbapi: sqlite3.Connection) -> None:
    """The loop writer's wait before turns: SQLite's busy handler, on a thread."""
    dbapi.execute("PRAGMA busy_timeout=5000")
    try:
        dbapi.execute("BEGIN IMMEDIATE")
    finally:
        dbapi.execute("PRAGMA busy_timeout=0")


async def _begin_without_turns(dbapi: sqlite3.Connection, deadline: float) -> None:
    """``store._begin`` before turns (its own 5 s busy timeout stood for ``deadline``)."""
    try:
        dbapi.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        await asyncio.to_thread(_busy_wait_begin, dbapi)


async def _writer(url: str, turns: bool, n: int, hold_us: int, gap_us: int, worker: int) -> list[float]:
    if not turns:
        store_module._begin = _begin_without_turns
    store = ModuleStore("w", url)
    if not turns:
        store._turns = None
    ids = IdGenerator(worker_id=worker)
    waits: list[float] = []
    for i in range(n):
        asked = time.perf_counter()
        async with store.transaction() as tx:
            waits.append(time.perf_counter() - asked)
            await tx.emit(
                UserFollowed(
                    event_id=ids.next(), occurred_at=datetime.now(UTC), follower_id=str(i), followee_id="1"
                )
            )
            end = time.perf_counter() + hold_us / 1e6
            while time.perf_counter() < end:
                pass
        await asyncio.sleep(gap_us / 1e6)
    await store.dispose()
    return waits


def _process(url: str, turns: bool, n: int, hold_us: int, gap_us: int, worker: int, out: Any) -> None:
    out.put(asyncio.run(_writer(url, turns, n, hold_us, gap_us, worker)))


async def _create(url: str) -> None:
    store = ModuleStore("w", url)
    async with store.engine.begin() as conn:
        await conn.run_sync(store.metadata.create_all)
    await store.dispose()


def run(turns: bool, args: argparse.Namespace) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory(prefix="sqlite-writers-") as tmp:
        url = sqlite_url(Path(tmp), "w")
        asyncio.run(_create(url))
        ctx = mp.get_context("fork")
        out = ctx.Queue()
        procs = [
            ctx.Process(
                target=_process, args=(url, turns, args.transactions, args.hold_us, args.gap_us, k + 1, out)
            )
            for k in range(args.processes)
        ]
        started = time.perf_counter()
        for p in procs:
            p.start()
        waits = [w for _ in procs for w in out.get()]
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - started
    return len(waits) / elapsed, sorted(waits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--transactions", type=int, default=1500, help="per process and round")
    parser.add_argument("--hold-us", type=int, default=1000, help="CPU inside each transaction")
    parser.add_argument("--gap-us", type=int, default=300, help="asleep between two transactions")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(
        f"{args.processes} processes x {args.transactions} transactions, {args.hold_us} us held, "
        f"{args.gap_us} us between"
    )
    for r in range(args.rounds):
        for turns in (False, True):
            rate, w = run(turns, args)
            n = len(w)
            print(
                f"round {r + 1} {'with turns   ' if turns else 'without turns'} {rate:7.0f} tx/s   wait "
                f"p50 {w[n // 2] * 1e3:6.2f} ms  p99 {w[int(n * 0.99)] * 1e3:7.2f} ms  "
                f"max {w[-1] * 1e3:8.1f} ms  mean {statistics.fmean(w) * 1e3:6.2f} ms"
            )


if __name__ == "__main__":
    main()
