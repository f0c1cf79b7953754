"""Measure the CPU one home-timeline read costs in-process (monolith on SQLite, no HTTP).

Builds the monolith runtime on a fresh data directory, registers 30 users through the ports, lets
the first follow the 29 others, posts 5 public tweets each, then times ``TimelinePort.home_timeline``
(a 20-tweet page) with ``time.process_time``: best of 3 rounds of ``--reads`` reads. Compares
branches when run against each checkout (``PYTHONPATH=<checkout>:<checkout>/src``); on a busy
machine compare runs taken alternately.

    PYTHONPATH=.:src .venv/bin/python scripts/measure_home_read_cpu.py --reads 3000

``--statements`` instead counts the SQL statements one read runs, per module, with their text:
every statement any module store runs while ``--reads`` reads are served (the ``sqlite3`` trace
callback on each store's connections of the loop thread, which ``HotRead`` uses, and SQLAlchemy's
``before_cursor_execute`` on every engine of each store, which the rest of the code uses).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event

from boundaries._kernel.pagination import PageRequest
from boundaries.timeline.port import TimelinePort
from boundaries.tweets.dto import PostTweet
from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import Register
from boundaries.users.port import UsersPort
from twitterclone.composition import MODULES, build_runtime, store_locations
from twitterclone.infra.store import ModuleStore
from twitterclone.manifest import load_manifest
from twitterclone.migrate import migrate
from twitterclone.settings import Settings

MONOLITH = Path(__file__).resolve().parent.parent / "deployments" / "monolith.toml"
#: A throwaway password for the seeded accounts of a throwaway data directory.
SEED_PASSWORD = "correct horse battery"  # noqa: S105
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}


async def main(reads: int, statements: bool = False) -> None:
    manifest = load_manifest(MONOLITH)
    settings = Settings(
        data_dir=tempfile.mkdtemp(prefix="home_read_cpu_"), manifest=str(MONOLITH), **CHEAP_ARGON2
    )
    for name, (url, schema) in store_locations(manifest, settings).items():
        if name in MODULES and name in manifest.local_modules:
            store = ModuleStore(name, url, schema=schema)
            try:
                await migrate(store)
            finally:
                await store.dispose()
    runtime = build_runtime(manifest, settings)
    await runtime.start()
    try:
        users = await runtime.get(UsersPort)
        tweets = await runtime.get(TweetsPort)
        timeline = await runtime.get(TimelinePort)
        ids = []
        for i in range(30):
            account = await users.register(
                Register(handle=f"u{i}", email=f"u{i}@example.org", password=SEED_PASSWORD)
            )
            ids.append(account.profile.id)
        reader = ids[0]
        for other in ids[1:]:
            await users.follow(reader, other)
        for n in range(5):
            for other in ids[1:]:
                await tweets.post(other, PostTweet(text=f"post {n} by {other} #x"), None)
        await runtime.drain_events()
        assert len((await timeline.home_timeline(reader, PageRequest(limit=20))).items) == 20
        if statements:
            page = PageRequest(limit=20)
            await _count_statements(runtime, reads, lambda: timeline.home_timeline(reader, page))
            return
        gc.collect()
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            for _ in range(reads):
                await timeline.home_timeline(reader, PageRequest(limit=20))
            best = min(best, (time.process_time() - started) / reads * 1e3)
        print(f"home_timeline CPU per read (best of 3 x {reads}): {best:.3f} ms")
    finally:
        await runtime.stop()


async def _count_statements(runtime: Any, reads: int, read: Callable[[], Awaitable[object]]) -> None:
    """Run ``reads`` reads and print the statements they ran, per module (see the docstring)."""
    seen: Counter[tuple[str, str]] = Counter()
    traced: set[int] = set()  # the loop connections' sqlite3 connections (their trace sees all)
    for name, store in runtime.kernel.stores.items():

        def trace(sql: str, name: str = name) -> None:
            seen[(name, " ".join(sql.split())[:110])] += 1

        def on_execute(conn: Any, _cursor: Any, sql: str, *_: Any, name: str = name) -> None:
            if id(conn.connection.dbapi_connection) in traced:
                return
            seen[(name, "[sqlalchemy] " + " ".join(sql.split())[:97])] += 1

        for kept in (store._loop_reader, store._loop_writer):
            held = kept.get() if kept is not None else None
            if held is not None:
                held.dbapi.set_trace_callback(trace)
                traced.add(id(held.dbapi))
        for engine in store.engines():
            sa_event.listen(engine, "before_cursor_execute", on_execute)
    for _ in range(reads):
        await read()
    await asyncio.sleep(1.5)  # the impressions a read buffers are flushed within a second
    total = sum(seen.values())
    print(f"SQL statements per home read ({reads} reads): {total / reads:.2f}")
    for (module, sql), n in sorted(seen.items(), key=lambda kv: -kv[1]):
        print(f"  {n / reads:6.2f}  {module:<13} {sql}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--statements", action="store_true", help="count statements per read instead")
    args = parser.parse_args()
    asyncio.run(main(args.reads, args.statements))
