"""``twitterclone bench scale``: does a second replica of a service raise the split's max rate?

One command, one run, one stack: the split (``deployments/split.toml`` by default, started as
``twitterclone up`` starts it: a manifest copy with its own database and Redis prefix) with as many
replicas of the chosen service as the largest count asked for. The graph is seeded once; then for
each count in ``--replicas`` (``1,2``; ``1,2,1,2`` alternates, so drift in the machine's load falls
on both) the service is scaled to it — an extra replica stopped gracefully (it deregisters) or
started again with the launcher — and the same workload (home reads by default) is searched for its
highest open-loop rate with p99 under the target, then run closed loop for its saturation
throughput. Same data, same caches, same generator: only the replica count differs. For every step
the tool also records:

- the CPU each process of the stack used (cores, from /proc), and the machine's, so a gain or its
  absence can be explained: a second replica only helps while the service, not the gateway, the
  database or the machine, is what runs out;
- the internal port calls each service served (its ``/metrics``: requests to ``/_port/...``), per
  request of the workload: how many hops one read makes.

With ``--cpu-limit CORES`` every replica of the scaled service runs in a cgroup of its own capped
at that share of a core (``cpulimit.py``), as a pod with ``resources.limits.cpu`` would: on one
small machine that makes the scaled service the one that runs out, as it is on a cluster where a
replica's share of a node, not the whole node, is what it gets. The steps then also record how
long each replica was throttled.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
from rich.console import Console

from twitterclone_bench.cpulimit import CpuLimits
from twitterclone_bench.graph import synthetic
from twitterclone_bench.load import (
    _loadavg,
    _machine_busy,
    _process_tree,
    closed_loop,
    new_session,
    open_loop,
)
from twitterclone_bench.report import Report, file_name, publish, table
from twitterclone_bench.runner import BenchConfig, machine, seed_graph
from twitterclone_bench.seed import Seeded, refresh_tokens
from twitterclone_bench.server import stopping_on_sigterm
from twitterclone_bench.split import SplitStack, describe
from twitterclone_bench.stats import percentile, send_lag
from twitterclone_bench.workload import Workload

_REMOTE_CALLS = re.compile(r'^twitterclone_remote_calls_total\{service="([^"]+)"\}\s+([0-9.e+]+)', re.M)
_PORT_REQUESTS = re.compile(
    r'^twitterclone_requests_total\{[^}]*path="/_port[^"]*"[^}]*\}\s+([0-9.e+]+)', re.M
)


@dataclass
class ScaleConfig:
    service: str = "timeline"
    replicas: tuple[int, ...] = (1, 2)
    users: int = 200
    avg_follows: float = 5.0
    tweets_per_user: int = 2
    mix: dict[str, float] = field(default_factory=lambda: {"home": 1.0})
    start_rate: float = 20.0
    #: the closed-loop phase: concurrent requests and seconds (0 seconds: no such phase)
    saturate_concurrency: int = 16
    saturate_s: float = 10.0
    search_step_s: float = 5.0
    search_steps: int = 8
    p99_target_ms: float = 100.0
    concurrency: int = 16
    timeout_s: float = 10.0
    postgres_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379/0"
    seed: int = 1
    out_dir: str = "bench-results"
    label: str = ""
    #: cores each replica of the scaled service may use (a cgroup quota); None: no limit
    cpu_limit: float | None = None


class ScaleStep(msgspec.Struct, kw_only=True):
    """One open-loop step: latency, errors, and where the CPU went."""

    rate_rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    error_rate: float
    generator_send_lag_p99_ms: float | None
    passed: bool = msgspec.field(name="pass")
    #: cores used per process of the stack (``timeline-0``...) and by the whole machine
    cores: dict[str, float]
    machine_cores: float
    loadavg_1m: float | None
    #: internal port calls per request of the workload: served by each service (``tweets``) and
    #: made by each service (``timeline->tweets``); the gateway's are the served minus the made
    calls_per_request: dict[str, float]
    #: with ``--cpu-limit``: seconds per second each replica was held back by its quota
    throttled: dict[str, float] = msgspec.field(default_factory=dict)


class Saturation(msgspec.Struct, kw_only=True):
    """Closed loop: ``concurrency`` requests always in flight; the most the stack pushes through here."""

    concurrency: int
    duration_s: float
    throughput_rps: float
    p50_ms: float
    p99_ms: float
    error_rate: float
    cores: dict[str, float]
    machine_cores: float
    loadavg_1m: float | None
    #: CPU per completed request, per process (ms): what one request costs each process
    cpu_ms_per_request: dict[str, float]
    calls_per_request: dict[str, float]
    throttled: dict[str, float] = msgspec.field(default_factory=dict)


class ScaleRun(msgspec.Struct, kw_only=True):
    """The search with ``replicas`` replicas of the service."""

    replicas: int
    server: dict[str, Any]
    seed_s: float
    steps: list[ScaleStep]
    max_rate_rps: float
    first_failing_rate_rps: float | None
    saturated: Saturation | None = None


class ScaleReport(Report, kw_only=True):
    tool: str
    command: str
    config: dict[str, Any]
    machine: dict[str, object]
    service: str
    workload: str
    runs: list[ScaleRun]
    #: mean max rate with the most replicas over mean max rate with the fewest
    gain: float | None
    #: the same for the closed-loop throughput
    saturated_gain: float | None = None

    def render(self, console: Console) -> None:
        rows = []
        for run in self.runs:
            best = next((s for s in run.steps if s.rate_rps == run.max_rate_rps), None)
            svc = (
                " + ".join(f"{v:.2f}" for k, v in sorted(best.cores.items()) if k.startswith(self.service))
                if best
                else "-"
            )
            calls = sum(v for k, v in best.calls_per_request.items() if "->" not in k) if best else None
            rows.append(
                (
                    f"{run.replicas} x {self.service}",
                    f"{run.max_rate_rps:,.0f}",
                    "-" if run.first_failing_rate_rps is None else f"{run.first_failing_rate_rps:,.0f}",
                    "-" if best is None else f"{best.p99_ms:.1f}",
                    svc,
                    "-" if best is None else f"{best.machine_cores:.2f}",
                    "-" if calls is None else f"{calls:.2f}",
                )
            )
        console.print(
            table(
                f"{self.workload}: max rate with p99 < {self.config['p99_target_ms']:g} ms",
                [
                    "replicas",
                    "max req/s",
                    "first failing",
                    "p99 at max",
                    f"{self.service} cores",
                    "machine cores",
                    "internal calls/req",
                ],
                rows,
            )
        )
        if self.config.get("cpu_limit"):
            console.print(
                f"each {self.service} replica limited to {self.config['cpu_limit']:g} core (cgroup quota)"
            )
        if self.gain is not None:
            console.print(f"gain from the extra replica(s): x{self.gain:.2f}")
        sat_rows = []
        for run in self.runs:
            sat = run.saturated
            if sat is None:
                continue
            svc = " + ".join(f"{v:.2f}" for k, v in sorted(sat.cores.items()) if k.startswith(self.service))
            svc_ms = sum(v for k, v in sat.cpu_ms_per_request.items() if k.startswith(self.service))
            sat_rows.append(
                (
                    f"{run.replicas} x {self.service}",
                    f"{sat.throughput_rps:,.1f}",
                    f"{sat.p50_ms:.1f}",
                    f"{sat.p99_ms:.1f}",
                    svc,
                    f"{svc_ms:.2f}",
                    f"{sat.machine_cores:.2f}",
                )
            )
        if sat_rows:
            console.print(
                table(
                    "closed loop (saturation)",
                    [
                        "replicas",
                        "req/s",
                        "p50",
                        "p99",
                        f"{self.service} cores",
                        f"{self.service} CPU ms/req",
                        "machine cores",
                    ],
                    sat_rows,
                )
            )
        if self.saturated_gain is not None:
            console.print(f"closed-loop gain from the extra replica(s): x{self.saturated_gain:.2f}")


async def _scrape_port_calls(session: aiohttp.ClientSession, stack: SplitStack) -> dict[str, float]:
    """Internal calls so far: ``<service>`` each service served (``/_port`` requests on its
    /metrics), and ``<caller>-><service>`` each service made (its remote-call counters). The
    gateway publishes neither (its /metrics is public): its calls are what was served minus what
    the services made."""
    out: dict[str, float] = {}
    for proc in stack.launcher.processes:
        service = proc.spec.service
        if service == "gateway":
            continue
        try:
            async with session.get(f"http://{proc.spec.address}/metrics") as resp:
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError):
            continue
        out[service] = out.get(service, 0.0) + sum(float(m) for m in _PORT_REQUESTS.findall(text))
        for callee, count in _REMOTE_CALLS.findall(text):
            key = f"{service}->{callee}"
            out[key] = out.get(key, 0.0) + float(count)
    return out


async def _quiet(stack: SplitStack, limit_s: float = 60.0) -> None:
    """Wait until the stack is idle (under 0.3 cores for half a second): a failed step's backlog."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        before = sum(stack.cpu_s().values())
        await asyncio.sleep(0.5)
        if (sum(stack.cpu_s().values()) - before) / 0.5 < 0.3:
            return


