"""One benchmark run, start to finish, and its report (terminal tables, JSON, SVG chart)."""

from __future__ import annotations

import asyncio
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import msgspec
from rich.console import Console

from twitterclone_bench.chart import latency_chart
from twitterclone_bench.graph import FollowGraph, from_edge_list, synthetic
from twitterclone_bench.http1 import Http1Client
from twitterclone_bench.load import (
    Client,
    CpuMeter,
    PhaseResult,
    Request,
    closed_loop,
    new_session,
    open_loop,
)
from twitterclone_bench.options import DEFAULT_MIX
from twitterclone_bench.report import (
    Cpu,
    Latency,
    Report,
    RouteStats,
    SendLag,
    Series,
    file_name,
    publish,
    route_table,
)
from twitterclone_bench.seed import Seeded, SeedFigures, refresh_tokens, seed, seed_figures
from twitterclone_bench.server import Monolith, stopping_on_sigterm, wait_ready
from twitterclone_bench.stats import Sample, latency_summary, percentile, route_summary, send_lag, time_series
from twitterclone_bench.workload import FanoutLag, FanoutProbe, Workload


@dataclass
class LoadConfig:
    """The knobs ``bench`` and ``bench connections`` share: the server, the seeded graph, the run, the
    rate search, where results go (their CLI options, from ``options``)."""

    url: str = "http://127.0.0.1:8000"
    start_monolith: bool = False
    manifest: str = "deployments/monolith.toml"
    port: int | None = None
    avg_follows: float = 20.0
    graph: str | None = None
    tweets_per_user: int = 3
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    duration_s: float = 60.0
    warmup_s: float = 10.0
    search: bool = True
    search_step_s: float = 5.0
    search_steps: int = 10
    p99_target_ms: float = 100.0
    concurrency: int = 16
    settle_timeout_s: float = 600.0
    timeout_s: float = 10.0
    seed: int = 1
    out_dir: str = "bench-results"
    label: str = ""


@dataclass
class BenchConfig(LoadConfig):
    """Every knob of a run (the CLI options, one to one)."""

    workers: int | None = None
    users: int = 1000
    rate: float = 200.0
    ceiling_s: float = 5.0
    ceiling_concurrency: int = 32
    search_mixed: bool = True
    max_in_flight: int = 10_000
    connections: int = 256
    #: What the load phases send with: "lean" (``http1.Http1Client``) or "aiohttp" (as before session 6).
    client: str = "lean"


class Ceiling(msgspec.Struct, kw_only=True):
    """Closed-loop GET /livez: the most requests this stack answers here, with this generator."""

    route: str
    method: str
    throughput_rps: float
    errors: int
    latency: Latency
    cpu: Cpu


class SearchStep(msgspec.Struct, kw_only=True):
    """One open-loop step of a rate search."""

    rate_rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    error_rate: float
    generator_send_lag_p99_ms: float | None
    cpu: Cpu
    passed: bool = msgspec.field(name="pass")
    quiesce_s: float = 0.0


class Search(msgspec.Struct, kw_only=True):
    """The highest open-loop rate of a workload whose p99 stays under the target."""

    workload: str
    target_p99_ms: float
    step_s: float
    steps: list[SearchStep]
    max_rate_rps: float
    first_failing_rate_rps: float | None
    fraction_of_ceiling: float | None


class Mixed(msgspec.Struct, kw_only=True):
    """The mixed run at a fixed open-loop rate, with fan-out lag probes."""

    rate_rps: float
    duration_s: float
    warmup_s: float
    mix: dict[str, float]
    routes: dict[str, RouteStats]
    throughput_rps: float
    error_rate: float
    dropped_in_flight_cap: int
    fraction_of_ceiling: float | None
    generator_send_lag_ms: SendLag
    cpu: Cpu
    fanout: FanoutLag
    series: Series
    quiesce_before_s: float = 0.0


class LoadReport(Report, kw_only=True, omit_defaults=True):
    """What ``bench`` and ``bench connections`` record about a run besides its figures."""

    tool: str
    started_at: str
    command: str
    machine: dict[str, object]
    server: dict[str, object]


