"""Server CPU per home-timeline page: the Mastodon route against the native one.

A small, fixed population (one reader following ``authors`` accounts, each with ``posts`` posts
carrying a mention, a hashtag and a URL, so content rendering runs) on a fresh monolith; then
rounds in which each route is read ``requests`` times one after another over a kept-alive
connection, the server's CPU time (its whole process tree, from /proc) taken before and after.
CPU time, not latency: a busy machine slows the requests but charges the server little for
others' work, so the figure holds on a shared machine where a throughput search would not.
The rounds alternate the routes, so drift (caches warming, the machine's load) falls on both.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from twitterclone_bench.load import _proc_cpu, _process_tree
from twitterclone_bench.server import Monolith, stopping_on_sigterm

PASSWORD = "correct horse battery"  # noqa: S105 - the seeded accounts' password
ROUTES = {"native": "/api/timeline/home?limit=20", "mastodon": "/api/v1/timelines/home?limit=20"}


@dataclass
class AdapterCostConfig:
    manifest: str
    authors: int = 20
    posts: int = 3
    requests: int = 300
    rounds: int = 4
    warmup: int = 30
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


def _server_cpu(pid: int) -> float:
    return sum(_proc_cpu(p) for p in _process_tree(pid))


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


def run_adapter_cost(config: AdapterCostConfig) -> AdapterCost:
    """Seed, measure, print and write ``<out-dir>/<time>-adapter-cost[-label].json``."""

    def run() -> AdapterCost:
        with Monolith(config.manifest) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            assert server.pid is not None
            reader = _seed(client, config)
            result = AdapterCost(config=asdict(config), rounds_ms={name: [] for name in ROUTES})
            for name, path in ROUTES.items():
                for _ in range(config.warmup):
                    client.get(path, headers=reader)
                result.response_bytes[name] = len(client.get(path, headers=reader).content)
            for _ in range(config.rounds):
                for name, path in ROUTES.items():
                    result.rounds_ms[name].append(
                        round(_round(client, server.pid, path, reader, config.requests), 3)
                    )
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
        f"server CPU per home page (20 statuses), median of {config.rounds} rounds of {config.requests}: "
        f"native {result.median_ms['native']} ms, mastodon {result.median_ms['mastodon']} ms, "
        f"ratio {result.ratio}; rounds {result.rounds_ms}; results: {path}"
    )
    return result
