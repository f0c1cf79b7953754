"""Server CPU per home-timeline page: the Mastodon route against the native one.

A small, fixed population (one reader following ``authors`` accounts, each with ``posts`` posts
carrying a mention, a hashtag and a URL, so content rendering runs) on a fresh monolith; then
rounds in which each route is read ``requests`` times one after another over a kept-alive
connection, the server's CPU time (its whole process tree, from /proc) taken before and after.
CPU time, not latency: a busy machine slows the requests but charges the server little for
others' work, so the figure holds on a shared machine where a throughput search would not.
The rounds alternate the routes, so drift (caches warming, the machine's load) falls on both.

``cold``: every page read is one no route has shown before, of authors no page has shown before,
so nothing a page shows is in any cache (the Mastodon adapter's kept accounts and statuses, the
tweets module's static tweets): each route has its own readers, each following its own authors
(one post each, ``COLD_PAGES_PER_READER`` pages of them, within a home timeline's cap), and the
rounds walk each reader's timeline page by page (the native route by ``cursor``, the Mastodon
one by ``max_id``), never reading a page twice. Fewer requests per round then: every page read
costs 20 seeded accounts.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from twitterclone_bench.load import _proc_cpu, _process_tree
from twitterclone_bench.server import Monolith, stopping_on_sigterm

PASSWORD = "correct horse battery"  # noqa: S105 - the seeded accounts' password
ROUTES = {"native": "/api/timeline/home?limit=20", "mastodon": "/api/v1/timelines/home?limit=20"}
PAGE = 20
#: Pages of a cold reader's home timeline (its authors' posts; within the timeline's cap of 800).
COLD_PAGES_PER_READER = 25
#: Reads per round when ``--requests`` is not given, warm and cold.
DEFAULT_REQUESTS = {False: 300, True: 25}


@dataclass
class AdapterCostConfig:
    manifest: str
    authors: int = 20
    posts: int = 3
    requests: int | None = None
    rounds: int = 4
    warmup: int = 30
    cold: bool = False
    seed: int = 1
    out_dir: str = "bench-results"
    label: str = ""


@dataclass
class AdapterCost:
    config: dict[str, Any]
    #: Server CPU ms per request, per route, one figure per round.
    rounds_ms: dict[str, list[float]] = field(default_factory=dict)
    median_ms: dict[str, float] = field(default_factory=dict)
    ratio: float = 0.0
    response_bytes: dict[str, int] = field(default_factory=dict)
    #: The server's CPU seconds over all rounds by both clocks: threads' schedstat (what the rounds
    #: use) and the processes' /proc stat ticks (which also count threads that ended meanwhile).
    cpu_check_s: dict[str, float] = field(default_factory=dict)


#: Whether the kernel keeps per-thread run times in nanoseconds (``/proc/<pid>/task/<tid>/schedstat``).
_SCHEDSTAT = os.path.exists("/proc/self/schedstat")


def _stat_cpu(pid: int) -> float:
    return sum(_proc_cpu(p) for p in _process_tree(pid))


def _server_cpu(pid: int) -> float:
    """Seconds of CPU the server's process tree has had: the sum of its threads' ``schedstat``
    (nanoseconds: a cold round of a few dozen reads is only a few clock ticks of
    ``/proc/<pid>/stat``), or ``stat`` where the kernel keeps no schedstat."""
    if not _SCHEDSTAT:
        return _stat_cpu(pid)
    total = 0
    for process in _process_tree(pid):
        try:
            threads = os.listdir(f"/proc/{process}/task")
        except OSError:
            continue
        for tid in threads:
            try:
                with open(f"/proc/{process}/task/{tid}/schedstat") as fh:
                    total += int(fh.read().split()[0])
            except (OSError, ValueError, IndexError):  # the thread ended since the listing
                continue
    return total / 1e9


def _user(client: httpx.Client, handle: str) -> dict[str, str]:
    r = client.post(
        "/api/auth/register", json={"handle": handle, "email": f"{handle}@example.org", "password": PASSWORD}
    )
    r.raise_for_status()
    token = client.post("/api/auth/login", json={"login": handle, "password": PASSWORD})
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _seed(client: httpx.Client, config: AdapterCostConfig) -> dict[str, str]:
    reader = _user(client, "reader")
    for i in range(config.authors):
        author = _user(client, f"author{i}")
        me = client.get("/api/users/me", headers=author).json()["profile"]["id"]
        client.put(f"/api/users/me/following/{me}", headers=reader).raise_for_status()
        for j in range(config.posts):
            text = f"post {j} by author{i} for @reader about #topic{j} see https://example.org/{i}/{j}"
            client.post("/api/tweets", json={"text": text}, headers=author).raise_for_status()
    # fan-out is asynchronous: wait until the reader's first page is full
    deadline = time.monotonic() + 60
    want = min(20, config.authors * config.posts)
    while len(client.get(ROUTES["native"], headers=reader).json()["items"]) < want:
        if time.monotonic() > deadline:
            raise RuntimeError("the seeded posts did not reach the reader's home timeline in 60 s")
        time.sleep(0.2)
    return reader


def _round(client: httpx.Client, pid: int, path: str, headers: dict[str, str], n: int) -> float:
    before = _server_cpu(pid)
    for _ in range(n):
        r = client.get(path, headers=headers)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path}: {r.status_code} {r.text[:200]}")
    return (_server_cpu(pid) - before) / n * 1000


def _register(client: httpx.Client, handle: str) -> tuple[str, dict[str, str]]:
    headers = _user(client, handle)
    return client.get("/api/users/me", headers=headers).json()["profile"]["id"], headers


def _cold_shape(pages: int) -> tuple[int, int]:
    """Readers per route and pages per reader for ``pages`` cold reads of a route."""
    readers = -(-pages // COLD_PAGES_PER_READER)
    return readers, -(-pages // readers)


async def _cold_seed(base_url: str, pages: int, concurrency: int = 8) -> dict[str, list[dict[str, str]]]:
    """Readers for each route (their tokens), each following a few pages of authors who post
    once; returns when the fan-out of every post has drained."""
    per_route, per_reader = _cold_shape(pages)
    limit = asyncio.Semaphore(concurrency)

    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def call(method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
            async with limit:
                r = await client.request(method, path, headers=headers, **kw)
            if r.status_code >= 300:
                raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:200]}")
            return r.json() if r.content else None

        async def user(handle: str) -> tuple[str, dict[str, str]]:
            body = {"handle": handle, "email": f"{handle}@example.org", "password": PASSWORD}
            profile = await call("POST", "/api/auth/register", json=body)
            token = await call("POST", "/api/auth/login", json={"login": handle, "password": PASSWORD})
            return profile["profile"]["id"], {"Authorization": f"Bearer {token['access_token']}"}

        async def author(handle: str, readers: list[dict[str, str]], text: str) -> None:
            author_id, headers = await user(handle)
            for reader in readers:
                await call("PUT", f"/api/users/me/following/{author_id}", headers=reader)
            await call("POST", "/api/tweets", headers=headers, json={"text": text})

        readers: dict[str, list[dict[str, str]]] = {}
        for route in ROUTES:
            readers[route] = [
                h for _, h in await asyncio.gather(*(user(f"{route}r{i}") for i in range(per_route)))
            ]
        jobs = []
        for route, heads in readers.items():
            for r, reader in enumerate(heads):
                for a in range(per_reader * PAGE):
                    handle = f"{route[0]}{r}a{a}"
                    text = f"cold post by {handle} for @{route}r{r} about #cold{a % 7} see https://example.org/{a}"
                    jobs.append(author(handle, [reader], text))
        await asyncio.gather(*jobs)
        # Relays deliver in order: once a post made after all of them reaches a follower, the
        # seeded posts have reached theirs. The probe reader is never measured.
        marker_id, marker = await user("marker")
        _, probe = await user("probe")
        await call("PUT", f"/api/users/me/following/{marker_id}", headers=probe)
        posted = await call("POST", "/api/tweets", headers=marker, json={"text": "the last post"})
        deadline = time.monotonic() + 300
        while (await call("GET", "/api/timeline/home?limit=1", headers=probe))["items"][:1] != [posted]:
            if time.monotonic() > deadline:
                raise RuntimeError("the seeded posts did not reach their readers in 300 s")
            await asyncio.sleep(0.5)
    return readers


def _quiesce(pid: int, limit_s: float = 180.0) -> None:
    """Wait until the server is idle (under 0.1 of a core for a second): the seeded posts' other
    consumers (notifications, counters) would otherwise charge the first rounds."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = _server_cpu(pid)
        time.sleep(1.0)
        if _server_cpu(pid) - before < 0.1:
            return