class BenchReport(LoadReport, kw_only=True, omit_defaults=True):
    """``twitterclone bench``: seeding, the ceiling, the rate searches, the mixed run."""

    config: BenchConfig
    graph: dict[str, object]
    seed: SeedFigures
    ceiling: Ceiling
    home_search: Search | None = None
    mixed_search: Search | None = None
    token_refresh_failures: int
    mixed: Mixed

    def render(self, console: Console) -> None:
        mixed = self.mixed
        title = (
            f"mixed load: {mixed.rate_rps:g} req/s offered, {mixed.duration_s:g} s measured "
            f"(after {mixed.warmup_s:g} s warm-up)"
        )
        console.print(route_table(title, mixed.routes))
        console.print(
            f"throughput {mixed.throughput_rps} req/s, error rate {mixed.error_rate:.3%}, "
            f"= {mixed.fraction_of_ceiling or 0:.1%} of the ceiling "
            f"({self.ceiling.throughput_rps} req/s on GET /livez); "
            f"generator send lag p99 {mixed.generator_send_lag_ms.p99} ms; cpu {mixed.cpu}"
        )
        lag = mixed.fanout
        console.print(
            f"fan-out lag (post accepted -> in a follower's home timeline): {lag.visible} of {lag.probed} "
            f"probed, p50 {lag.lag.p50_ms} ms, p99 {lag.lag.p99_ms} ms, max {lag.lag.max_ms} ms"
        )
        if self.mixed_search is not None:
            ms = self.mixed_search
            console.print(
                f"mixed workload: max {ms.max_rate_rps:g} req/s with p99 < {ms.target_p99_ms:g} ms "
                f"and errors < 0.1 % = {ms.fraction_of_ceiling or 0:.1%} of the ceiling"
            )
        if self.home_search is not None:
            hs = self.home_search
            frac = hs.fraction_of_ceiling
            console.print(
                f"home timeline: max {hs.max_rate_rps:g} req/s with p99 < {hs.target_p99_ms:g} ms "
                f"= {frac:.1%} of the ceiling (target: >= 40 %)"
                if frac is not None
                else "home timeline: no passing rate"
            )


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib: float | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": mem_gib,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def follow_graph(config: LoadConfig, users: int, console: Console) -> FollowGraph:
    """The graph to seed: the ``--graph`` edge list, or a synthetic one of ``users`` accounts."""
    graph = (
        from_edge_list(config.graph) if config.graph else synthetic(users, config.avg_follows, config.seed)
    )
    console.print(f"[bold]graph[/]: {graph.describe()}")
    return graph


async def seed_graph(
    session: aiohttp.ClientSession, base: str, graph: FollowGraph, config: LoadConfig, console: Console
) -> Seeded:
    """Seed ``graph`` through the API as the config says (see ``seed.seed``)."""
    return await seed(
        session,
        base,
        graph,
        tweets_per_user=config.tweets_per_user,
        concurrency=config.concurrency,
        seed=config.seed,
        console=console,
        settle_timeout_s=config.settle_timeout_s,
    )


def run_bench(config: BenchConfig, console: Console | None = None) -> BenchReport:
    """Run the whole benchmark; return the report (also written as JSON next to the chart)."""
    console = console or Console()
    report = stopping_on_sigterm(lambda: _run_bench(config, console))
    where = Path(config.manifest).stem if config.start_monolith else str(report.server["url"])
    title = f"twitterclone {where}: mixed load at {config.rate:g} req/s, {report.graph['users']} users"
    chart = latency_chart(report.mixed.series, title=title, warmup_s=config.warmup_s)
    publish(report, config.out_dir, file_name(config.label), console, chart=chart)
    return report


def _run_bench(config: BenchConfig, console: Console) -> BenchReport:
    server_info: dict[str, object] = {"started_by_bench": False}
    if not config.start_monolith:
        wait_ready(config.url, timeout_s=30)
        return asyncio.run(_run(config, config.url.rstrip("/"), None, server_info, console))
    manifest = str(Path(config.manifest).resolve())
    with Monolith(manifest, port=config.port, workers=config.workers) as mono:
        console.print(
            f"[bold]monolith[/] started on {mono.url} (pid {mono.pid}, data in {mono.data_dir}); "
            "argon2id at the cheap test cost (t=1, 8 MiB, p=1) so seeding is quick"
        )
        try:
            return asyncio.run(_run(config, mono.url, mono.pid, mono.describe(), console))
        except BaseException:
            console.print(f"[red]server log tail:[/]\n{mono.log_tail()}")
            raise


