"""Server CPU per request of each route of the mixed workload, and the generator's own CPU.

Issue 14's targets 3 and 4 ask for 1,500 to 1,670 req/s of the mix on two cores. Throughput on a
shared machine is noise; what it rests on is the server CPU each route costs, which other
processes' load barely moves. This starts a fresh monolith, seeds the power-law graph of
``make bench`` through the API, and then, in alternating rounds, sends ``requests`` requests of
one route at a time (built by the same ``Workload`` as the mixed run: the same accounts, targets,
post texts, likes on the newest tweets, follows by popularity) in a closed loop of ``concurrency``
keep-alive connections. Around each round it takes the server's process tree's CPU seconds from
/proc: while the requests are answered (the request path) and after the last answer until the
server is idle again (the consequences: a post's fan-out, notifications, analytics, the relay; a
read's impressions), less what the idle server uses meanwhile. The mix's cost is the weighted sum;
``cores / cost`` is the rate the server's CPU alone allows.

With ``--generator-rate R`` it also runs the mix open loop at R req/s for ``--generator-s``
seconds, alternately on aiohttp and on the lean client (``http1``), and reports the CPU per
request of the generator (this process) and of the server for each: what a cheaper generator gives
back to a server that shares its cores.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from twitterclone_bench.graph import synthetic
from twitterclone_bench.http1 import Http1Client
from twitterclone_bench.load import CpuMeter, _loadavg, _proc_cpu, _process_tree, new_session, open_loop
from twitterclone_bench.options import DEFAULT_MIX
from twitterclone_bench.seed import seed
from twitterclone_bench.server import Monolith, measure_on_monolith, result_path, write_json
from twitterclone_bench.workload import Workload

#: The server is idle again when its tree uses less than this many cores above its idle rate.
IDLE_MARGIN_CORES = 0.03
#: At least this long after a round (a read's impressions are flushed about a second later).
MIN_TAIL_S = 1.2


@dataclass
class MixCostConfig:
    manifest: str = "deployments/monolith.toml"
    workers: int = 2
    users: int = 1000
    avg_follows: float = 20.0
    tweets_per_user: int = 3
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    requests: int = 1000
    rounds: int = 3
    concurrency: int = 8
    warmup: int = 200
    settle_limit_s: float = 60.0
    generator_rate: float = 0.0
    generator_s: float = 20.0
    generator_rounds: int = 2
    #: A py-spy binary: also profile one worker while it serves each of ``profile_routes``.
    py_spy: str | None = None
    profile_routes: tuple[str, ...] = ()
    profile_s: float = 10.0
    seed: int = 1
    out_dir: str = "bench-results"
    label: str = ""


@dataclass
class RouteRound:
    route: str
    requests: int
    errors: int
    error_statuses: dict[str, int]
    wall_s: float
    tail_s: float
    #: Server CPU µs per request while the requests were answered, and after (until idle).
    request_path_us: float
    after_us: float
    total_us: float
    generator_us: float
    loadavg_1m: float | None


@dataclass
class GeneratorRound:
    client: str
    rate_rps: float
    requests: int
    errors: int
    #: Failed requests by HTTP status (0: no response: timeout, connection lost...).
    error_statuses: dict[str, int]
    generator_us_per_request: float | None
    server_us_per_request: float | None
    generator_cores: float | None
    server_cores: float | None
    other_cores: float | None
    loadavg_1m: float | None


@dataclass
class MixCost:
    config: dict[str, Any]
    graph: dict[str, object]
    idle_cores: float = 0.0
    rounds: list[RouteRound] = field(default_factory=list)
    #: Per route: median over the rounds of request_path_us, after_us and total_us.
    routes: dict[str, dict[str, float]] = field(default_factory=dict)
    #: The mix's weighted CPU per request (µs) and what rate a core's worth of it allows.
    mix_us_per_request: float = 0.0
    rate_per_core: float = 0.0
    #: Per route: its share of the mix's server CPU (weight * cost / mix cost).
    mix_share_pct: dict[str, float] = field(default_factory=dict)
    generator: list[GeneratorRound] = field(default_factory=list)
    generator_median_us: dict[str, float] = field(default_factory=dict)
    #: Per profiled route: py-spy's samples of one worker summed by component (``readcost.summarise``).
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)


def _tree_cpu(pid: int) -> float:
    return sum(_proc_cpu(p) for p in _process_tree(pid))


async def _idle_rate(pid: int, seconds: float = 3.0) -> float:
    before = _tree_cpu(pid)
    await asyncio.sleep(seconds)
    return (_tree_cpu(pid) - before) / seconds


async def _settle(pid: int, idle: float, limit_s: float) -> float:
    """Wait (at least MIN_TAIL_S) until the server is back at its idle rate; the seconds waited."""
    t0 = time.monotonic()
    await asyncio.sleep(MIN_TAIL_S)
    while time.monotonic() - t0 < limit_s:
        before = _tree_cpu(pid)
        await asyncio.sleep(0.5)
        if (_tree_cpu(pid) - before) / 0.5 < idle + IDLE_MARGIN_CORES:
            break
    return time.monotonic() - t0


async def _closed(
    client: Http1Client, work: Workload, route: str, n: int, concurrency: int
) -> tuple[int, dict[str, int]]:
    """``n`` requests of ``route`` over ``concurrency`` connections, each sent when the last is answered."""
    left = n
    statuses: dict[str, int] = {}
    loop = asyncio.get_running_loop()

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            req = work.build(route)
            status, body, error = await client.request(req.method, req.url, req.headers, req.json)
            if not 200 <= status < 400:
                key = error or str(status)
                statuses[key] = statuses.get(key, 0) + 1
            elif req.after is not None:
                req.after(body, loop.time())

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sum(statuses.values()), statuses


async def _route_round(
    client: Http1Client, work: Workload, pid: int, route: str, config: MixCostConfig, idle: float
) -> RouteRound:
    cpu0, gen0, t0 = _tree_cpu(pid), time.process_time(), time.monotonic()
    errors, statuses = await _closed(client, work, route, config.requests, config.concurrency)
    wall = time.monotonic() - t0
    cpu1, gen1 = _tree_cpu(pid), time.process_time()
    tail = await _settle(pid, idle, config.settle_limit_s)
    cpu2 = _tree_cpu(pid)
    n = config.requests
    path_us = max(0.0, cpu1 - cpu0 - idle * wall) / n * 1e6
    after_us = max(0.0, cpu2 - cpu1 - idle * tail) / n * 1e6
    return RouteRound(
        route=route,
        requests=n,
        errors=errors,
        error_statuses=statuses,
        wall_s=round(wall, 3),
        tail_s=round(tail, 2),
        request_path_us=round(path_us, 1),
        after_us=round(after_us, 1),
        total_us=round(path_us + after_us, 1),
        generator_us=round((gen1 - gen0) / n * 1e6, 1),
        loadavg_1m=_loadavg(),
    )


async def _profile(
    client: Http1Client, work: Workload, pid: int, route: str, config: MixCostConfig, out: Path
) -> dict[str, Any]:
    """py-spy on the busiest worker while ``route`` is driven closed loop; shares by component."""
    assert config.py_spy is not None
    from twitterclone_bench.readcost import summarise

    worker = max(_process_tree(pid), key=_proc_cpu)
    folded = result_path(out, "mix-cost", config.label, f"-{route}.folded")
    spy = await asyncio.create_subprocess_exec(
        config.py_spy,
        *("record", "-p", str(worker), "-d", f"{config.profile_s:g}", "-r", "200", "-f", "raw"),
        *("--nonblocking", "-o", str(folded)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(0.5)  # let it attach
    deadline = time.monotonic() + config.profile_s
    while time.monotonic() < deadline and spy.returncode is None:
        await _closed(client, work, route, 200, config.concurrency)
    _, err = await spy.communicate()
    if spy.returncode != 0 or not folded.exists():
        return {"error": f"py-spy exited {spy.returncode}: {err.decode(errors='replace')[-500:]}"}
    summary = summarise(folded.read_text())
    print(f"profile of {route} ({summary.get('samples', 0)} samples of one worker), exclusive, by component:")
    for label, pct in list(summary.get("components_pct", {}).items())[:10]:
        print(f"  {pct:5.1f} %  {label}")
    return {"folded": str(folded), **summary}


def summarise(rounds: list[RouteRound], mix: dict[str, float]) -> tuple[dict[str, dict[str, float]], float]:
    """Per route the median of each figure over its rounds; the mix's weighted cost (µs/request)."""
    routes: dict[str, dict[str, float]] = {}
    for route in mix:
        mine = [r for r in rounds if r.route == route]
        if not mine:
            continue
        routes[route] = {
            "request_path_us": statistics.median(r.request_path_us for r in mine),
            "after_us": statistics.median(r.after_us for r in mine),
            "total_us": statistics.median(r.total_us for r in mine),
            "generator_us": statistics.median(r.generator_us for r in mine),
        }
    weight = sum(mix[r] for r in routes)
    cost = sum(mix[r] * routes[r]["total_us"] for r in routes) / weight if weight else 0.0
    return routes, cost


