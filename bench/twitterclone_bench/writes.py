"""``twitterclone bench writes``: what a post costs in server CPU, on the request path and in fan-out.

CPU time, not rates: a busy machine slows requests but charges the server little for others'
work, so these figures hold on a shared machine where a throughput search does not.

1. **Over HTTP** (a ``twitterclone run`` monolith it starts, as ``--start-monolith`` does):
   accounts with no followers post one after another over a kept-alive connection; per round
   the server's CPU (its process tree, from /proc) is read before the first post and again once
   the server is idle after the last (every consumer done), less the idle rate of the server
   measured before. That is the CPU of a post *with* the consumers it sets off.
2. **In process** (the monolith wired in this process by the composition root, SQLite files; the
   home timelines in SQL and, in a second runtime, in Redis as ``home_store = "redis"``), with
   the relays stopped while writing:
   - ``port``: process CPU per ``TweetsPort.post`` (the module's part of the request path: no
     HTTP, no middlewares, no JWT);
   - ``consumers``: the relays started, process CPU until every outbox is empty and the deferred
     timeline trims have run, per post of an author with no followers (fan-out to the author
     only, mentions, counters, trends);
   - ``fan-out``: the same for posts of an author with ``--followers`` followers; the CPU per
     home-timeline entry written is (that drain's CPU - posts x ``consumers``) / (posts x followers).
   - ``one at a time``: the relays running, each post drained before the next (as the HTTP
     rounds post): the port and the consumers of a post that has no batch to share them with.
   The request path over HTTP is then estimated as (1) - (``one at a time`` - ``port``).

``--profile FILE`` writes a cProfile of the in-process posting burst (``port``) and of the fan-out
drain on SQLite, and prints their top functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import pstats
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
from redis.asyncio import Redis
from rich.console import Console

from boundaries._kernel.pagination import PageRequest
from boundaries.timeline.port import TimelinePort
from boundaries.tweets.dto import PostTweet
from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import MAX_IMPORT, AccountImport, ImportedAccount, ImportedFollow, Register
from boundaries.users.port import UsersPort
from twitterclone.composition import Runtime
from twitterclone.manifest import MODULE_NAMES, Manifest, parse_manifest
from twitterclone_bench.load import _proc_cpu, _process_tree
from twitterclone_bench.relay import PASSWORD, in_process_runtime, total_backlog
from twitterclone_bench.report import Report, file_name, publish, table
from twitterclone_bench.seed import post_text
from twitterclone_bench.server import Monolith, stopping_on_sigterm

#: The SQL home store trims the timelines it wrote to every 2 s (``TRIM_INTERVAL_S``): a drain is
#: counted until a trim pass after it has run.
SETTLE_S = 2.5


@dataclass
class WritesBenchConfig:
    """Every knob of ``twitterclone bench writes``."""

    manifest: str = "deployments/monolith.toml"
    workers: int | None = None
    http: bool = True
    in_process: bool = True
    redis: bool = True
    redis_url: str = "redis://127.0.0.1:6379/0"
    authors: int = 20
    posts: int = 300
    rounds: int = 3
    followers: int = 2000
    fanout_posts: int = 20
    profile: str | None = None
    seed: int = 1
    out_dir: str = "bench-results"
    label: str = ""


class HttpPosts(msgspec.Struct, kw_only=True):
    """Server CPU per ``POST /api/tweets`` (with what its consumers then do), per round."""

    workers: str
    idle_cores: float
    rounds_us: list[float]
    median_us: float
    wall_ms_per_post: float
    #: The same server's CPU per ``GET /livez`` over the same connection: the floor of any request.
    livez_us: float


class StorePosts(msgspec.Struct, kw_only=True):
    """In process, one home store: CPU per post on the port, of its consumers, per fan-out entry."""

    home_store: str
    port_us: float
    consumers_us: float
    #: Relays running, one post at a time, each drained before the next: the port and consumers
    #: of one post as a request meets them (no batch to share the relay's and consumers' work).
    one_by_one_us: float
    followers: int
    fanout_posts: int
    fanout_drain_s: float
    fanout_entry_us: float
    fanout_entries_per_s_of_cpu: float
    #: Followers (a sample, read through the timeline port) who see every fanned-out post.
    fanout_seen_by: str


class WritesReport(Report, kw_only=True):
    """``twitterclone bench writes``."""

    config: dict[str, object]
    http: HttpPosts | None = None
    stores: list[StorePosts] = []
    #: HTTP CPU per post less what its consumers cost one post at a time (SQL store: one at a
    #: time less the port): an estimate of the request path's own cost.
    request_path_us: float | None = None
    load_average: list[float] = []

    def render(self, console: Console) -> None:
        rows: list[tuple[str, ...]] = []
        if self.http is not None:
            rows.append(("HTTP post + its consumers (median)", f"{self.http.median_us:,.0f} µs", "per post"))
            rows.append(("HTTP GET /livez (the floor)", f"{self.http.livez_us:,.0f} µs", "per request"))
        for s in self.stores:
            rows += [
                (f"({s.home_store}) TweetsPort.post (in process)", f"{s.port_us:,.0f} µs", "per post"),
                (f"({s.home_store}) consumers, no followers", f"{s.consumers_us:,.0f} µs", "per post"),
                (
                    f"({s.home_store}) post + consumers, one at a time",
                    f"{s.one_by_one_us:,.0f} µs",
                    "per post",
                ),
                (
                    f"({s.home_store}) fan-out ({s.followers} followers)",
                    f"{s.fanout_entry_us:,.2f} µs",
                    "per home-timeline entry",
                ),
            ]
        if self.request_path_us is not None:
            rows.append(
                (
                    "HTTP request path (HTTP - one at a time + port)",
                    f"{self.request_path_us:,.0f} µs",
                    "per post",
                )
            )
        console.print(table("server CPU per write", ("what", "CPU", ""), rows))


# --------------------------------------------------------------------------- over HTTP


def _server_cpu(pid: int) -> float:
    return sum(_proc_cpu(p) for p in _process_tree(pid))


def _wait_idle(pid: int, idle_cores: float, *, window_s: float = 0.5, timeout_s: float = 60.0) -> None:
    """Until the server used at most ``idle_cores`` + 0.05 over a window: its consumers are done."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = _server_cpu(pid)
        time.sleep(window_s)
        if (_server_cpu(pid) - before) / window_s <= idle_cores + 0.05:
            return
    raise RuntimeError("the server did not go idle after posting")


