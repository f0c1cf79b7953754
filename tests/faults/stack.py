"""The split deployment on a Redis and a PostgreSQL of the suite's own, with accounts to load it.

``split_stack()`` starts ``redis-server`` and a PostgreSQL cluster on free ports in temporary
directories (tests/support/servers.py), the split manifest's every process against them
(tests/e2e/harness.py), signs up writers, readers and one account every post mentions, and makes
every reader follow every writer. ``verify()`` checks what a user would notice after a fault:
every acknowledged post readable, none twice, in every follower's home timeline, like counters
right, and (unless told otherwise) exactly one mention notification per acknowledged post.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Deployment, deployment, report
from tests.e2e.scenarios import Account, eventually, sign_up
from tests.faults.load import Figures, Load
from tests.support.servers import PostgresCluster, RedisServer
from twitterclone.launcher import Process

#: The load posts faster than a person may: budgets it cannot reach (limits are not under test).
GENEROUS_LIMITS = {
    f"TWITTERCLONE_RATE_{name}": "100000/60" for name in ("ADDRESS", "USER", "POST_USER", "POST_HOURLY")
}


def _env() -> dict[str, str]:
    # The processes run this checkout's code, whatever the environment's editable install names.
    root = Path(__file__).resolve().parents[2]
    return {**GENEROUS_LIMITS, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}


@dataclass
class Stack:
    redis: RedisServer
    postgres: PostgresCluster
    deployment: Deployment
    client: httpx.Client
    writers: list[Account]
    readers: list[Account]
    mentioned: Account

    def load(self, tag: str) -> Load:
        return Load(self.deployment.base_url, self.writers, self.readers, self.mentioned, tag)

    def process(self, service: str, replica: int = 0) -> Process:
        return self.deployment.launcher.find(service, replica)

    def kill(self, proc: Process) -> None:
        self.deployment.launcher.kill(proc)

    def restart(self, proc: Process) -> None:
        """Start a killed process again and wait until it is ready."""
        self.deployment.launcher.restart(proc)
        self.wait_ready(proc)

    def pause(self, proc: Process) -> None:
        """SIGSTOP the process and its workers: it keeps its sockets and answers nothing."""
        assert proc.popen is not None
        os.killpg(proc.popen.pid, signal.SIGSTOP)

    def resume(self, proc: Process) -> None:
        assert proc.popen is not None
        os.killpg(proc.popen.pid, signal.SIGCONT)

    def wait_ready(self, proc: Process, timeout_s: float = 60.0) -> None:
        def ready() -> bool:
            try:
                return httpx.get(f"http://{proc.spec.address}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(ready, timeout_s, f"{proc.spec.name} ready")


@contextmanager
def split_stack(tmp_path: Path, *, writers: int = 2, readers: int = 4) -> Iterator[Stack]:
    redis = RedisServer()
    postgres = PostgresCluster()
    try:
        redis.start()
        postgres.start()
        with (
            deployment(
                "split", tmp_path, redis=redis.url, database_url=postgres.url, env=GENEROUS_LIMITS
            ) as d,
            httpx.Client(base_url=d.base_url, timeout=10) as client,
        ):
            writer_accounts = [sign_up(client, f"writer{i}") for i in range(writers)]
            reader_accounts = [sign_up(client, f"reader{i}") for i in range(readers)]
            mentioned = sign_up(client, "mentioned")
            for reader in reader_accounts:
                for writer in writer_accounts:
                    r = client.put(f"/api/users/me/following/{writer.id}", headers=reader.headers)
                    assert r.status_code == 200, r.text
            yield Stack(redis, postgres, d, client, writer_accounts, reader_accounts, mentioned)
    finally:
        redis.close()
        postgres.close()


@dataclass
class Round:
    """One fault under load: the load, and when the fault began and healed."""

    name: str
    load: Load
    fault_at: float
    healed_at: float
    figures: list[Figures]

    def route(self, route: str) -> Figures:
        return next(f for f in self.figures if f.route == route)


def fault_round(
    stack: Stack,
    request: pytest.FixtureRequest,
    name: str,
    inject: Callable[[], None],
    heal: Callable[[], None],
    *,
    outage_s: float = 6.0,
    degraded: tuple[str, ...] = (),
    before_s: float = 2.0,
    after_s: float = 6.0,
) -> Round:
    """Load, inject the fault, wait ``outage_s``, heal (returns once healthy), load on, report."""
    load = stack.load(f"#{name.replace(' ', '_')}")
    load.start()
    try:
        time.sleep(before_s)
        fault_at = time.monotonic()
        inject()
        time.sleep(max(0.0, outage_s - (time.monotonic() - fault_at)))
        heal()
        healed_at = time.monotonic()
        time.sleep(after_s)
    finally:
        load.finish()
    figures = load.figures(fault_at, healed_at, degraded)
    report(request, f"fault: {name} (window {healed_at - fault_at:.1f} s)")
    for row in figures:
        report(request, "  " + row.line())
    return Round(name, load, fault_at, healed_at, figures)


def kill_and_restart(stack: Stack, request: pytest.FixtureRequest, name: str, proc: Process) -> Round:
    """SIGKILL a process (nothing deregisters), start it again after the outage."""
    return fault_round(stack, request, name, lambda: stack.kill(proc), lambda: stack.restart(proc))


def pause_and_resume(stack: Stack, request: pytest.FixtureRequest, name: str, proc: Process) -> Round:
    """SIGSTOP a process (it keeps its sockets, answers nothing), SIGCONT it after the outage."""
    return fault_round(stack, request, name, lambda: stack.pause(proc), lambda: stack.resume(proc))


def verify(stack: Stack, load: Load, *, notifications: bool = True, within_s: float = 60.0) -> None:
    """Nothing acknowledged lost, nothing twice, timelines complete, counters and notifications right."""
    client = stack.client
    acknowledged = dict(load.acknowledged)
    assert acknowledged, "the load posted nothing"
    tweet_ids = {tid for tid, _ in acknowledged.values()}

    def all_readable() -> bool:
        return all(client.get(f"/api/tweets/{tid}").status_code == 200 for tid in tweet_ids)

    eventually(all_readable, within_s, "every acknowledged post readable (lost = 0)")

    for writer in stack.writers:
        texts = Counter(
            t["text"] for t in _pages(client, f"/api/users/{writer.id}/tweets", writer.headers, 2000)
        )
        twice = {text: n for text, n in texts.items() if text.startswith(load.tag) and n > 1}
        assert not twice, f"posted more than once (duplicated = {len(twice)}): {twice}"
        mine = {text for text, (_, author) in acknowledged.items() if author == writer.id}
        assert mine <= set(texts), "an acknowledged post is missing from its author's timeline"

    def timelines_complete() -> bool:
        for reader in stack.readers:
            seen = {
                t["id"]
                for t in _pages(client, "/api/timeline/home", reader.headers, 800, stop_when=tweet_ids)
            }
            if not tweet_ids <= seen:
                return False
        return True

    eventually(timelines_complete, within_s, "every acknowledged post in every follower's home timeline")

    for tweet_id, acked in dict(load.likes_acked).items():
        likes = client.get(f"/api/tweets/{tweet_id}").json()["counts"]["likes"]
        tried = load.likes_tried.get(tweet_id, set())
        assert len(acked) <= likes <= len(tried), (
            f"tweet {tweet_id}: {likes} likes, {len(acked)} acknowledged"
        )

    if notifications:

        def mentions_exactly_once() -> bool:
            items = _pages(client, "/api/notifications", stack.mentioned.headers, 5000)
            counts = Counter(
                n["tweet_id"] for n in items if n["kind"] == "mention" and n["tweet_id"] in tweet_ids
            )
            assert all(n == 1 for n in counts.values()), f"a mention notified twice: {counts.most_common(3)}"
            return set(counts) == tweet_ids

        eventually(mentions_exactly_once, within_s, "one mention notification per acknowledged post")


def _pages(
    client: httpx.Client, path: str, headers: dict[str, str], most: int, stop_when: set[str] | None = None
) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    cursor: str | None = None
    while len(items) < most:
        url = f"{path}?limit=100" + (f"&cursor={cursor}" if cursor else "")
        r = client.get(url, headers=headers)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:200]}"
        page = r.json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor or (stop_when is not None and stop_when <= {str(i["id"]) for i in items}):
            break
    return items