async def _search(
    session: aiohttp.ClientSession,
    stack: SplitStack,
    seeded: Seeded,
    config: ScaleConfig,
    base: str,
    console: Console,
    label: str,
    limits: CpuLimits | None = None,
) -> tuple[list[ScaleStep], float, float | None]:
    """Doubling from ``start_rate`` until a step fails, then bisection (as ``bench``'s search)."""
    work = Workload(base, seeded, config.mix, seed=config.seed + 100)
    steps: list[ScaleStep] = []
    best, worst = 0.0, float("inf")
    rate = config.start_rate
    for _ in range(config.search_steps):
        if worst != float("inf") and (worst - best) / max(best, 1.0) < 0.1:
            break
        calls0 = await _scrape_port_calls(session, stack)
        held0 = limits.throttled_s() if limits else {}
        cpu0, machine0, t0 = stack.cpu_s(), _machine_busy(), time.monotonic()
        res = await open_loop(session, work, rate=rate, duration_s=config.search_step_s, drain_s=5.0)
        elapsed = time.monotonic() - t0
        cpu1, machine1 = stack.cpu_s(), _machine_busy()
        held = _throttled(limits, held0, elapsed)
        calls1 = await _scrape_port_calls(session, stack)
        lat = sorted(s.latency for s in res.samples)
        errors = sum(1 for s in res.samples if not s.ok)
        ok = max(1, len(lat) - errors)
        p99 = percentile(lat, 99) * 1000
        err_rate = errors / len(lat) if lat else 1.0
        step = ScaleStep(
            rate_rps=round(rate, 1),
            requests=len(lat),
            p50_ms=round(percentile(lat, 50) * 1000, 2),
            p99_ms=round(p99, 2),
            error_rate=round(err_rate, 5),
            generator_send_lag_p99_ms=send_lag(res.samples).p99,
            passed=p99 < config.p99_target_ms and err_rate < 0.001,
            cores={k: round((cpu1[k] - cpu0.get(k, 0.0)) / elapsed, 3) for k in sorted(cpu1)},
            machine_cores=round((machine1 - machine0) / elapsed, 2),
            loadavg_1m=_loadavg(),
            calls_per_request={
                k: round((calls1[k] - calls0.get(k, 0.0)) / ok, 3) for k in sorted(calls1) if k in calls0
            },
            throttled=held,
        )
        steps.append(step)
        verdict = "[green]pass[/]" if step.passed else "[red]fail[/]"
        svc = sum(v for k, v in step.cores.items() if k.startswith(config.service))
        served = sum(v for k, v in step.calls_per_request.items() if "->" not in k)
        console.print(
            f"  {label}: {rate:7.0f} req/s  p99 {step.p99_ms:8.1f} ms  errors {step.error_rate:.2%}  "
            f"{config.service} {svc:.2f} cores, machine {step.machine_cores:.2f}, "
            f"{served:.2f} internal calls/req{_held_text(held)}  {verdict}"
        )
        await _quiet(stack)
        if step.passed:
            best = rate
            rate = rate * 2 if worst == float("inf") else (best + worst) / 2
        else:
            worst = rate
            rate = (best + worst) / 2 if best else rate / 3
        rate = round(rate)
        if rate < 1:
            break
    return steps, best, None if worst == float("inf") else worst