async def _run(
    config: BenchConfig, base: str, server_pid: int | None, server_info: dict[str, object], console: Console
) -> BenchReport:
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    graph = follow_graph(config, config.users, console)
    async with new_session(config.connections, config.timeout_s) as session:
        t0 = time.monotonic()
        seeded = await seed_graph(session, base, graph, config, console)
        seeding = seed_figures(seeded, time.monotonic() - t0)
        if not seeded.settled:
            console.print(
                f"[yellow]warning[/]: the fan-out backlog of the seeded tweets did not drain within "
                f"{config.settle_timeout_s:g} s; what follows is measured on top of that backlog"
            )
        console.print(f"[bold]seeded[/] in {seeding.seconds} s: {seeding}")

        seeding.quiesce_s = await quiesce(server_pid, 2.0)
        load = load_client(config.client, session, base, config.connections, config.timeout_s)
        ceiling = await _ceiling(load, base, config, server_pid, console)
        ceiling_rps = ceiling.throughput_rps

        home_search = mixed_search = None
        if config.search:
            home_search = await _search(
                load,
                base,
                seeded,
                config,
                {"home": 1.0},
                "home-timeline",
                ceiling_rps,
                server_pid,
                console,
            )
        if config.search_mixed:
            mixed_search = await _search(
                load, base, seeded, config, config.mix, "mixed", ceiling_rps, server_pid, console
            )

        needed = config.warmup_s + config.duration_s + 60
        refresh_failures = await refresh_tokens(session, base, seeded.actors, needed, config.concurrency)
        quiet_s = await quiesce(server_pid, 2.0)
        mixed = await _mixed(session, load, base, seeded, config, ceiling_rps, server_pid, console)
        mixed.quiesce_before_s = quiet_s
        if isinstance(load, Http1Client):
            load.close()

    return BenchReport(
        tool="twitterclone bench",
        started_at=started,
        command=" ".join(sys.argv),
        config=config,
        machine=machine(),
        server={**server_info, "url": base},
        graph=graph.describe(),
        seed=seeding,
        ceiling=ceiling,
        home_search=home_search,
        mixed_search=mixed_search,
        token_refresh_failures=refresh_failures,
        mixed=mixed,
    )


def load_client(
    kind: str, session: aiohttp.ClientSession, base: str, connections: int, timeout_s: float
) -> Client:
    """The client the load phases send with: the lean one (``http1``) or the aiohttp ``session``."""
    if kind == "aiohttp":
        return session
    if kind != "lean":
        raise ValueError(f"unknown client {kind!r} (lean or aiohttp)")
    return Http1Client(base, connections, timeout_s)


async def _ceiling(
    session: Client, base: str, config: BenchConfig, pid: int | None, console: Console
) -> Ceiling:
    """Closed-loop GET /livez: the most this stack answers on this machine, with this generator."""

    def livez(_i: int) -> Request:
        return Request("livez", "GET", base + "/livez")

    warm_s = min(1.0, config.ceiling_s)
    await closed_loop(session, livez, concurrency=config.ceiling_concurrency, duration_s=warm_s)
    res = await closed_loop(
        session, livez, concurrency=config.ceiling_concurrency, duration_s=config.ceiling_s, cpu=CpuMeter(pid)
    )
    ok = [s for s in res.samples if s.ok]
    out = Ceiling(
        route="GET /livez",
        method=f"closed loop, {config.ceiling_concurrency} concurrent, {config.ceiling_s:g} s",
        throughput_rps=round(len(ok) / res.duration_s, 1),
        errors=len(res.samples) - len(ok),
        latency=latency_summary(s.latency for s in res.samples),
        cpu=res.cpu,
    )
    console.print(
        f"[bold]ceiling[/] GET /livez: {out.throughput_rps} req/s "
        f"(generator {res.cpu['generator_cores']} cores, server {res.cpu['server_cores']} cores)"
    )
    return out


async def quiesce(pid: int | None, settle_s: float, limit_s: float = 120.0) -> float:
    """Wait until the server is idle (under 0.15 cores for half a second); return the seconds waited.

    Without its pid (a deployment the tool did not start) it just waits ``settle_s``.
    """
    t0 = time.monotonic()
    if pid is None:
        await asyncio.sleep(settle_s)
        return settle_s
    while time.monotonic() - t0 < limit_s:
        meter = CpuMeter(pid)
        meter.start()
        await asyncio.sleep(0.5)
        busy = meter.stop()["server_cores"]
        if busy is not None and busy < 0.15:
            break
    return round(time.monotonic() - t0, 1)


def _step(res: PhaseResult, target_ms: float) -> SearchStep:
    lat = sorted(s.latency for s in res.samples)
    errors = sum(1 for s in res.samples if not s.ok)
    p99 = percentile(lat, 99) * 1000
    err_rate = errors / len(lat) if lat else 1.0
    return SearchStep(
        rate_rps=round(res.offered_rate, 1),
        requests=len(lat),
        p50_ms=round(percentile(lat, 50) * 1000, 2),
        p99_ms=round(p99, 2),
        error_rate=round(err_rate, 5),
        generator_send_lag_p99_ms=send_lag(res.samples).p99,
        cpu=res.cpu,
        passed=p99 < target_ms and err_rate < 0.001,
    )