def _account(client: httpx.Client, handle: str) -> dict[str, str]:
    body = {"handle": handle, "email": f"{handle}@example.org", "password": PASSWORD}
    client.post("/api/auth/register", json=body).raise_for_status()
    login = client.post("/api/auth/login", json={"login": handle, "password": PASSWORD})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def measure_http(config: WritesBenchConfig, console: Console) -> HttpPosts:
    rng = random.Random(config.seed)
    with (
        Monolith(config.manifest, workers=config.workers) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        assert server.pid is not None
        handles = [f"w{i}" for i in range(config.authors)]
        tokens = [_account(client, h) for h in handles]
        n = 0

        def post_round(count: int) -> None:
            nonlocal n
            for _ in range(count):
                i = n % len(tokens)
                text = post_text(rng, rng.choice(handles), n)
                r = client.post("/api/tweets", json={"text": text}, headers=tokens[i])
                if r.status_code != 201:
                    raise RuntimeError(f"POST /api/tweets: {r.status_code} {r.text[:200]}")
                n += 1

        post_round(min(100, config.posts))  # warm up: caches, statement compilation
        _wait_idle(server.pid, 0.2)
        t0, c0 = time.monotonic(), _server_cpu(server.pid)
        time.sleep(3.0)
        idle = (_server_cpu(server.pid) - c0) / (time.monotonic() - t0)
        console.print(f"server idle: {idle:.3f} cores")
        c0 = _server_cpu(server.pid)
        t0 = time.monotonic()
        for _ in range(config.posts * 3):
            client.get("/livez").raise_for_status()
        livez = (_server_cpu(server.pid) - c0 - idle * (time.monotonic() - t0)) / (config.posts * 3)
        console.print(f"GET /livez: {livez * 1e6:,.0f} µs of server CPU")
        rounds: list[float] = []
        walls: list[float] = []
        for r in range(config.rounds):
            t0, c0 = time.monotonic(), _server_cpu(server.pid)
            post_round(config.posts)
            walls.append((time.monotonic() - t0) / config.posts * 1000)
            _wait_idle(server.pid, idle)
            elapsed = time.monotonic() - t0
            cpu = _server_cpu(server.pid) - c0 - idle * elapsed
            rounds.append(round(cpu / config.posts * 1e6, 1))
            console.print(f"round {r + 1}: {rounds[-1]:,.0f} µs of server CPU per post (with its consumers)")
    return HttpPosts(
        workers=str(config.workers or "manifest default"),
        idle_cores=round(idle, 4),
        rounds_us=rounds,
        median_us=round(statistics.median(rounds), 1),
        wall_ms_per_post=round(statistics.median(walls), 3),
        livez_us=round(livez * 1e6, 1),
    )


# --------------------------------------------------------------------------- in process


def redis_manifest(redis_url: str, prefix: str) -> Manifest:
    """The monolith on SQLite files with its home timelines in Redis (``home_store = "redis"``)."""
    modules = "\n".join(
        f'[modules.{m}]\nplacement = "local"\n'
        + ('options = { home_store = "redis" }\n' if m == "timeline" else "")
        for m in MODULE_NAMES
    )
    text = (
        f'name = "bench-writes-redis"\n\n[database]\nkind = "sqlite"\n\n'
        f'[redis]\nurl = "{redis_url}"\nprefix = "{prefix}"\n\n'
        f'[gateway]\nhost = "127.0.0.1"\nport = 8000\nworkers = 1\n\n{modules}'
    )
    return parse_manifest(text, source="<bench writes manifest>")


@contextlib.asynccontextmanager
async def _redis_keys_removed(url: str, prefix: str) -> AsyncIterator[None]:
    """Delete every key under ``prefix`` (this run's own) afterwards."""
    try:
        yield
    finally:
        redis = Redis.from_url(url)
        try:
            batch: list[bytes] = []
            async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    await redis.delete(*batch)
                    batch = []
            if batch:
                await redis.delete(*batch)
        finally:
            await redis.aclose()


async def _idle_rate(runtime: Runtime, seconds: float = 2.0) -> float:
    """Cores this process uses doing nothing (relays' polls, background jobs)."""
    del runtime
    t0, c0 = time.monotonic(), time.process_time()
    await asyncio.sleep(seconds)
    return (time.process_time() - c0) / (time.monotonic() - t0)


async def _drain_cpu(
    runtime: Runtime, idle: float, profiler: cProfile.Profile | None = None
) -> tuple[float, float]:
    """Start the relays; CPU seconds (less idle) until every outbox is empty and a trim pass ran; wall s."""
    t0, c0 = time.monotonic(), time.process_time()
    if profiler is not None:
        profiler.enable()
    for relay in runtime.relays:
        relay.start()
    while await total_backlog(runtime):  # noqa: ASYNC110 - a count to poll, no event to wait on
        await asyncio.sleep(0.02)
    drained = time.monotonic() - t0
    await asyncio.sleep(SETTLE_S)
    if profiler is not None:
        profiler.disable()
    cpu = time.process_time() - c0 - idle * (time.monotonic() - t0)
    return max(cpu, 0.0), drained


async def _burst(runtime: Runtime, write: Callable[[], Awaitable[int]]) -> tuple[int, float]:
    """Relays stopped: run ``write``; the posts written and their process CPU."""
    for relay in runtime.relays:
        await relay.stop()
    c0 = time.process_time()
    n = await write()
    return n, time.process_time() - c0


async def _one_by_one(
    runtime: Runtime, post: Callable[[int], Awaitable[object]], n: int, profiler: cProfile.Profile | None
) -> float:
    """Relays running: post, wait until every outbox is empty, again; CPU seconds per post.

    The waiting polls the outboxes every 2 ms; their own CPU is taken out."""
    for relay in runtime.relays:
        relay.start()
    await asyncio.sleep(0.5)
    polling = 0.0
    t0 = time.process_time()
    if profiler is not None:
        profiler.enable()
    for i in range(n):
        await post(i)
        while True:
            p0 = time.process_time()
            left = await total_backlog(runtime)
            polling += time.process_time() - p0
            if not left:
                break
            await asyncio.sleep(0.002)
    if profiler is not None:
        profiler.disable()
    return (time.process_time() - t0 - polling) / n


async def measure_store(
    config: WritesBenchConfig, home_store: str, console: Console, profile: dict[str, cProfile.Profile] | None
) -> StorePosts:
    rng = random.Random(config.seed)
    prefix = f"tc_bench_writes_{uuid.uuid4().hex[:8]}:"
    manifest = redis_manifest(config.redis_url, prefix) if home_store == "redis" else None
    cleanup = _redis_keys_removed(config.redis_url, prefix) if manifest else contextlib.nullcontext()
    async with cleanup, in_process_runtime("sqlite", "", manifest=manifest) as runtime:
        users: UsersPort = await runtime.get(UsersPort)
        tweets: TweetsPort = await runtime.get(TweetsPort)
        authors = [
            (
                await users.register(Register(handle=f"a{i}", email=f"a{i}@example.org", password=PASSWORD))
            ).profile.id
            for i in range(config.authors)
        ]
        handles = [f"a{i}" for i in range(config.authors)]
        star = (
            await users.register(Register(handle="fan", email="fan@example.org", password=PASSWORD))
        ).profile.id
        followers: list[str] = []
        for start in range(0, config.followers, MAX_IMPORT):
            count = min(MAX_IMPORT, config.followers - start)
            accounts = [
                ImportedAccount(handle=f"f{start + i}", email=f"f{start + i}@example.org")
                for i in range(count)
            ]
            followers += (await users.import_accounts(AccountImport(accounts=accounts))).ids
        for start in range(0, len(followers), MAX_IMPORT):
            follows = [
                ImportedFollow(follower_id=f, followee_id=star) for f in followers[start : start + MAX_IMPORT]
            ]
            await users.import_accounts(AccountImport(follows=follows))
        await runtime.drain_events(600)
        n_posted = 0

        async def warm() -> int:
            nonlocal n_posted
            for i in range(50):
                await tweets.post(
                    authors[i % len(authors)], PostTweet(text=post_text(rng, handles[0], i)), None
                )
                n_posted += 1
            return 50

        await _burst(runtime, warm)
        await _drain_cpu(runtime, 0.0)
        idle = await _idle_rate(runtime)

        async def lonely_posts() -> int:
            nonlocal n_posted
            for i in range(config.posts):
                text = post_text(rng, rng.choice(handles), n_posted)
                await tweets.post(authors[i % len(authors)], PostTweet(text=text), None)
                n_posted += 1
            return config.posts

        port_profiler = cProfile.Profile() if profile is not None and home_store == "sql" else None
        if port_profiler is not None:
            port_profiler.enable()
        n, port_cpu = await _burst(runtime, lonely_posts)
        if port_profiler is not None and profile is not None:
            port_profiler.disable()
            profile["post"] = port_profiler
        consumers_cpu, _ = await _drain_cpu(runtime, idle)

        one_profiler = cProfile.Profile() if profile is not None and home_store == "sql" else None
        one_by_one = await _one_by_one(
            runtime,
            lambda i: tweets.post(
                authors[i % len(authors)], PostTweet(text=post_text(rng, rng.choice(handles), i)), None
            ),
            config.posts,
            one_profiler,
        )
        if one_profiler is not None and profile is not None:
            profile["one-by-one"] = one_profiler

        # The sampled followers read their timelines once before the fan-out (a Redis copy is built
        # and marked complete then, a SQL one holds the first post): the reads after it show only
        # what the fan-out wrote, not a rebuild from the source of truth.
        timeline: TimelinePort = await runtime.get(TimelinePort)
        sample = rng.sample(followers, min(20, len(followers)))
        await tweets.post(star, PostTweet(text="before the fan-out"), None)
        await runtime.drain_events(60)
        for follower in sample:
            await timeline.home_timeline(follower, PageRequest(limit=1))
        fanned: list[str] = []

        async def star_posts() -> int:
            nonlocal n_posted
            for _ in range(config.fanout_posts):
                text = post_text(rng, None, n_posted)
                fanned.append((await tweets.post(star, PostTweet(text=text), None)).id)
                n_posted += 1
            return config.fanout_posts

        fan_profiler = cProfile.Profile() if profile is not None and home_store == "sql" else None
        n_fan, _ = await _burst(runtime, star_posts)
        fan_cpu, fan_wall = await _drain_cpu(runtime, idle, fan_profiler)
        if fan_profiler is not None and profile is not None:
            profile["fan-out"] = fan_profiler
        # The entries counted were written: a sample of followers sees every post on its first page.
        seen = 0
        for follower in sample:
            page = await timeline.home_timeline(follower, PageRequest(limit=min(100, len(fanned))))
            seen += set(fanned) <= {t.id for t in page.items}
    per_post = consumers_cpu / n
    entries = n_fan * config.followers
    per_entry = max(fan_cpu - n_fan * per_post, 0.0) / max(entries, 1)
    result = StorePosts(
        home_store=home_store,
        port_us=round(port_cpu / n * 1e6, 1),
        consumers_us=round(per_post * 1e6, 1),
        one_by_one_us=round(one_by_one * 1e6, 1),
        followers=config.followers,
        fanout_posts=n_fan,
        fanout_drain_s=round(fan_wall, 3),
        fanout_entry_us=round(per_entry * 1e6, 3),
        fanout_entries_per_s_of_cpu=round(1 / per_entry) if per_entry else 0,
        fanout_seen_by=f"{seen}/{len(sample)}",
    )
    console.print(
        f"({home_store}) port {result.port_us:,.0f} µs/post, consumers {result.consumers_us:,.0f} µs/post, "
        f"one at a time {result.one_by_one_us:,.0f} µs/post, "
        f"fan-out {result.fanout_entry_us:.2f} µs/entry ({entries} entries, drained in {fan_wall:.2f} s; "
        f"{result.fanout_seen_by} sampled followers see every post)"
    )
    return result


def _print_profile(name: str, profiler: cProfile.Profile, path: str, console: Console) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(f"{path}.{name}.prof")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
    console.print(f"[bold]cProfile of {name}[/] ({path}.{name}.prof)")
    console.print(out.getvalue(), markup=False, highlight=False)


def run_writes_bench(config: WritesBenchConfig) -> WritesReport:
    """Measure, print a table, write ``<out_dir>/<time>-writes[-label].json``."""
    console = Console()
    http = stopping_on_sigterm(lambda: measure_http(config, console)) if config.http else None
    stores: list[StorePosts] = []
    profiles: dict[str, cProfile.Profile] | None = {} if config.profile else None
    if config.in_process:
        kinds = ["sql", "redis"] if config.redis else ["sql"]
        for kind in kinds:
            stores.append(asyncio.run(measure_store(config, kind, console, profiles)))
    if profiles and config.profile:
        for name, profiler in profiles.items():
            _print_profile(name, profiler, config.profile, console)
    request_path = None
    if http is not None and stores:
        sql = stores[0]
        request_path = round(http.median_us - (sql.one_by_one_us - sql.port_us), 1)
    with open("/proc/loadavg") as fh:
        load = [float(x) for x in fh.read().split()[:3]]
    report = WritesReport(
        config={k: v for k, v in vars(config).items() if k != "redis_url"},
        http=http,
        stores=stores,
        request_path_us=request_path,
        load_average=load,
    )
    publish(report, config.out_dir, file_name("writes", "", config.label), console)
    return report