class _Walk:
    """A route's cold readers' home timelines, page after page, each page read once."""

    def __init__(self, route: str, readers: list[dict[str, str]], per_reader: int) -> None:
        self.route = route
        self.pages = self._pages(readers, per_reader)
        self.next_bound: str | None = None

    def _pages(self, readers: list[dict[str, str]], per_reader: int) -> Iterator[tuple[str, dict[str, str]]]:
        for reader in readers:
            self.next_bound = None
            for _ in range(per_reader):
                bound = self.next_bound
                if bound is None:
                    yield ROUTES[self.route], reader
                else:
                    name = "cursor" if self.route == "native" else "max_id"
                    yield f"{ROUTES[self.route]}&{name}={bound}", reader

    def read(self, client: httpx.Client) -> None:
        """Read the next page (the server's work); check it is full and note where the next starts."""
        path, headers = next(self.pages)
        r = client.get(path, headers=headers)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path}: {r.status_code} {r.text[:200]}")
        body = r.json()
        items = body["items"] if self.route == "native" else body
        if len(items) != PAGE:
            raise RuntimeError(f"GET {path}: {len(items)} statuses, not a full page of {PAGE}")
        self.next_bound = body["next_cursor"] if self.route == "native" else items[-1]["id"]


def _cold_round(client: httpx.Client, pid: int, walk: _Walk, n: int) -> float:
    before = _server_cpu(pid)
    for _ in range(n):
        walk.read(client)
    return (_server_cpu(pid) - before) / n * 1000