async def _saturate(
    session: aiohttp.ClientSession,
    stack: SplitStack,
    seeded: Seeded,
    config: ScaleConfig,
    base: str,
    limits: CpuLimits | None = None,
) -> Saturation:
    work = Workload(base, seeded, config.mix, seed=config.seed + 200)
    calls0 = await _scrape_port_calls(session, stack)
    held0 = limits.throttled_s() if limits else {}
    cpu0, machine0, t0 = stack.cpu_s(), _machine_busy(), time.monotonic()
    res = await closed_loop(
        session, work, concurrency=config.saturate_concurrency, duration_s=config.saturate_s
    )
    elapsed = time.monotonic() - t0
    cpu1, machine1 = stack.cpu_s(), _machine_busy()
    held = _throttled(limits, held0, elapsed)
    calls1 = await _scrape_port_calls(session, stack)
    lat = sorted(s.latency for s in res.samples)
    errors = sum(1 for s in res.samples if not s.ok)
    ok = max(1, len(lat) - errors)
    await _quiet(stack)
    return Saturation(
        concurrency=config.saturate_concurrency,
        duration_s=round(res.duration_s, 2),
        throughput_rps=round(ok / res.duration_s, 1),
        p50_ms=round(percentile(lat, 50) * 1000, 2),
        p99_ms=round(percentile(lat, 99) * 1000, 2),
        error_rate=round(errors / len(lat), 5) if lat else 1.0,
        cores={k: round((cpu1[k] - cpu0.get(k, 0.0)) / elapsed, 3) for k in sorted(cpu1)},
        machine_cores=round((machine1 - machine0) / elapsed, 2),
        loadavg_1m=_loadavg(),
        cpu_ms_per_request={k: round((cpu1[k] - cpu0.get(k, 0.0)) / ok * 1000, 3) for k in sorted(cpu1)},
        calls_per_request={
            k: round((calls1[k] - calls0.get(k, 0.0)) / ok, 3) for k in sorted(calls1) if k in calls0
        },
        throttled=held,
    )


