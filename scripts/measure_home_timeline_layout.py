"""Measure the SQLite home-timeline table's layouts: fan-out writes, page reads, unfollow removals.

Migrates a fresh timeline store to ``--before`` (the layout before migration 0005: a rowid table,
its (user, tweet) key index and a (user, author) index) and to head (``WITHOUT ROWID``, no
user-author index), fills ``--timelines`` timelines with ``--filled`` entries each, then times
with process CPU (every thread: the loop's writer and its WAL checkpoint thread) what the
module's own ``SqlHomeTimelines`` does:

- fan-out: transactions of ``--posts`` posts, each to ``--followers`` random timelines (as the
  consumer writes a batch of small authors' tweets), µs per entry including the commit;
- a home page (21 newest ids), µs per read;
- removing one author's entries from one timeline (an unfollow), µs each.

Layouts alternate ``--rounds`` times; medians are printed::

    PYTHONPATH=src:. .venv/bin/python scripts/measure_home_timeline_layout.py
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from modules.timeline.home import SqlHomeTimelines
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate

BEFORE = "0004_timeline_home_removals"


async def one(layout: str, args: argparse.Namespace) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory(prefix="home-layout-") as tmp:
        store = ModuleStore("timeline", sqlite_url(Path(tmp), "timeline"))
        try:
            await migrate(store, BEFORE if layout == "before" else "head")
            home = SqlHomeTimelines(store, cap=800)
            rng = random.Random(1)
            tweet = 10**15
            users = range(args.timelines)
            for start in range(0, args.filled, 50):  # fill: 50 entries per timeline per transaction
                async with store.transaction() as tx:
                    await home.add(
                        [
                            (u, tweet + k * args.timelines + u, rng.randrange(1000))
                            for k in range(start, start + 50)
                            for u in users
                        ],
                        tx,
                    )
            tweet = 2 * 10**15
            entries = 0
            started = time.process_time()
            for _ in range(args.transactions):
                batch = []
                for _post in range(args.posts):
                    tweet += 1
                    author = rng.randrange(args.timelines)
                    batch += [(u, tweet, author) for u in rng.sample(users, args.followers)]
                async with store.transaction() as tx:
                    await home.add(batch, tx)
                entries += len(batch)
            fan_out = (time.process_time() - started) / entries * 1e6
            started = time.process_time()
            for i in range(args.reads):
                await home.page(i % args.timelines, None, 21)
            read = (time.process_time() - started) / args.reads * 1e6
            started = time.process_time()
            for i in range(args.removals):
                await home.remove_author(i % args.timelines, rng.randrange(1000))
            removal = (time.process_time() - started) / args.removals * 1e6
            return fan_out, read, removal
        finally:
            await store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timelines", type=int, default=1000)
    parser.add_argument("--filled", type=int, default=400, help="entries per timeline before timing")
    parser.add_argument("--transactions", type=int, default=400)
    parser.add_argument("--posts", type=int, default=5, help="posts per fan-out transaction")
    parser.add_argument("--followers", type=int, default=20, help="timelines each post goes to")
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--removals", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float, float]]] = {"before": [], "head": []}
    for r in range(args.rounds):
        for layout in ("before", "head"):
            fan_out, read, removal = asyncio.run(one(layout, args))
            results[layout].append((fan_out, read, removal))
            print(
                f"round {r + 1} {layout:6}  fan-out {fan_out:6.2f} µs/entry  page {read:6.1f} µs  "
                f"unfollow removal {removal:6.1f} µs",
                flush=True,
            )
    for layout, rows in results.items():
        medians = [statistics.median(col) for col in zip(*rows, strict=True)]
        print(
            f"median {layout:6}  fan-out {medians[0]:6.2f} µs/entry  page {medians[1]:6.1f} µs  "
            f"unfollow removal {medians[2]:6.1f} µs"
        )


if __name__ == "__main__":
    main()