async def _search(
    session: Client,
    base: str,
    seeded: Seeded,
    config: BenchConfig,
    mix: dict[str, float],
    name: str,
    ceiling_rps: float,
    pid: int | None,
    console: Console,
) -> Search:
    """Step search for the highest open-loop rate of ``mix`` whose p99 stays under the target.

    Doubling steps up from 1 % of the ceiling until a step fails, then bisection, all within
    ``search_steps`` steps of ``search_step_s`` seconds each. Going up, not down, keeps an
    overloaded step's leftovers (queued requests, event backlogs) out of the steps that count, and
    between steps the server is given time to go quiet.
    """
    work = Workload(base, seeded, mix, seed=config.seed + 100)
    steps: list[SearchStep] = []
    best, worst = 0.0, float("inf")
    rate = max(2.0, round(ceiling_rps * 0.01))

    async def probe(r: float) -> bool:
        res = await open_loop(
            session, work, rate=r, duration_s=config.search_step_s, drain_s=5.0, cpu=CpuMeter(pid)
        )
        step = _step(res, config.p99_target_ms)
        steps.append(step)
        verdict = "[green]pass[/]" if step.passed else "[red]fail[/]"
        console.print(
            f"  {name} search: {r:7.0f} req/s  p99 {step.p99_ms:8.1f} ms  "
            f"errors {step.error_rate:.2%}  {verdict}"
        )
        # an overloaded step leaves work behind (queued requests, events): let it finish first
        step.quiesce_s = await quiesce(pid, min(config.search_step_s, 2.0))
        return step.passed

    console.print(f"[bold]{name} rate search[/] (p99 < {config.p99_target_ms:g} ms, errors < 0.1 %)")
    for _ in range(config.search_steps):
        if worst != float("inf") and (worst - best) / max(best, 1.0) < 0.1:
            break
        if await probe(rate):
            best = rate
            rate = rate * 2 if worst == float("inf") else (best + worst) / 2
        else:
            worst = rate
            rate = (best + worst) / 2 if best else rate / 3
        rate = round(rate)
        if rate < 1:
            break
    return Search(
        workload="GET /api/timeline/home?limit=20 only, open loop"
        if mix == {"home": 1.0}
        else f"mix {mix}, open loop",
        target_p99_ms=config.p99_target_ms,
        step_s=config.search_step_s,
        steps=steps,
        max_rate_rps=best,
        first_failing_rate_rps=None if worst == float("inf") else worst,
        fraction_of_ceiling=round(best / ceiling_rps, 3) if ceiling_rps else None,
    )


async def _mixed(
    session: aiohttp.ClientSession,
    load: Client,
    base: str,
    seeded: Seeded,
    config: BenchConfig,
    ceiling_rps: float,
    pid: int | None,
    console: Console,
) -> Mixed:
    followers_of = seeded.graph.followers
    by_index = {a.index: a for a in seeded.actors}
    lag = FanoutProbe(session, base, followers_of, by_index)
    work = Workload(base, seeded, config.mix, seed=config.seed + 200, lag_probe=lag)
    console.print(
        f"[bold]mixed run[/]: {config.rate:g} req/s for {config.warmup_s:g} s warm-up + "
        f"{config.duration_s:g} s, mix {config.mix}"
    )
    res = await open_loop(
        load,
        work,
        rate=config.rate,
        duration_s=config.warmup_s + config.duration_s,
        max_in_flight=config.max_in_flight,
        cpu=CpuMeter(pid),
    )
    await lag.stop()
    measured: list[Sample] = [s for s in res.samples if s.scheduled >= config.warmup_s]
    routes = route_summary(measured, config.duration_s)
    total = routes["all"]
    return Mixed(
        rate_rps=config.rate,
        duration_s=config.duration_s,
        warmup_s=config.warmup_s,
        mix=config.mix,
        routes=routes,
        throughput_rps=round(total.throughput_rps, 1),
        error_rate=total.error_rate,
        dropped_in_flight_cap=res.dropped,
        fraction_of_ceiling=round(total.throughput_rps / ceiling_rps, 3) if ceiling_rps else None,
        generator_send_lag_ms=send_lag(measured),
        cpu=res.cpu,
        fanout=lag.summary(),
        series=time_series(res.samples),
    )