def _throttled(limits: CpuLimits | None, before: dict[str, float], elapsed: float) -> dict[str, float]:
    """Seconds per second each limited replica spent held back by its quota since ``before``."""
    if limits is None or elapsed <= 0:
        return {}
    now = limits.throttled_s()
    return {k: round((v - before.get(k, 0.0)) / elapsed, 3) for k, v in sorted(now.items())}


def _held_text(held: dict[str, float]) -> str:
    return (", throttled " + " ".join(f"{k} {v:.2f}" for k, v in held.items())) if held else ""


def _limit(stack: SplitStack, service: str, limits: CpuLimits | None) -> None:
    """Put each running replica of ``service`` (with its workers) in its own limited cgroup."""
    if limits is None:
        return
    for name, pid in stack.pids(service).items():
        limits.apply(name, list(_process_tree(pid)))


async def _runs(
    stack: SplitStack, config: ScaleConfig, console: Console, limits: CpuLimits | None = None
) -> list[ScaleRun]:
    """Seed once, then for each replica count: scale the service to it, search, saturate."""
    base = stack.base_url
    graph = synthetic(config.users, config.avg_follows, config.seed)
    load = BenchConfig(
        url=base,
        avg_follows=config.avg_follows,
        tweets_per_user=config.tweets_per_user,
        concurrency=config.concurrency,
        seed=config.seed,
        timeout_s=config.timeout_s,
        users=config.users,
    )
    runs: list[ScaleRun] = []
    async with new_session(256, config.timeout_s) as session:
        t0 = time.monotonic()
        seeded = await seed_graph(session, base, graph, load, console)
        seed_s = round(time.monotonic() - t0, 1)
        phase_s = config.search_steps * (config.search_step_s + 70) + config.saturate_s + 60
        for n in config.replicas:
            await asyncio.to_thread(stack.scale_to, config.service, n)
            _limit(stack, config.service, limits)
            await refresh_tokens(session, base, seeded.actors, phase_s, config.concurrency)
            await _quiet(stack)
            label = f"{n} x {config.service}"
            console.print(f"[bold]{label}[/] (running: {stack.running()})")
            steps, best, worst = await _search(session, stack, seeded, config, base, console, label, limits)
            saturated = None
            if config.saturate_s > 0:
                saturated = await _saturate(session, stack, seeded, config, base, limits)
                console.print(
                    f"  {label}: closed loop x{config.saturate_concurrency}: {saturated.throughput_rps} "
                    f"req/s, p50 {saturated.p50_ms} ms, machine {saturated.machine_cores} cores"
                )
            runs.append(
                ScaleRun(
                    replicas=n,
                    server=describe(stack),
                    seed_s=seed_s,
                    steps=steps,
                    max_rate_rps=best,
                    first_failing_rate_rps=worst,
                    saturated=saturated,
                )
            )
    return runs


