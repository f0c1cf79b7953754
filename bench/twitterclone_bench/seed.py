"""Seeding a deployment through its public HTTP API: accounts, follows, first tweets.

Everything goes through the same routes a client uses (register, login, follow, post), with a
bounded number of concurrent requests and a progress bar per phase, so it works against any
manifest. Registration and login each cost one argon2id hash on the server: that, not the
follows, is what makes seeding slow when the server runs its production argon2 parameters.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import msgspec
from rich.console import Console
from rich.progress import Progress

from twitterclone_bench.graph import FollowGraph
from twitterclone_bench.report import progress_bars

PASSWORD = "bench password 1"  # noqa: S105 - the benchmark's throwaway accounts
T = TypeVar("T")


class SeedError(RuntimeError):
    """Seeding failed badly enough that the numbers would mean nothing."""


@dataclass
class Actor:
    """A seeded account the generator acts as."""

    index: int
    user_id: str
    handle: str
    access_token: str = ""
    refresh_token: str = ""
    token_at: float = 0.0
    expires_in: float = 900.0
    headers: dict[str, str] = field(default_factory=dict)

    def set_tokens(self, body: dict[str, Any]) -> None:
        self.access_token = body["access_token"]
        self.refresh_token = body["refresh_token"]
        self.expires_in = float(body.get("expires_in", 900))
        self.token_at = time.monotonic()
        self.headers = {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class Seeded:
    """The result of seeding: who is who, which tweets exist, and how long each phase took."""

    actors: list[Actor]
    graph: FollowGraph
    tweet_ids: list[str]
    timings_s: dict[str, float]
    errors: dict[str, int]
    prefix: str
    settled: bool = True


class SeedFigures(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What seeding did and how long it took (seconds, per phase), for the report."""

    seconds: float
    phases_s: dict[str, float]
    errors: dict[str, int]
    accounts: int
    tweets: int
    fanout_drained: bool
    #: Filled in by the subcommands that do these steps after seeding.
    quiesce_s: float | None = None
    token_refresh_failures: int | None = None
    graph: dict[str, object] | None = None


def seed_figures(seeded: Seeded, seconds: float) -> SeedFigures:
    return SeedFigures(
        seconds=round(seconds, 1),
        phases_s={k: round(v, 1) for k, v in seeded.timings_s.items()},
        errors=seeded.errors,
        accounts=len(seeded.actors),
        tweets=len(seeded.tweet_ids),
        fanout_drained=seeded.settled,
    )


def post_text(rng: random.Random, mention: str | None, n: int) -> str:
    """A tweet with what real ones carry: hashtags (Zipf-popular), sometimes a mention and a URL."""
    words = ("ship", "latency", "coffee", "deploy", "timeline", "python", "graph", "cache", "review", "bench")
    tags = [f"#tag{min(int(rng.paretovariate(1.2)), 50)}" for _ in range(rng.choice((1, 1, 2)))]
    parts = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))), *tags]
    if mention and rng.random() < 0.6:
        parts.insert(0, f"@{mention}")
    if rng.random() < 0.4:
        parts.append(f"https://example.org/post/{n}")
    return " ".join(parts)


async def pool(
    items: Sequence[T],
    work: Callable[[T], Awaitable[bool]],
    *,
    concurrency: int,
    progress: Progress,
    label: str,
) -> int:
    """Run ``work`` over ``items`` with at most ``concurrency`` at once; return the failure count."""
    task_id = progress.add_task(label, total=len(items))
    it = iter(items)
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for item in it:
            if not await work(item):
                failures += 1
            progress.advance(task_id)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failures


