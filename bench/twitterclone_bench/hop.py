"""``twitterclone bench hop``: what one internal hop costs, in isolation.

A split stack in which one module (``tweets`` by default) is a service of its own — started as
``twitterclone up`` starts it, its own database and Redis prefix — and everything else stays in the
gateway. This process wires the same manifest through the composition root twice: once as the
gateway (the module bound to the generic HTTP client: balancing, breakers, retries, deadline,
service token, msgpack), once as the module's own process (the module bound locally, a plain
``await``). Then it calls a no-op-ish port method (``tweets.get_many([])``: the full adapter path,
an empty answer, no store touched) ``calls`` times one after another through each binding, in
alternating rounds, and reports per call:

- wall time p50/p99 (one call in flight, so it is the hop's latency, not a queue);
- client CPU (this process's CPU time around the round);
- server CPU (the service process and its workers, from /proc, minus what it burns idle over the
  same time — heartbeats, stream polls).

CPU time, not only latency: on a shared machine a busy neighbour slows the calls but charges the
two processes little of its own work, so the CPU figures hold where a wall figure would not.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from typing import Any

import msgspec
from rich.console import Console

from twitterclone_bench.load import _loadavg, _proc_cpu, _process_tree
from twitterclone_bench.report import Report, file_name, publish, table
from twitterclone_bench.server import stopping_on_sigterm
from twitterclone_bench.split import SplitStack, describe

#: The no-op-ish method per module: (port import path, method, arguments).
PROBES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "tweets": ("boundaries.tweets.port:TweetsPort", "get_many", {"tweet_ids": [], "viewer_id": None}),
    "users": ("boundaries.users.directory:UserDirectory", "authors", {"user_ids": []}),
}


@dataclass
class HopConfig:
    module: str = "tweets"
    calls: int = 2000
    rounds: int = 3
    warmup: int = 200
    postgres_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379/0"
    seed: int = 1
    out_dir: str = "bench-results"
    label: str = ""


class Binding(msgspec.Struct, kw_only=True):
    """One binding's figures: per call, median over the rounds (each round's figure kept too)."""

    wall_p50_ms: float
    wall_p99_ms: float
    client_cpu_ms: float
    server_cpu_ms: float | None = None
    rounds: list[dict[str, float]]


class HopReport(Report, kw_only=True):
    config: dict[str, Any]
    server: dict[str, Any]
    probe: str
    local: Binding
    remote: Binding
    #: remote minus local, per call: what the hop adds
    hop_wall_p50_ms: float
    hop_cpu_ms: float
    loadavg_1m: dict[str, float | None]

    def render(self, console: Console) -> None:
        rows = []
        for name, b in (("in-process", self.local), ("over the adapter", self.remote)):
            server = "-" if b.server_cpu_ms is None else f"{b.server_cpu_ms:.3f}"
            rows.append(
                (name, f"{b.wall_p50_ms:.3f}", f"{b.wall_p99_ms:.3f}", f"{b.client_cpu_ms:.3f}", server)
            )
        console.print(
            table(
                f"one call of {self.probe} (ms per call, median of {len(self.remote.rounds)} rounds)",
                ["binding", "wall p50", "wall p99", "client CPU", "server CPU"],
                rows,
            )
        )
        console.print(
            f"the hop adds {self.hop_wall_p50_ms:.3f} ms at p50 and {self.hop_cpu_ms:.3f} ms of CPU "
            f"(client + server); load average {self.loadavg_1m}"
        )


def _tree_cpu(pids: list[int]) -> float:
    return sum(_proc_cpu(p) for root in pids for p in _process_tree(root))


def _import(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(__import__(module, fromlist=[name]), name)


async def _round(
    call: Any, kwargs: dict[str, Any], n: int, server_pids: list[int] | None
) -> tuple[list[float], float, float | None, float]:
    """n sequential calls: their wall times (s), client CPU (s), server CPU (s), elapsed (s)."""
    walls = []
    cpu0 = time.process_time()
    srv0 = _tree_cpu(server_pids) if server_pids else None
    t0 = time.perf_counter()
    for _ in range(n):
        s = time.perf_counter()
        await call(**kwargs)
        walls.append(time.perf_counter() - s)
    elapsed = time.perf_counter() - t0
    client = time.process_time() - cpu0
    server = _tree_cpu(server_pids) - srv0 if server_pids and srv0 is not None else None
    return walls, client, server, elapsed


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _binding(rounds: list[dict[str, float]]) -> Binding:
    def med(key: str) -> float:
        return round(statistics.median(r[key] for r in rounds), 4)

    server = [r["server_cpu_ms"] for r in rounds if "server_cpu_ms" in r]
    return Binding(
        wall_p50_ms=med("wall_p50_ms"),
        wall_p99_ms=med("wall_p99_ms"),
        client_cpu_ms=med("client_cpu_ms"),
        server_cpu_ms=round(statistics.median(server), 4) if server else None,
        rounds=rounds,
    )


async def _measure(stack: SplitStack, config: HopConfig) -> tuple[Binding, Binding]:
    from twitterclone.composition import GATEWAY, build_runtime

    port_path, method, kwargs = PROBES[config.module]
    port = _import(port_path)
    manifest, settings = stack.parsed(), stack.settings()
    gateway = build_runtime(manifest, settings, GATEWAY)  # the module is remote here
    service = build_runtime(manifest, settings, config.module)  # and local here
    server_pids = list(stack.pids(config.module).values())
    try:
        remote_call = getattr(await gateway.get(port), method)
        local_call = getattr(await service.get(port), method)
        for call in (remote_call, local_call):
            await _round(call, kwargs, config.warmup, None)
        # what the service process burns with nothing to do, per second (subtracted below)
        idle_s = 2.0
        before = _tree_cpu(server_pids)
        await asyncio.sleep(idle_s)
        idle_rate = (_tree_cpu(server_pids) - before) / idle_s
        results: dict[str, list[dict[str, float]]] = {"local": [], "remote": []}
        for _ in range(config.rounds):
            for name, call, pids in (("local", local_call, None), ("remote", remote_call, server_pids)):
                walls, client, server, elapsed = await _round(call, kwargs, config.calls, pids)
                row = {
                    "wall_p50_ms": _pct(walls, 0.5) * 1000,
                    "wall_p99_ms": _pct(walls, 0.99) * 1000,
                    "client_cpu_ms": client / config.calls * 1000,
                }
                if server is not None:
                    row["server_cpu_ms"] = max(0.0, server - idle_rate * elapsed) / config.calls * 1000
                results[name].append({k: round(v, 4) for k, v in row.items()})
        return _binding(results["local"]), _binding(results["remote"])
    finally:
        await gateway.stop()
        await service.stop()


def run_hop(config: HopConfig) -> HopReport:
    """Start the stack, measure, write ``<out-dir>/<time>-hop[-label].json`` and print the table."""
    if config.module not in PROBES:
        raise ValueError(f"--module must be one of {', '.join(PROBES)}")
    console = Console()

    def run() -> HopReport:
        load_before = _loadavg()
        with SplitStack(
            remote_only=(config.module,),
            postgres_admin_url=config.postgres_url,
            redis_url=config.redis_url,
        ) as stack:
            local, remote = asyncio.run(_measure(stack, config))
            server = describe(stack)
        _port, method, kwargs = PROBES[config.module]
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return HopReport(
            config=vars(config),
            server=server,
            probe=f"{config.module}.{method}({args})",
            local=local,
            remote=remote,
            hop_wall_p50_ms=round(remote.wall_p50_ms - local.wall_p50_ms, 4),
            hop_cpu_ms=round(remote.client_cpu_ms + (remote.server_cpu_ms or 0.0) - local.client_cpu_ms, 4),
            loadavg_1m={"before": load_before, "after": _loadavg()},
        )

    report = stopping_on_sigterm(run)
    publish(report, config.out_dir, file_name("hop", config.module, config.label), console)
    return report