def _gain(runs: list[ScaleRun], figure: Callable[[ScaleRun], float | None]) -> float | None:
    """Mean ``figure`` with the most replicas over its mean with the fewest (runs repeated by
    ``--replicas 1,2,1,2`` are averaged, so drift in the machine's load falls on both)."""
    by_count: dict[int, list[float]] = {}
    for run in runs:
        value = figure(run)
        if value is not None:
            by_count.setdefault(run.replicas, []).append(value)
    if len(by_count) < 2:
        return None
    low = statistics.mean(by_count[min(by_count)])
    high = statistics.mean(by_count[max(by_count)])
    return round(high / low, 3) if low else None


def run_scale(config: ScaleConfig) -> ScaleReport:
    """Run the search once per replica count; write ``<out-dir>/<time>-scale-<service>[-label].json``."""
    console = Console()

    def run() -> ScaleReport:
        most = max(config.replicas)
        console.print(
            f"[bold]split stack with up to {most} x {config.service}[/] (starting, migrating, seeding once)"
        )
        limits = CpuLimits(config.cpu_limit) if config.cpu_limit else None
        with (
            contextlib.closing(limits) if limits else contextlib.nullcontext(),
            SplitStack(
                replicas={config.service: most},
                postgres_admin_url=config.postgres_url,
                redis_url=config.redis_url,
            ) as stack,
        ):
            try:
                runs = asyncio.run(_runs(stack, config, console, limits))
            except BaseException:
                for name in stack.pids():
                    tail = stack.log_tail(name, 5)
                    if tail:
                        console.print(f"[red]{name} log tail:[/]\n{tail}")
                raise
        workload = (
            "GET /api/timeline/home?limit=20, open loop"
            if config.mix == {"home": 1.0}
            else f"mix {config.mix}, open loop"
        )
        return ScaleReport(
            tool="twitterclone bench scale",
            command=" ".join(sys.argv),
            config={**vars(config), "replicas": list(config.replicas)},
            machine=machine(),
            service=config.service,
            workload=workload,
            runs=runs,
            gain=_gain(runs, lambda r: r.max_rate_rps),
            saturated_gain=_gain(runs, lambda r: r.saturated.throughput_rps if r.saturated else None),
        )

    report = stopping_on_sigterm(run)
    publish(report, config.out_dir, file_name("scale", config.service, config.label), console)
    return report
