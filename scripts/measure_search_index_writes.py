"""What the SQLite search index (FTS5) adds to a transaction that writes one tweet.

A post writes its tweet and, when it is public, the tweet's search entry in one transaction
(``TweetsService.post``). FTS5 keeps new entries in memory until the transaction ends and then
writes them as a new segment, with its structure record, whatever the number of entries: a cost
per transaction, not per entry. This script measures it on a plain ``sqlite3`` file shaped like
the tweets module's (a table with an author index, and the FTS5 table of migration tweets 0001),
WAL mode and ``synchronous=NORMAL`` as ``ModuleStore`` sets them, after 20,000 rows:

- one tweet per transaction, without and with the search entry;
- ten tweets per transaction with their entries (a batch, as a consumer of the relay would write);
- ten per transaction, each in its own savepoint (as a group commit of requests would write).

It prints WAL frames (4 KiB pages written to the log) and microseconds per tweet.

    .venv/bin/python scripts/measure_search_index_writes.py --rounds 3
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import click

WORDS = ("ship", "latency", "coffee", "deploy", "timeline", "python", "graph", "cache", "review", "bench")
FTS5 = "CREATE VIRTUAL TABLE tweets_fts USING fts5(body, tags, tokenize = 'unicode61 remove_diacritics 2')"


def _text(rng: random.Random) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
    return f"{words} #tag{rng.randint(1, 50)} word{rng.randint(1, 100_000)}"


def measure(folder: Path, *, search: bool, per_tx: int, savepoints: bool, tweets: int) -> tuple[float, float]:
    """(WAL frames per tweet, µs per tweet) for ``tweets`` tweets written ``per_tx`` at a time."""
    path = folder / f"t{time.monotonic_ns()}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # count every frame the writes cause
    conn.execute("CREATE TABLE tweets (id INTEGER PRIMARY KEY, author_id INT, text TEXT, created_at REAL)")
    conn.execute("CREATE INDEX ix_tweets_author ON tweets (author_id, id)")
    if search:
        conn.execute(FTS5)
    rng = random.Random(1)
    next_id = 0

    def write_one() -> None:
        nonlocal next_id
        text = _text(rng)
        conn.execute(
            "INSERT INTO tweets VALUES (?, ?, ?, ?)", (next_id, rng.randrange(1000), text, time.time())
        )
        if search:
            conn.execute(
                "INSERT INTO tweets_fts (rowid, body, tags) VALUES (?, ?, ?)", (next_id, text, "tag")
            )
        next_id += 1

    conn.execute("BEGIN")
    for _ in range(20_000):
        write_one()
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    started = time.perf_counter()
    for _ in range(tweets // per_tx):
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(per_tx):
            if savepoints:
                conn.execute("SAVEPOINT one")
            write_one()
            if savepoints:
                conn.execute("RELEASE one")
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    frames = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    conn.close()
    return frames / tweets, elapsed / tweets * 1e6


@click.command()
@click.option("--tweets", default=3000, show_default=True, help="Tweets written per case and round.")
@click.option("--rounds", default=3, show_default=True, help="Rounds; the median is printed.")
def main(tweets: int, rounds: int) -> None:
    cases = [
        ("one tweet a transaction, no search entry", False, 1, False),
        ("one tweet a transaction, with its search entry", True, 1, False),
        ("ten a transaction, with search entries", True, 10, False),
        ("ten a transaction, each in a savepoint", True, 10, True),
    ]
    print(f"sqlite {sqlite3.sqlite_version}; {tweets} tweets per case and round, median of {rounds} rounds")
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, list[tuple[float, float]]] = {label: [] for label, *_ in cases}
        with click.progressbar(length=rounds * len(cases), label="measuring") as bar:
            for _ in range(rounds):
                for label, search, per_tx, savepoints in cases:
                    results[label].append(
                        measure(Path(tmp), search=search, per_tx=per_tx, savepoints=savepoints, tweets=tweets)
                    )
                    bar.update(1)
    for label, rows in results.items():
        frames = statistics.median(r[0] for r in rows)
        micros = statistics.median(r[1] for r in rows)
        print(f"{label:50s} {frames:5.1f} WAL frames  {micros:6.1f} µs per tweet")


if __name__ == "__main__":
    main()
