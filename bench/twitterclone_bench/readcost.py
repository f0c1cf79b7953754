"""Server CPU per home-timeline read against the same server's ``/livez``, and where it goes.

Issue 14's first target is a ratio: home reads at 40 % or more of the stack's own ceiling. On a
shared machine throughput is unreliable, so this measures what the ratio rests on, the server
CPU one request costs, which other processes' load barely moves: a fresh monolith, a seeded
power-law graph (every account with a token), then alternating rounds of ``requests`` reads of
``/livez`` and of ``GET /api/timeline/home?limit=20`` with the tokens rotating, each round a
closed loop of ``concurrency`` connections. The server's process tree's CPU seconds (/proc) are
taken around each round, including a short tail after its last answer (a read's impressions are
flushed within a second: that work is the read's too), less what the idle server uses meanwhile.

The CPU ratio bounds the throughput ratio: with one core per worker saturated, home reads/s over
``/livez`` reads/s is about ``cpu(livez) / cpu(home)``.

With ``--py-spy PATH`` (a py-spy binary; not a project dependency) it also records the worker
while it serves home reads and sums the folded stacks into shares: the handler, hydration, SQL,
each middleware, rendering the response, and the leaf functions that take the most samples.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from twitterclone_bench.graph import synthetic
from twitterclone_bench.load import _loadavg, _proc_cpu, _process_tree, new_session
from twitterclone_bench.seed import Actor, seed
from twitterclone_bench.server import Monolith, measure_on_monolith, result_path, write_json

HOME = "/api/timeline/home?limit=20"
#: A read's impressions are flushed about a second after it (modules/timeline/impressions.py).
TAIL_S = 1.2


@dataclass
class ReadCostConfig:
    manifest: str = "deployments/monolith.toml"
    workers: int = 1
    users: int = 200
    avg_follows: float = 15.0
    tweets_per_user: int = 5
    requests: int = 3000
    rounds: int = 3
    concurrency: int = 8
    warmup: int = 500
    py_spy: str | None = None
    profile_s: float = 10.0
    profile_rate: int = 200
    #: Also sample native frames (py-spy --native; pauses the worker per sample, so slower).
    native: bool = False
    seed: int = 1
    out_dir: str = "bench-results"
    label: str = ""


@dataclass
class Round:
    route: str
    requests: int
    errors: int
    wall_s: float
    server_cpu_s: float
    idle_cpu_s: float
    cpu_us_per_request: float
    loadavg_1m: float | None


@dataclass
class ReadCost:
    config: dict[str, Any]
    graph: dict[str, object]
    rounds: list[Round] = field(default_factory=list)
    #: Median server CPU µs per request, per route.
    median_us: dict[str, float] = field(default_factory=dict)
    #: cpu(livez) / cpu(home): the fraction of the ceiling home reads could reach on CPU alone.
    home_fraction_of_ceiling: float = 0.0
    response_bytes: int = 0
    profile: dict[str, Any] | None = None


def _tree_cpu(pid: int) -> float:
    return sum(_proc_cpu(p) for p in _process_tree(pid))


async def _drive(
    session: aiohttp.ClientSession,
    base: str,
    route: str,
    actors: list[Actor],
    n: int,
    concurrency: int,
    rng: random.Random,
) -> tuple[int, float]:
    """Send ``n`` requests over ``concurrency`` connections, each as soon as the last one is done."""
    errors = 0
    left = n
    url = base + ("/livez" if route == "livez" else HOME)

    async def worker() -> None:
        nonlocal left, errors
        while left > 0:
            left -= 1
            headers = rng.choice(actors).headers if route == "home" else None
            try:
                async with session.get(url, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
            except (aiohttp.ClientError, TimeoutError, OSError):
                errors += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return errors, time.monotonic() - started


async def _idle_rate(pid: int, seconds: float = 2.0) -> float:
    """Server CPU seconds per second while nobody asks it anything (relays' polls, timers)."""
    before = _tree_cpu(pid)
    await asyncio.sleep(seconds)
    return (_tree_cpu(pid) - before) / seconds


async def _round(
    session: aiohttp.ClientSession,
    base: str,
    pid: int,
    route: str,
    actors: list[Actor],
    config: ReadCostConfig,
    idle: float,
    rng: random.Random,
) -> Round:
    before = _tree_cpu(pid)
    errors, wall = await _drive(session, base, route, actors, config.requests, config.concurrency, rng)
    await asyncio.sleep(TAIL_S)
    used = _tree_cpu(pid) - before
    idle_share = idle * (wall + TAIL_S)
    return Round(
        route=route,
        requests=config.requests,
        errors=errors,
        wall_s=round(wall, 3),
        server_cpu_s=round(used, 3),
        idle_cpu_s=round(idle_share, 3),
        cpu_us_per_request=round(max(0.0, used - idle_share) / config.requests * 1e6, 1),
        loadavg_1m=_loadavg(),
    )


def _worker_pid(root: int) -> int:
    """The process of the tree that used the most CPU so far: the (busiest) granian worker."""
    return max(_process_tree(root), key=_proc_cpu)


#: Profile shares: a sample counts under a label when any frame of its stack matches (so the
#: labels overlap: "the handler" contains "hydration", which contains part of "SQL").
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the handler (TimelineService.home_timeline)", ("home_timeline (modules/timeline/service.py",)),
    (
        "… hydration (TweetsService.get_feed/get_many)",
        ("get_feed (modules/tweets/", "get_many (modules/tweets/"),
    ),
    ("SQL (sqlite3 / ModuleStore)", ("(twitterclone/infra/store.py",)),
    ("auth guard and token check (gateway/auth.py)", ("(twitterclone/gateway/auth.py",)),
    ("dishka injection", ("/dishka/",)),
    ("rate limit middleware", ("(twitterclone/gateway/ratelimit.py", "(twitterclone/infra/ratelimit.py")),
    ("admission middleware", ("(twitterclone/gateway/admission.py",)),
    ("request id / edge middleware", ("(twitterclone/gateway/middleware.py",)),
    ("security headers middleware", ("(twitterclone/gateway/headers.py",)),
    ("canonical path middleware", ("(twitterclone/gateway/paths.py",)),
    (
        "Prometheus middleware",
        ("/litestar/plugins/prometheus/", "/prometheus_client/", "(twitterclone/gateway/request_metrics.py"),
    ),
    ("response encoding (litestar response, msgspec)", ("/litestar/response/", "/litestar/serialization/")),
    ("event relay / background jobs", ("(twitterclone/infra/events.py", "(modules/timeline/impressions.py")),
)


#: Leaf frames of the event loop waiting for something to do.
IDLE_LEAVES = ("EpollSelector.select", "BaseSelector.select")


#: Exclusive attribution: each sample goes to the innermost frame's component, walking up past
#: helpers (header containers, ``re``, ``copy``...) to whoever called them. First match wins.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "SQL (sqlite3, SQLAlchemy, ModuleStore)",
        ("(twitterclone/infra/store.py", "(sqlalchemy/", "(aiosqlite/"),
    ),
    ("tweets module (hydration)", ("(modules/tweets/",)),
    ("timeline module", ("(modules/timeline/",)),
    ("users module", ("(modules/users/",)),
    (
        "events, relay, analytics",
        ("(modules/analytics/", "(modules/notifications/", "(twitterclone/infra/events.py"),
    ),
    (
        "auth (token check, guard)",
        (
            "(twitterclone/gateway/auth.py",
            "(twitterclone/gateway/guards.py",
            "(jwt/",
            "(boundaries/users/scopes.py",
        ),
    ),
    ("dishka injection", ("(dishka/", "<dishka_func")),
    ("response building, JSON encoding", ("(litestar/response/", "(litestar/serialization/", "(msgspec/")),
    (
        "Prometheus",
        ("(litestar/plugins/prometheus/", "(prometheus_client/", "(twitterclone/gateway/request_metrics.py"),
    ),
    ("rate limit middleware", ("(twitterclone/gateway/ratelimit.py", "(twitterclone/infra/ratelimit.py")),
    ("admission middleware", ("(twitterclone/gateway/admission.py", "(twitterclone/remote/deadline.py")),
    ("request id, edge, trace", ("(twitterclone/gateway/middleware.py", "(twitterclone/remote/tracing.py")),
    ("security headers middleware", ("(twitterclone/gateway/headers.py",)),
    ("canonical path middleware", ("(twitterclone/gateway/paths.py",)),
    ("other gateway code", ("(twitterclone/gateway/",)),
    ("Litestar request path (routing, parameters, guards, exceptions)", ("(litestar/",)),
    ("asyncio machinery", ("(asyncio/",)),
    ("granian", ("(granian/",)),
)
#: Frames that are nobody's cost of their own: charged to the frame that called them.
HELPERS = (
    "(litestar/datastructures/",
    "(<frozen _collections_abc>",
    "(re/",
    "(copy.py",
    "(typing.py",
    "(enum.py",
    "(weakref.py",
    "(functools.py",
    "(contextlib.py",
    "(random.py",
    "(secrets.py",
    "(logging/",
)
#: Leaf frames in one of our send wrappers: the time is in the server's send (writing the socket).
SEND_LEAF = "send"