def run_adapter_cost(config: AdapterCostConfig) -> AdapterCost:
    """Seed, measure, print and write ``<out-dir>/<time>-adapter-cost[-label].json``."""
    if config.requests is None:
        config.requests = DEFAULT_REQUESTS[config.cold]
    requests = config.requests

    def run() -> AdapterCost:
        with Monolith(config.manifest) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            assert server.pid is not None
            result = AdapterCost(config=asdict(config), rounds_ms={name: [] for name in ROUTES})
            clocks = (_server_cpu, _stat_cpu)
            if config.cold:
                readers = asyncio.run(_cold_seed(server.url, requests * config.rounds))
                _quiesce(server.pid)
                per_reader = _cold_shape(requests * config.rounds)[1]
                walks = {name: _Walk(name, heads, per_reader) for name, heads in readers.items()}
                started = [clock(server.pid) for clock in clocks]
                for _ in range(config.rounds):
                    for name in ROUTES:
                        ms = _cold_round(client, server.pid, walks[name], requests)
                        result.rounds_ms[name].append(round(ms, 3))
            else:
                reader = _seed(client, config)
                for name, path in ROUTES.items():
                    for _ in range(config.warmup):
                        client.get(path, headers=reader)
                    result.response_bytes[name] = len(client.get(path, headers=reader).content)
                started = [clock(server.pid) for clock in clocks]
                for _ in range(config.rounds):
                    for name, path in ROUTES.items():
                        result.rounds_ms[name].append(
                            round(_round(client, server.pid, path, reader, requests), 3)
                        )
            result.cpu_check_s = {
                name: round(clock(server.pid) - t0, 3)
                for name, clock, t0 in zip(("schedstat", "stat"), clocks, started, strict=True)
            }
            result.median_ms = {name: round(statistics.median(v), 3) for name, v in result.rounds_ms.items()}
            result.ratio = round(result.median_ms["mastodon"] / result.median_ms["native"], 3)
            return result

    result = stopping_on_sigterm(run)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    suffix = f"-{config.label}" if config.label else ""
    path = out / f"{time.strftime('%Y%m%d-%H%M%S')}-adapter-cost{suffix}.json"
    path.write_text(json.dumps(asdict(result), indent=2))
    print(
        f"server CPU per home page (20 statuses{', cold' if config.cold else ''}), "
        f"median of {config.rounds} rounds of {requests}: "
        f"native {result.median_ms['native']} ms, mastodon {result.median_ms['mastodon']} ms, "
        f"ratio {result.ratio}; rounds {result.rounds_ms}; CPU over the rounds {result.cpu_check_s} s; "
        f"results: {path}"
    )
    return result