def run_mix_cost(config: MixCostConfig) -> MixCost:
    """Seed, measure, print and write ``<out-dir>/<time>-mix-cost[-label].json``."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    graph = synthetic(config.users, config.avg_follows, config.seed)
    routes = [r for r, w in config.mix.items() if w > 0]

    async def measure(server: Monolith) -> MixCost:
        pid = server.pid
        assert pid is not None
        result = MixCost(config=asdict(config), graph=graph.describe())
        async with new_session(64, 30.0) as session:
            seeded = await seed(
                session,
                server.url,
                graph,
                tweets_per_user=config.tweets_per_user,
                seed=config.seed,
                settle_timeout_s=600,
            )
            if not seeded.settled:
                raise RuntimeError("the seeded fan-out did not drain within 600 s")
            work = Workload(server.url, seeded, config.mix, seed=config.seed + 300)
            async with Http1Client(server.url, max(16, config.concurrency), 30.0) as client:
                for route in routes:
                    await _closed(client, work, route, config.warmup, config.concurrency)
                await _settle(pid, 0.0, config.settle_limit_s)
                idle = await _idle_rate(pid)
                result.idle_cores = round(idle, 3)
                for i in range(config.rounds):
                    order = routes if i % 2 == 0 else routes[::-1]
                    for route in order:
                        one = await _route_round(client, work, pid, route, config, idle)
                        result.rounds.append(one)
                        print(
                            f"{route:14s} {one.total_us:9.1f} µs server CPU/request "
                            f"(request path {one.request_path_us:.1f}, after {one.after_us:.1f} in "
                            f"{one.tail_s} s), generator {one.generator_us:.1f} µs; {one.requests} in "
                            f"{one.wall_s} s, {one.errors} errors, load {one.loadavg_1m}"
                        )
                for route in config.profile_routes if config.py_spy else ():
                    result.profiles[route] = await _profile(client, work, pid, route, config, out)
            result.routes, result.mix_us_per_request = summarise(result.rounds, config.mix)
            cost = result.mix_us_per_request
            result.rate_per_core = round(1e6 / cost, 1) if cost else 0.0
            weight = sum(config.mix[r] for r in result.routes)
            result.mix_share_pct = {
                r: round(100 * config.mix[r] * f["total_us"] / weight / cost, 1) if cost else 0.0
                for r, f in result.routes.items()
            }
            if config.generator_rate > 0:
                await _generator_rounds(session, server.url, seeded, pid, config, result)
        return result

    result = measure_on_monolith(config.manifest, config.workers, measure)
    path = write_json(out, "mix-cost", config.label, result)
    print_table(result, config)
    print(f"load average {os.getloadavg()[0]:.2f}; results: {path}")
    return result


async def _generator_rounds(
    session: Any, base: str, seeded: Any, pid: int, config: MixCostConfig, result: MixCost
) -> None:
    """The mix open loop at ``generator_rate``, alternately on aiohttp and the lean client."""
    for i in range(config.generator_rounds):
        for kind in ("aiohttp", "lean") if i % 2 == 0 else ("lean", "aiohttp"):
            work = Workload(base, seeded, config.mix, seed=config.seed + 400 + i)
            await _settle(pid, result.idle_cores, config.settle_limit_s)
            async with Http1Client(base, 256, 10.0) if kind == "lean" else nullcontext(session) as client:
                res = await open_loop(
                    client, work, rate=config.generator_rate, duration_s=config.generator_s, cpu=CpuMeter(pid)
                )
            cpu = res.cpu
            one = GeneratorRound(
                client=kind,
                rate_rps=config.generator_rate,
                requests=len(res.samples),
                errors=sum(1 for s in res.samples if not s.ok),
                error_statuses=dict(Counter(str(s.status) for s in res.samples if not s.ok)),
                generator_us_per_request=cpu.get("generator_us_per_request"),
                server_us_per_request=cpu.get("server_us_per_request"),
                generator_cores=cpu.get("generator_cores"),
                server_cores=cpu.get("server_cores"),
                other_cores=cpu.get("other_cores"),
                loadavg_1m=cpu.get("loadavg_1m"),
            )
            result.generator.append(one)
            print(
                f"generator {kind:7s} at {one.rate_rps:g} req/s: {one.generator_us_per_request} µs/request "
                f"({one.generator_cores} cores), server {one.server_us_per_request} µs/request, "
                f"{one.errors} errors of {one.requests} {one.error_statuses or ''}, "
                f"other {one.other_cores} cores, load {one.loadavg_1m}"
            )
    for kind in ("aiohttp", "lean"):
        values = [g.generator_us_per_request for g in result.generator if g.client == kind]
        nums = [v for v in values if v is not None]
        if nums:
            result.generator_median_us[kind] = statistics.median(nums)


def print_table(result: MixCost, config: MixCostConfig) -> None:
    weight = sum(config.mix[r] for r in result.routes)
    print(
        f"server CPU per request by route (median of {config.rounds} rounds of {config.requests}, "
        f"{config.concurrency} connections, {config.workers} worker(s), idle {result.idle_cores} cores):"
    )
    print(f"  {'route':14s} {'mix %':>6s} {'path µs':>9s} {'after µs':>9s} {'total µs':>9s} {'share %':>8s}")
    for route, f in result.routes.items():
        print(
            f"  {route:14s} {100 * config.mix[route] / weight:6.1f} {f['request_path_us']:9.1f} "
            f"{f['after_us']:9.1f} {f['total_us']:9.1f} {result.mix_share_pct[route]:8.1f}"
        )
    print(
        f"  the mix: {result.mix_us_per_request:.1f} µs of server CPU per request = "
        f"{result.rate_per_core:.0f} req/s per core of server CPU ({2 * result.rate_per_core:.0f} req/s "
        "on both cores, with nothing left for the generator)"
    )
    if result.generator_median_us:
        print(f"  generator CPU per request (open loop, median): {result.generator_median_us}")