def component_of(frames: list[str]) -> str:
    """The component a sample's time belongs to (see COMPONENTS and HELPERS)."""
    leaf = frames[-1]
    if "(twitterclone/gateway/" in leaf and SEND_LEAF in leaf.split(" (", 1)[0].rsplit(".", 1)[-1]:
        return "granian send (writing the response to the socket)"
    for frame in reversed(frames):
        if any(h in frame for h in HELPERS):
            continue
        for label, needles in COMPONENTS:
            if any(n in frame for n in needles):
                return label
    return "other"


def summarise(folded: str, top: int = 25) -> dict[str, Any]:
    """Shares of samples per category, per file and per leaf function, from py-spy's raw output."""
    total = 0
    by_cat: Counter[str] = Counter()
    by_leaf: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    by_component: Counter[str] = Counter()
    handler_outside = 0
    waiting = other_threads = 0
    for line in folded.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack.strip() or not count_s.isdigit():
            continue  # a sample in native code only (granian's Rust threads): not Python's time
        count = int(count_s)
        frames = stack.split(";")
        if frames[0].startswith("Thread._bootstrap"):
            other_threads += count  # aiosqlite's and other helper threads, mostly parked
            continue
        if frames[-1].startswith(IDLE_LEAVES):
            waiting += count  # the event loop waiting for work: idle, not cost
            continue
        total += count
        for label, needles in CATEGORIES:
            if any(n in f for f in frames for n in needles):
                by_cat[label] += count
        by_leaf[frames[-1]] += count
        by_component[component_of(frames)] += count
        files = {f.rsplit("(", 1)[-1].split(":", 1)[0] for f in frames if "(" in f}
        for name in files:
            by_file[name] += count
        if not any("home_timeline (modules/timeline/service.py" in f for f in frames):
            handler_outside += count
    if total == 0:
        return {"samples": 0}

    def share(n: int) -> float:
        return round(100 * n / total, 1)

    return {
        "samples": total,
        "excluded": {"event_loop_waiting": waiting, "other_threads": other_threads},
        "components_pct": {k: share(v) for k, v in by_component.most_common()},
        "categories_pct": {label: share(by_cat[label]) for label, _ in CATEGORIES},
        "outside_the_handler_pct": share(handler_outside),
        "files_pct": {k: share(v) for k, v in by_file.most_common(top)},
        "leaf_functions_pct": {k: share(v) for k, v in by_leaf.most_common(top)},
    }