async def seed(
    session: aiohttp.ClientSession,
    base_url: str,
    graph: FollowGraph,
    *,
    tweets_per_user: int = 3,
    concurrency: int = 16,
    seed: int = 1,
    console: Console | None = None,
    settle_timeout_s: float = 600.0,
) -> Seeded:
    """Register and log in ``graph.users`` accounts, follow every edge, post the first tweets."""
    rng = random.Random(seed)
    prefix = "b" + "".join(rng.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(4)) + "_"
    actors: list[Actor | None] = [None] * graph.users
    errors: dict[str, int] = {}
    timings: dict[str, float] = {}
    tweet_ids: list[str] = []
    last_error: list[str] = []

    async def call(method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            async with session.request(method, base_url + path, json=body, headers=headers) as resp:
                data = await resp.json(content_type=None) if resp.content_length != 0 else None
                if resp.status >= 400:
                    last_error[:] = [f"{method} {path} -> {resp.status} {str(data)[:200]}"]
                return resp.status, data
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            last_error[:] = [f"{method} {path} -> {type(exc).__name__}: {exc}"]
            return 0, None

    async def account(i: int) -> bool:
        handle = f"{prefix}{i}"
        status, body = await call(
            "POST",
            "/api/auth/register",
            body={"handle": handle, "email": f"{handle}@bench.example.org", "password": PASSWORD},
        )
        if status != 201:
            return False
        actor = Actor(i, body["profile"]["id"], handle)
        status, tokens = await call("POST", "/api/auth/login", body={"login": handle, "password": PASSWORD})
        if status != 200:
            return False
        actor.set_tokens(tokens)
        actors[i] = actor
        return True

    async def follow(edge: tuple[int, int]) -> bool:
        a, b = actors[edge[0]], actors[edge[1]]
        if a is None or b is None:
            return False
        status, _ = await call("PUT", f"/api/users/me/following/{b.user_id}", a.access_token)
        return status == 200

    followees: dict[int, list[int]] = {}
    for a, b in graph.edges:
        followees.setdefault(a, []).append(b)

    async def post(job: tuple[int, int]) -> bool:
        actor = actors[job[0]]
        if actor is None:
            return False
        mention_of = followees.get(actor.index)
        mention = f"{prefix}{rng.choice(mention_of)}" if mention_of else None
        status, body = await call(
            "POST", "/api/tweets", actor.access_token, {"text": post_text(rng, mention, job[1])}
        )
        if status == 201:
            tweet_ids.append(body["id"])
        return status == 201

    with progress_bars(console, label_width=22) as progress:
        t0 = time.monotonic()
        errors["accounts"] = await pool(
            range(graph.users), account, concurrency=concurrency, progress=progress, label="accounts (argon2)"
        )
        timings["accounts"] = time.monotonic() - t0
        _check(errors["accounts"], graph.users, "accounts", last_error)
        t0 = time.monotonic()
        errors["follows"] = await pool(
            graph.edges, follow, concurrency=concurrency, progress=progress, label="follows"
        )
        timings["follows"] = time.monotonic() - t0
        _check(errors["follows"], len(graph.edges), "follows", last_error)
        t0 = time.monotonic()
        jobs = [(u, n) for n in range(tweets_per_user) for u in range(graph.users)]
        errors["tweets"] = await pool(jobs, post, concurrency=concurrency, progress=progress, label="tweets")
        timings["tweets"] = time.monotonic() - t0
        _check(errors["tweets"], len(jobs), "tweets", last_error)
    seeded = [a for a in actors if a is not None]
    t0 = time.monotonic()
    if console is not None:
        console.print("waiting for the fan-out of the seeded tweets to drain (a marker tweet shows up)...")
    settled = await settle(session, base_url, seeded, graph, tweet_ids, settle_timeout_s)
    timings["settle"] = time.monotonic() - t0
    return Seeded(seeded, graph, tweet_ids, timings, errors, prefix, settled)


def _check(failures: int, total: int, what: str, last_error: list[str]) -> None:
    if total and failures / total > 0.01:
        last = last_error[0] if last_error else "?"
        hint = (
            "; the deployment's rate limits refuse one address this fast: raise the TWITTERCLONE_RATE_* "
            "budgets of the server you benchmark (see BENCHMARKS.md)"
            if "-> 429" in last
            else ""
        )
        raise SeedError(f"{failures} of {total} {what} failed; last: {last}{hint}")


async def settle(
    session: aiohttp.ClientSession,
    base_url: str,
    actors: Sequence[Actor],
    graph: FollowGraph,
    tweet_ids: Sequence[str],
    timeout_s: float = 600.0,
) -> bool:
    """Wait until the event backlog of seeding has drained; False when it did not within ``timeout_s``.

    Seeding commits far faster than the consumers (fan-out, follow backfill, notifications, counters)
    keep up, and measuring on top of that backlog would measure the backlog. Each module's relay
    delivers its outbox in order, so two markers tell, through the public API alone, when it is done:
    1. a tweet posted last shows up in a follower's home timeline (the tweets outbox is drained);
    2. then an account that did not follow the author follows them, and the marker tweet shows up in
       its home timeline by the follow's backfill (the users outbox, all the seeded follows, is drained).
    """
    by_index = {a.index: a for a in actors}
    author = next((a for a in actors if graph.followers.get(a.index)), None)
    if author is None or not tweet_ids:
        return True
    follower = by_index.get(graph.followers[author.index][0])
    followers = set(graph.followers[author.index])
    stranger = next((a for a in actors if a.index not in followers and a is not author), None)
    if follower is None:
        return True
    deadline = time.monotonic() + timeout_s
    async with session.post(
        base_url + "/api/tweets", json={"text": "seeding done #bench"}, headers=author.headers
    ) as resp:
        marker = (await resp.json())["id"]

    async def visible_to(reader: Actor) -> bool:
        while time.monotonic() < deadline:
            async with session.get(
                base_url + "/api/timeline/home", params={"limit": "20"}, headers=reader.headers
            ) as resp:
                if marker.encode() in await resp.read():
                    return True
            await asyncio.sleep(0.5)
        return False

    if not await visible_to(follower):
        return False
    if stranger is None:
        return True
    async with session.put(
        f"{base_url}/api/users/me/following/{author.user_id}", headers=stranger.headers
    ) as resp:
        await resp.read()
    return await visible_to(stranger)


async def refresh_tokens(
    session: aiohttp.ClientSession, base_url: str, actors: Sequence[Actor], needed_s: float, concurrency: int
) -> int:
    """Rotate the tokens of every actor whose access token would expire within ``needed_s``; failures."""
    stale = [a for a in actors if time.monotonic() - a.token_at + needed_s > a.expires_in * 0.95]
    failures = 0
    sem = asyncio.Semaphore(concurrency)

    async def one(actor: Actor) -> None:
        nonlocal failures
        async with sem:
            try:
                async with session.post(
                    base_url + "/api/auth/refresh", json={"refresh_token": actor.refresh_token}
                ) as resp:
                    if resp.status == 200:
                        actor.set_tokens(await resp.json())
                    else:
                        failures += 1
            except (aiohttp.ClientError, TimeoutError, OSError):
                failures += 1

    await asyncio.gather(*(one(a) for a in stale))
    return failures