async def _profile(
    session: aiohttp.ClientSession,
    base: str,
    root: int,
    actors: list[Actor],
    config: ReadCostConfig,
    out: Path,
    rng: random.Random,
) -> dict[str, Any]:
    assert config.py_spy is not None
    worker = _worker_pid(root)
    folded = result_path(out, "read-cost", config.label, ".folded")
    mode = "--native" if config.native else "--nonblocking"
    spy = await asyncio.create_subprocess_exec(
        config.py_spy,
        "record",
        "-p",
        str(worker),
        "-d",
        f"{config.profile_s:g}",
        "-r",
        str(config.profile_rate),
        "-f",
        "raw",
        mode,
        "-o",
        str(folded),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(0.5)  # let it attach
    deadline = time.monotonic() + config.profile_s
    while time.monotonic() < deadline and spy.returncode is None:
        await _drive(session, base, "home", actors, 500, config.concurrency, rng)
    _, err = await spy.communicate()
    if spy.returncode != 0 or not folded.exists():
        return {"error": f"py-spy exited {spy.returncode}: {err.decode(errors='replace')[-500:]}"}
    summary = summarise(folded.read_text())
    command = f"py-spy record -p <worker> -d {config.profile_s:g} -r {config.profile_rate} -f raw {mode}"
    return {"command": command, "folded": str(folded), **summary}


def run_read_cost(config: ReadCostConfig) -> ReadCost:
    """Seed, measure, profile (when asked), print and write ``<out-dir>/<time>-read-cost[-label].json``."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    graph = synthetic(config.users, config.avg_follows, config.seed)

    async def measure(server: Monolith) -> ReadCost:
        assert server.pid is not None
        rng = random.Random(config.seed)
        result = ReadCost(config=asdict(config), graph=graph.describe())
        async with new_session(max(16, config.concurrency * 2), 30.0) as session:
            seeded = await seed(
                session,
                server.url,
                graph,
                tweets_per_user=config.tweets_per_user,
                seed=config.seed,
                settle_timeout_s=300,
            )
            if not seeded.settled:
                raise RuntimeError("the seeded fan-out did not drain within 300 s")
            actors = seeded.actors
            async with session.get(server.url + HOME, headers=actors[0].headers) as resp:
                result.response_bytes = len(await resp.read())
            for route in ("livez", "home"):
                await _drive(session, server.url, route, actors, config.warmup, config.concurrency, rng)
            await asyncio.sleep(TAIL_S)
            idle = await _idle_rate(server.pid)
            for _ in range(config.rounds):
                for route in ("livez", "home"):
                    one = await _round(session, server.url, server.pid, route, actors, config, idle, rng)
                    result.rounds.append(one)
                    print(
                        f"{route:5s} {one.cpu_us_per_request:8.1f} µs CPU/request "
                        f"({one.requests} in {one.wall_s} s, {one.errors} errors, load {one.loadavg_1m})"
                    )
            for route in ("livez", "home"):
                result.median_us[route] = statistics.median(
                    r.cpu_us_per_request for r in result.rounds if r.route == route
                )
            result.home_fraction_of_ceiling = round(result.median_us["livez"] / result.median_us["home"], 3)
            if config.py_spy:
                result.profile = await _profile(session, server.url, server.pid, actors, config, out, rng)
        return result

    result = measure_on_monolith(config.manifest, config.workers, measure)
    path = write_json(out, "read-cost", config.label, result)
    print(
        f"server CPU per request (median of {config.rounds} rounds of {config.requests}, "
        f"{config.concurrency} connections, {config.workers} worker(s)): "
        f"/livez {result.median_us['livez']:.1f} µs, home {result.median_us['home']:.1f} µs; "
        f"home at {100 * result.home_fraction_of_ceiling:.1f} % of the /livez ceiling on CPU; "
        f"load average {os.getloadavg()[0]:.2f}; results: {path}"
    )
    if result.profile and "categories_pct" in result.profile:
        print(f"profile ({result.profile['samples']} samples), share of the worker's samples:")
        for label, pct in result.profile["categories_pct"].items():
            print(f"  {pct:5.1f} %  {label}")
        print(f"  {result.profile['outside_the_handler_pct']:5.1f} %  outside the handler")
        print("exclusive, by component:")
        for label, pct in result.profile["components_pct"].items():
            print(f"  {pct:5.1f} %  {label}")
    elif result.profile:
        print(f"profile: {result.profile.get('error')}")
    return result
