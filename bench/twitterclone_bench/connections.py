"""``twitterclone bench connections``: many users, each holding a keep-alive connection, at a think time.

The model: ``connections`` users are online at once, each with one keep-alive HTTP/1.1 connection to
the gateway (a logged-in app session). Each user acts at exponentially distributed think times of
mean ``think_time_s``; an action is ``requests_per_action`` requests of the mixed workload
(``workload.py``), sent one after another on the user's connection. So the users together offer
``connections * requests_per_action / think_time_s`` requests per second, as a Poisson stream.

One run:

1. plans the processes: generator processes (each holds at most what RLIMIT_NOFILE allows) and
   source loopback addresses (127.0.0.2, 127.0.0.3, ...: each (source, server) pair has only the
   ephemeral port range to give out); with ``--start-monolith`` also the gateway's granian workers
   and their connection settings (backpressure, idle keep-alive timeout, backlog);
2. seeds a graph through the API (``seed.py``) and shares the accounts and their tokens with the
   generators (user ``i`` acts as account ``i mod accounts``);
3. opens every connection, and checks each with one ``GET /livez`` (a handshake alone is not
   enough: a server that stops accepting still completes handshakes into its listen backlog);
4. optionally searches for the highest rate (shortest think time) whose p99 stays under the target
   with all the connections open (steps going up; idle server between steps);
5. runs the model's rate for warm-up + duration, latency from each request's scheduled time;
6. checks, without reconnecting, which connections are still open and answering;
7. reports connections held, rate, errors by kind, p50/p90/p99/p99.9 per route, and the memory of
   the gateway's processes and of the generators; writes JSON and a latency-over-time SVG.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import multiprocessing
import os
import resource
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
from rich.console import Console

from twitterclone_bench.chart import latency_chart
from twitterclone_bench.load import CpuMeter, _process_tree, new_session
from twitterclone_bench.report import (
    Cpu,
    RouteStats,
    SendLag,
    Series,
    file_name,
    publish,
    route_table,
)
from twitterclone_bench.runner import LoadConfig, LoadReport, follow_graph, machine, quiesce, seed_graph
from twitterclone_bench.seed import Seeded, SeedError, SeedFigures, refresh_tokens, seed_figures
from twitterclone_bench.server import Monolith, stopping_on_sigterm, wait_ready
from twitterclone_bench.stats import Sample, percentile, route_summary, send_lag, time_series
from twitterclone_bench.userconn import FD_RESERVE, PhaseSpec, WorkerSpec, raise_nofile, rss_mib, worker_main

#: Descriptors a gateway worker keeps for itself (databases, WAL files, logs, pipes) beyond connections.
GATEWAY_FD_RESERVE = 1000
#: Connections one generator process holds at most by default (fewer, smaller event loops keep up better).
PROCESS_DEFAULT_CAP = 15_000
#: Connections one source address opens by default (well under the ephemeral port range).
ADDRESS_DEFAULT_CAP = 16_000
#: Connections beyond the users that the gateway must also admit (seeding's pool, readiness checks).
EXTRA_CONNECTIONS = 300


class PlanError(RuntimeError):
    """The run cannot hold the connections it was asked to, on this machine, as configured."""


@dataclass
class ConnectionsConfig(LoadConfig):
    """Every knob of a connections run (the CLI options, one to one)."""

    avg_follows: float = 5.0
    search_step_s: float = 15.0
    search_steps: int = 8
    gateway_workers: int | None = None
    keep_alive_s: float = 3600.0
    backlog: int = 4096
    connections: int = 50_000
    think_time_s: float = 250.0
    requests_per_action: int = 1
    processes: int | None = None
    source_addresses: tuple[str, ...] | int | None = None
    accounts: int = 1000
    connect_concurrency: int = 256
    connect_timeout_s: float = 30.0
    progress_every_s: float = 5.0

    @property
    def model_rate(self) -> float:
        return self.connections * self.requests_per_action / self.think_time_s


@dataclass
class Plan:
    """How the connections are spread, and what the gateway needs to hold them."""

    host: str
    port: int
    processes: int
    per_process: list[int]
    source_addresses: tuple[str, ...]
    rlimit_nofile: tuple[int, int]
    port_range: tuple[int, int]
    gateway_workers: int | None
    gateway_backpressure: int | None
    somaxconn: int | None

    def describe(self) -> dict[str, object]:
        return {
            "generator_processes": self.processes,
            "connections_per_process": self.per_process,
            "source_addresses": list(self.source_addresses) or "kernel's choice",
            "rlimit_nofile": list(self.rlimit_nofile),
            "ephemeral_port_range": list(self.port_range),
            "somaxconn": self.somaxconn,
        }


def _read_int_file(path: str) -> list[int] | None:
    try:
        return [int(x) for x in Path(path).read_text().split()]
    except (OSError, ValueError):
        return None


def make_plan(config: ConnectionsConfig) -> Plan:
    """Processes, source addresses and gateway settings for ``config``; PlanError says what to change."""
    n = config.connections
    if n < 1:
        raise PlanError("--connections must be at least 1")
    parts = urlsplit(config.url)
    if config.start_monolith:
        host, port = "127.0.0.1", config.port or 0
    else:
        if parts.scheme != "http" or not parts.hostname:
            raise PlanError(f"--url must be http://host:port (plain HTTP/1.1), not {config.url!r}")
        host, port = parts.hostname, parts.port or 80
    try:
        host = str(socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])
    except (OSError, IndexError) as exc:
        raise PlanError(f"cannot resolve {host!r} to an IPv4 address: {exc}") from exc

    soft, hard = raise_nofile(1 << 20)
    unlimited = hard == resource.RLIM_INFINITY
    per_process_cap = (1 << 20) if unlimited else hard - FD_RESERVE
    if config.processes:
        processes = min(config.processes, n)
        if math.ceil(n / processes) > per_process_cap:
            raise PlanError(
                f"{processes} generator processes cannot hold {n:,} connections: each may open at most "
                f"{per_process_cap:,} (RLIMIT_NOFILE hard limit {hard:,} minus {FD_RESERVE}); use "
                f"--processes {math.ceil(n / per_process_cap)} or more, or raise the hard limit (below)"
            )
    else:
        processes = min(n, max(2, math.ceil(n / min(per_process_cap, PROCESS_DEFAULT_CAP))))
    if processes > 64:
        raise PlanError(
            f"RLIMIT_NOFILE's hard limit is {hard:,}, so {n:,} connections need {processes} generator "
            "processes. Raise the hard limit for the shell that runs the bench (as root: `ulimit -Hn "
            "1048576`; a systemd unit: LimitNOFILE=; a login: `nofile` in /etc/security/limits.conf; "
            "docker: --ulimit nofile=1048576:1048576), or ask for fewer --connections."
        )
    base, extra = divmod(n, processes)
    per_process = [base + (1 if i < extra else 0) for i in range(processes)]

    port_range_values = _read_int_file("/proc/sys/net/ipv4/ip_local_port_range") or [32768, 60999]
    lo, hi = port_range_values[0], port_range_values[-1]
    ports = hi - lo + 1
    loopback_target = ipaddress.ip_address(host).is_loopback
    addresses: tuple[str, ...]
    if isinstance(config.source_addresses, int) or config.source_addresses is None:
        if not loopback_target:
            if config.source_addresses:
                raise PlanError("a count of --source-addresses only applies to a loopback target")
            addresses = ()
        else:
            count = config.source_addresses or max(2, math.ceil(n / min(ports - 1024, ADDRESS_DEFAULT_CAP)))
            if count > 250:
                raise PlanError(f"{count} source addresses asked for; at most 250 (127.0.0.2-127.0.0.251)")
            addresses = tuple(f"127.0.0.{2 + i}" for i in range(count))
    else:
        addresses = tuple(config.source_addresses)
        for a in addresses:
            try:
                ip = ipaddress.ip_address(a)
            except ValueError as exc:
                raise PlanError(f"--source-addresses: {a!r} is not an IP address") from exc
            if loopback_target and not (ip.version == 4 and ip.is_loopback):
                raise PlanError(f"--source-addresses: {a} is not a 127.x.x.x address (the target is)")
    per_address = math.ceil(n / max(1, len(addresses)))
    if per_address > ports:
        raise PlanError(
            f"{per_address:,} connections per source address, but the ephemeral port range "
            f"(net.ipv4.ip_local_port_range {lo}-{hi}) has {ports:,} ports: give more --source-addresses"
        )

    workers = backpressure = None
    if config.start_monolith:
        per_worker_cap = (1 << 20) if unlimited else hard - GATEWAY_FD_RESERVE
        if per_worker_cap < 1:
            raise PlanError(f"RLIMIT_NOFILE hard limit {hard} leaves the gateway's workers no room")
        need = n + EXTRA_CONNECTIONS
        workers = config.gateway_workers or max(1, math.ceil(need / per_worker_cap))
        if workers * per_worker_cap < need:
            raise PlanError(
                f"{workers} gateway workers cannot hold {n:,} connections: each may hold "
                f"{per_worker_cap:,} (RLIMIT_NOFILE hard limit {hard:,} minus {GATEWAY_FD_RESERVE} for its "
                f"files); use --gateway-workers {math.ceil(need / per_worker_cap)} or more"
            )
        # granian stops accepting on a worker at its backpressure, so the others take the next ones;
        # as high as the descriptor limit allows, and never below granian's own default
        backpressure = min(per_worker_cap, max(need, 1024))
    somaxconn = _read_int_file("/proc/sys/net/core/somaxconn")
    return Plan(
        host=host,
        port=port,
        processes=processes,
        per_process=per_process,
        source_addresses=addresses,
        rlimit_nofile=(soft, hard),
        port_range=(lo, hi),
        gateway_workers=workers,
        gateway_backpressure=backpressure,
        somaxconn=somaxconn[0] if somaxconn else None,
    )


# -- the generator processes ----------------------------------------------------------------------


class GeneratorError(RuntimeError):
    """A generator process failed or stopped answering."""


class Generators:
    """The generator processes and their pipes."""

    def __init__(self, specs: list[WorkerSpec]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        self.info: dict[int, dict[str, Any]] = {}
        for spec in specs:
            parent, child = ctx.Pipe(duplex=True)
            proc = ctx.Process(
                target=worker_main, args=(spec, child), name=f"bench-users-{spec.index}", daemon=True
            )
            proc.start()
            child.close()
            self.pipes.append(parent)
            self.procs.append(proc)
        self.info = self.collect("ready", timeout_s=120)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]

    def broadcast(self, *msg: Any) -> None:
        for pipe in self.pipes:
            pipe.send(msg)

    def collect(
        self,
        kind: str,
        on_message: Callable[[int, str, Any], None] | None = None,
        timeout_s: float = 600.0,
    ) -> dict[int, Any]:
        """Wait until every generator has sent a ``kind`` message; pass the others to ``on_message``."""
        got: dict[int, Any] = {}
        deadline = time.monotonic() + timeout_s
        index = {id(p): i for i, p in enumerate(self.pipes)}
        while len(got) < len(self.pipes):
            left = deadline - time.monotonic()
            if left <= 0:
                missing = sorted(set(range(len(self.pipes))) - set(got))
                raise GeneratorError(f"generators {missing} sent no {kind!r} within {timeout_s:.0f} s")
            for pipe in wait(self.pipes, timeout=min(left, 1.0)):
                assert isinstance(pipe, Connection)
                i = index[id(pipe)]
                try:
                    msg = pipe.recv()
                except (EOFError, OSError) as exc:
                    raise GeneratorError(
                        f"generator {i} exited (status {self.procs[i].exitcode}) while waiting for {kind!r}"
                    ) from exc
                if msg[0] == "fatal":
                    raise GeneratorError(f"generator {i}: {msg[1]}")
                if msg[0] == kind:
                    got[i] = msg[1]
                elif on_message is not None:
                    on_message(i, msg[0], msg[1])
            for i, proc in enumerate(self.procs):
                if i not in got and not proc.is_alive() and not self.pipes[i].poll():
                    raise GeneratorError(f"generator {i} exited with status {proc.exitcode}")
        return got

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(("stop",))
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for pipe in self.pipes:
            pipe.close()


# -- measurements of processes --------------------------------------------------------------------


def socket_count(pid: int) -> int | None:
    """Open sockets of a process (its accepted connections, for a gateway worker)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    count = 0
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count


def listener_pids(port: int) -> list[int]:
    """Processes holding a socket that listens on ``port`` (a deployment the tool did not start)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    pids: list[int] = []
    if not inodes:
        return pids
    wanted = {f"socket:[{i}]" for i in inodes}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{entry}/fd/{fd}") in wanted:
                    pids.append(int(entry))
                    break
            except OSError:
                continue
    return sorted(pids)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def sockstat() -> dict[str, float]:
    """The kernel's TCP socket counts and buffer memory (``/proc/net/sockstat``)."""
    out: dict[str, float] = {}
    try:
        for line in Path("/proc/net/sockstat").read_text().splitlines():
            if line.startswith("TCP:"):
                vals = line.split()[1:]
                fields = dict(zip(vals[::2], (int(v) for v in vals[1::2]), strict=True))
                out = {
                    "tcp_inuse": fields.get("inuse", 0),
                    "tcp_time_wait": fields.get("tw", 0),
                    "tcp_buffer_mib": round(fields.get("mem", 0) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1),
                }
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("Slab:"):  # socket, inode and file structures live here
                out["slab_mib"] = round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return out


def memory(gateway_pids: list[int], generator_pids: list[int]) -> Memory:
    """Resident memory (and, for the gateway, open sockets) of every process, now."""
    gateway = [
        GatewayProcess(pid=pid, rss_mib=rss_mib(pid), sockets=socket_count(pid), cmd=_cmdline(pid)[:80])
        for pid in gateway_pids
    ]
    generators = [GeneratorProcess(pid=pid, rss_mib=rss_mib(pid)) for pid in generator_pids]
    return Memory(
        gateway=gateway,
        gateway_rss_mib=round(sum(p.rss_mib or 0.0 for p in gateway), 1),
        generators=generators,
        generators_rss_mib=round(sum(p.rss_mib or 0.0 for p in generators), 1),
        kernel=sockstat(),
    )


# -- the report -----------------------------------------------------------------------------------


class GatewayProcess(msgspec.Struct, kw_only=True):
    pid: int
    rss_mib: float | None
    sockets: int | None
    cmd: str


class GeneratorProcess(msgspec.Struct, kw_only=True):
    pid: int
    rss_mib: float | None


class Memory(msgspec.Struct, kw_only=True):
    """Resident memory of the gateway's and the generators' processes, and the kernel's socket figures."""

    gateway: list[GatewayProcess]
    gateway_rss_mib: float
    generators: list[GeneratorProcess]
    generators_rss_mib: float
    kernel: dict[str, float]


class AtEnd(msgspec.Struct, kw_only=True):
    """Every connection checked once more after the runs."""

    open_and_answering: int
    outcome: dict[str, int]
    connection_events_whole_run: dict[str, int]


class Connected(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Opening the connections (each checked with GET /livez), and how many were still there at the end."""

    target: int
    opened: int
    established: int
    failed: int
    failures_by_reason: dict[str, int]
    seconds: float
    generator_rss_mib: list[float | None]
    quiesce_before_check_s: float | None = None
    at_end: AtEnd | None = None


class Model(msgspec.Struct, kw_only=True):
    """The simulated users: how many, how often they act, what they do."""

    users: int
    think_time_s: float
    requests_per_action: int
    rate_rps: float
    mix: dict[str, float]
    accounts: int


class Step(msgspec.Struct, kw_only=True):
    """One step of the rate search (every connection open)."""

    rate_rps: float
    think_time_s: float
    requests: int
    achieved_rps: float
    p50_ms: float | None
    p99_ms: float | None
    error_rate: float
    errors_by_kind: dict[str, int]
    open_at_end: int
    generator_send_lag_p99_ms: float | None
    cpu: Cpu
    passed: bool = msgspec.field(name="pass")
    attempt: int = 1
    quiesce_s: float = 0.0


class RateSearch(msgspec.Struct, kw_only=True):
    """The highest rate (shortest think time) whose p99 stays under the target."""

    target_p99_ms: float
    step_s: float
    steps: list[Step]
    max_rate_rps: float
    max_rate_think_time_s: float | None
    first_failing_rate_rps: float | None
    model_rate_rps: float
    fraction_of_model_rate: float | None


class ModelRun(msgspec.Struct, kw_only=True):
    """The users at the model's think time, for the warm-up and the measured duration."""

    rate_rps: float
    think_time_s: float
    duration_s: float
    warmup_s: float
    scheduled_whole_phase: int
    routes: dict[str, RouteStats]
    throughput_rps: float
    error_rate: float
    errors_by_kind: dict[str, int]
    errors_by_kind_with_warmup: dict[str, int]
    connection_events: dict[str, int]
    open_at_end_of_phase: int
    generator_send_lag_ms: SendLag
    cpu: Cpu
    generator_rss_mib: list[float | None]
    meets_target: bool
    series: Series
    open_connections_series: list[dict[str, float]]
    quiesce_before_s: float = 0.0


class ConnectionsReport(LoadReport, kw_only=True, omit_defaults=True):
    """``twitterclone bench connections``: the connections held, the rate search, the model run, memory."""

    config: ConnectionsConfig
    model: Model
    plan: dict[str, object]
    seed: SeedFigures
    memory_before_connect: Memory
    connections: Connected
    memory_after_connect: Memory
    memory_per_connection_kib: dict[str, float | None]
    search: RateSearch | None = None
    run: ModelRun
    memory_at_end: Memory

    def render(self, console: Console) -> None:
        run, model, conns = self.run, self.model, self.connections
        title = (
            f"{model.users:,} users, think time {model.think_time_s:g} s: {run.rate_rps:g} req/s offered, "
            f"{run.duration_s:g} s measured (after {run.warmup_s:g} s warm-up)"
        )
        console.print(route_table(title, run.routes))
        end = conns.at_end
        console.print(
            f"connections: {conns.established:,} of {conns.target:,} established (open and answering GET "
            f"/livez) in {conns.seconds} s, {conns.failed:,} failed"
            + (f" {conns.failures_by_reason}" if conns.failed else "")
            + (
                f"; {end.open_and_answering:,} still open and answering at the end; "
                f"connection events over the run: {end.connection_events_whole_run or 'none'}"
                if end is not None
                else ""
            )
        )
        verdict = "[green]meets[/]" if run.meets_target else "[red]misses[/]"
        console.print(
            f"achieved {run.throughput_rps} req/s of {run.rate_rps:g} offered; "
            f"error rate {run.error_rate:.3%} (by kind: {run.errors_by_kind or 'none'}); "
            f"p99 {run.routes['all'].p99_ms:.1f} ms: "
            f"{verdict} the target (p99 < 100 ms, errors < 0.1 %); generator send lag p99 "
            f"{run.generator_send_lag_ms.p99} ms; cpu {run.cpu}"
        )
        if (s := self.search) is not None:
            console.print(
                f"rate search with every connection open: max {s.max_rate_rps:g} req/s "
                f"(think time {s.max_rate_think_time_s} s) holds p99 < {s.target_p99_ms:g} ms and errors "
                f"< 0.1 % = {s.fraction_of_model_rate or 0:.1%} of the model's {s.model_rate_rps:g} req/s"
                if s.max_rate_rps
                else "rate search: no step passed"
            )
        for when, m in (("after connect", self.memory_after_connect), ("at end", self.memory_at_end)):
            gateway = ", ".join(str(p.rss_mib) for p in m.gateway)
            generators = ", ".join(str(p.rss_mib) for p in m.generators)
            console.print(
                f"memory {when}: gateway {m.gateway_rss_mib} MiB ({gateway}), "
                f"generators {m.generators_rss_mib} MiB ({generators}), kernel {m.kernel}"
            )


# -- the run --------------------------------------------------------------------------------------


def run_connections(config: ConnectionsConfig, console: Console | None = None) -> ConnectionsReport:
    """The whole run; returns the report (also written as JSON next to the chart)."""
    console = console or Console()
    report = stopping_on_sigterm(lambda: _run(config, console))
    where = Path(config.manifest).stem if config.start_monolith else str(report.server["url"])
    title = (
        f"twitterclone {where}: {config.connections:,} keep-alive users, "
        f"think time {config.think_time_s:g} s = {config.model_rate:.0f} req/s"
    )
    chart = latency_chart(report.run.series, title=title, warmup_s=config.warmup_s)
    publish(report, config.out_dir, file_name("connections", config.label), console, chart=chart)
    return report


def _run(config: ConnectionsConfig, console: Console) -> ConnectionsReport:
    plan = make_plan(config)
    rate = config.model_rate
    console.print(
        f"[bold]model[/]: {config.connections:,} users, each on its own keep-alive connection, acting at "
        f"exponential think times of mean {config.think_time_s:g} s, {config.requests_per_action} request(s) "
        f"per action = {rate:.1f} req/s of the mix {config.mix}"
    )
    console.print(
        f"[bold]plan[/]: {plan.processes} generator processes "
        f"({', '.join(f'{c:,}' for c in plan.per_process)} "
        f"connections), source addresses {', '.join(plan.source_addresses) or 'chosen by the kernel'}; "
        f"RLIMIT_NOFILE {plan.rlimit_nofile[0]:,} (hard {plan.rlimit_nofile[1]:,})"
    )
    if not config.start_monolith:
        wait_ready(config.url.rstrip("/"), timeout_s=30)
        console.print(
            "[yellow]note[/]: against a running deployment the server must admit "
            f"{config.connections:,} idle keep-alive connections: granian's backpressure (per worker, "
            "default backlog/workers), its idle keep-alive (http1 header read) timeout (default 30 s) and "
            "its workers' RLIMIT_NOFILE. `twitterclone run --backpressure --keep-alive-timeout` set them."
        )
        gateway_pids = listener_pids(plan.port)
        return _with_server(config, plan, config.url.rstrip("/"), None, gateway_pids, {}, console)
    assert plan.gateway_workers is not None
    manifest = str(Path(config.manifest).resolve())
    with Monolith(
        manifest,
        port=config.port,
        workers=plan.gateway_workers,
        backlog=config.backlog,
        backpressure=plan.gateway_backpressure,
        keep_alive_s=config.keep_alive_s,
    ) as mono:
        plan.port = mono.port
        console.print(
            f"[bold]monolith[/] on {mono.url}: {plan.gateway_workers} granian workers, each admitting up to "
            f"{plan.gateway_backpressure:,} connections (backpressure), idle keep-alive timeout "
            f"{config.keep_alive_s:g} s, backlog {config.backlog} (somaxconn {plan.somaxconn}); "
            f"pid {mono.pid}, data in {mono.data_dir}"
        )
        try:
            assert mono.pid is not None
            return _with_server(
                config, plan, mono.url, mono.pid, _process_tree(mono.pid), mono.describe(), console
            )
        except BaseException:
            console.print(f"[red]server log tail:[/]\n{mono.log_tail()}")
            raise


def _seed(
    config: ConnectionsConfig, base: str, needed_s: float, console: Console
) -> tuple[Seeded, SeedFigures]:
    graph = follow_graph(config, config.accounts, console)

    async def go() -> tuple[Seeded, int]:
        async with new_session(64, config.timeout_s) as session:
            seeded = await seed_graph(session, base, graph, config, console)
            failures = await refresh_tokens(session, base, seeded.actors, needed_s, config.concurrency)
            return seeded, failures

    t0 = time.monotonic()
    seeded, refresh_failures = asyncio.run(go())
    info = seed_figures(seeded, time.monotonic() - t0)
    info.token_refresh_failures = refresh_failures
    info.graph = graph.describe()
    console.print(f"[bold]seeded[/] in {info.seconds} s: {info.accounts} accounts, {info.tweets} tweets")
    return seeded, info


def _with_server(
    config: ConnectionsConfig,
    plan: Plan,
    base: str,
    server_pid: int | None,
    gateway_pids: list[int],
    server_info: dict[str, object],
    console: Console,
) -> ConnectionsReport:
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    # how long the accounts' tokens must last: every phase, with room
    needed_s = (
        (config.search_steps * (config.search_step_s + config.timeout_s + 40) if config.search else 0)
        + config.warmup_s
        + config.duration_s
        + 900
    )
    seeded, seed_info = _seed(config, base, needed_s, console)
    if not seeded.actors:
        raise SeedError("no account was seeded")
    specs = []
    first = 0
    for i, count in enumerate(plan.per_process):
        specs.append(
            WorkerSpec(
                index=i,
                host=plan.host,
                port=plan.port,
                base_url=base,
                first_user=first,
                users=count,
                source_addresses=plan.source_addresses,
                seeded=seeded,
                mix=config.mix,
                seed=config.seed,
                timeout_s=config.timeout_s,
                connect_concurrency=config.connect_concurrency,
                connect_timeout_s=config.connect_timeout_s,
            )
        )
        first += count
    console.print(f"starting {plan.processes} generator processes...")
    gens = Generators(specs)
    try:
        before = memory(gateway_pids, gens.pids)
        connected = _connect(gens, config, console)
        after = memory(gateway_pids, gens.pids)
        per_connection = _per_connection(before, after, connected.established)
        _print_sockets(after, per_connection, console)
        search = _search(gens, config, server_pid, console) if config.search else None
        quiet = asyncio.run(quiesce(server_pid, 2.0, limit_s=30.0))
        run = _model_run(gens, config, server_pid, console)
        run.quiesce_before_s = quiet
        at_end = memory(gateway_pids, gens.pids)
        # an overloaded run leaves requests behind on the server: let it finish them before checking
        connected.quiesce_before_check_s = asyncio.run(quiesce(server_pid, 2.0, limit_s=120.0))
        connected.at_end = _probe(gens, config, console)
    finally:
        gens.stop()
    return ConnectionsReport(
        tool="twitterclone bench connections",
        started_at=started,
        command=" ".join(sys.argv),
        config=config,
        machine=machine(),
        server={**server_info, "url": base, "gateway_workers": plan.gateway_workers},
        model=Model(
            users=config.connections,
            think_time_s=config.think_time_s,
            requests_per_action=config.requests_per_action,
            rate_rps=round(config.model_rate, 2),
            mix=config.mix,
            accounts=len(seeded.actors),
        ),
        plan=plan.describe(),
        seed=seed_info,
        memory_before_connect=before,
        connections=connected,
        memory_after_connect=after,
        memory_per_connection_kib=per_connection,
        search=search,
        run=run,
        memory_at_end=at_end,
    )


def _per_connection(before: Memory, after: Memory, established: int) -> dict[str, float | None]:
    """Memory that opening the connections added, per connection (KiB)."""
    if not established:
        return {}

    def per(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round((a - b) * 1024 / established, 1)

    return {
        "gateway_rss": per(after.gateway_rss_mib, before.gateway_rss_mib),
        "generators_rss": per(after.generators_rss_mib, before.generators_rss_mib),
        "kernel_slab_both_ends": per(after.kernel.get("slab_mib"), before.kernel.get("slab_mib")),
    }


def _connect(gens: Generators, config: ConnectionsConfig, console: Console) -> Connected:
    n = config.connections
    progress: dict[int, dict[str, int]] = {}
    last = [0.0]
    t0 = time.monotonic()

    def on_message(i: int, kind: str, body: Any) -> None:
        if kind != "progress":
            return
        progress[i] = body
        now = time.monotonic()
        if now - last[0] >= 2.0:
            last[0] = now
            opened = sum(p["opened"] for p in progress.values())
            verified = sum(p["verified"] for p in progress.values())
            failed = sum(p["failed"] for p in progress.values())
            console.print(
                f"  connecting: {opened:,} / {n:,} open, {verified:,} answered GET /livez, {failed:,} failed "
                f"({now - t0:.0f} s)"
            )

    gens.broadcast("connect")
    # each connection may take its connect timeout, a bounded number at a time, plus its check
    per_process = math.ceil(n / len(gens.pipes))
    rounds = per_process / max(1, config.connect_concurrency) + 1
    limit = rounds * (config.connect_timeout_s + config.timeout_s)
    done = gens.collect("connected", on_message, timeout_s=limit + 60)
    failed: Counter[str] = Counter()
    for r in done.values():
        failed.update(r["failed"])
    out = Connected(
        target=n,
        opened=sum(r["opened"] for r in done.values()),
        established=sum(r["verified"] for r in done.values()),
        failed=sum(failed.values()),
        failures_by_reason=dict(failed.most_common()),
        seconds=round(time.monotonic() - t0, 1),
        generator_rss_mib=[r["rss_mib"] for r in done.values()],
    )
    console.print(
        f"[bold]connections[/]: {out.established:,} of {n:,} open and answering GET /livez "
        f"after {out.seconds} s; {out.failed:,} failed"
        + (f" ({out.failures_by_reason})" if out.failed else "")
    )
    if out.established == 0:
        raise GeneratorError(f"no connection could be established: {out.failures_by_reason}")
    return out


def _print_sockets(mem: Memory, per_connection: dict[str, float | None], console: Console) -> None:
    console.print(
        "  gateway processes: "
        + ", ".join(
            f"pid {p.pid} {p.rss_mib} MiB {p.sockets:,} sockets" for p in mem.gateway if p.sockets is not None
        )
        + f"; generators {mem.generators_rss_mib} MiB; kernel {mem.kernel}; "
        f"added per connection (KiB): {per_connection}"
    )


def _probe(gens: Generators, config: ConnectionsConfig, console: Console) -> AtEnd:
    timeout = max(config.timeout_s, 60.0)  # a server still busy with an overload answers late, not never
    gens.broadcast("probe", timeout)
    n_per = math.ceil(config.connections / len(gens.pipes))
    done = gens.collect("probed", timeout_s=(n_per / max(1, config.connect_concurrency) + 1) * timeout + 60)
    outcome: Counter[str] = Counter()
    events: Counter[str] = Counter()
    for r in done.values():
        outcome.update(r["outcome"])
        events.update(r["events"])
    still = outcome.get("open, answered GET /livez", 0)
    out = AtEnd(
        open_and_answering=still,
        outcome=dict(outcome.most_common()),
        connection_events_whole_run=dict(events.most_common()),
    )
    console.print(
        f"[bold]at the end[/]: {still:,} of {config.connections:,} connections still open and answering "
        f"GET /livez; {dict(outcome.most_common())}"
    )
    return out


@dataclass
class PhaseOutcome:
    samples: list[Sample]
    errors: list[tuple[float, str]]  # (scheduled, kind) of every failed request
    scheduled: int

    def errors_by_kind(self, since_s: float = 0.0) -> dict[str, int]:
        return dict(Counter(kind for at, kind in self.errors if at >= since_s).most_common())

    events: Counter[str]
    open_at_end: int
    cpu: dict[str, float | None]
    generator_rss_mib: list[float | None]
    open_series: list[dict[str, float]]


def _phase(
    gens: Generators,
    config: ConnectionsConfig,
    name: str,
    think_s: float,
    duration_s: float,
    server_pid: int | None,
    console: Console,
    *,
    quiet: bool = False,
) -> PhaseOutcome:
    """Every generator acts for ``duration_s`` at mean think time ``think_s``; progress every few seconds."""
    drain = config.timeout_s + 1.0
    start_wall = time.time() + 0.5
    spec = PhaseSpec(name, start_wall, duration_s, think_s, config.requests_per_action, drain)
    meter = CpuMeter(server_pid)
    meter.start()
    window: list[float] = []
    state: dict[int, dict[str, Any]] = {}
    totals = {"done": 0, "errors": 0}
    last_print = [time.monotonic()]
    open_series: list[dict[str, float]] = []
    last_series = [-1]

    def on_message(i: int, kind: str, body: Any) -> None:
        if kind != "tick":
            return
        state[i] = body
        window.extend(body["latencies"])
        totals["done"] += body["done"]
        totals["errors"] += body["errors"]
        elapsed = time.time() - start_wall
        second = int(elapsed)
        if len(state) == len(gens.pipes) and second != last_series[0]:
            last_series[0] = second
            open_series.append(
                {"t": round(elapsed, 1), "open": float(sum(s["open"] for s in state.values()))}
            )
        now = time.monotonic()
        if not quiet and now - last_print[0] >= config.progress_every_s and elapsed > 0:
            span = now - last_print[0]
            last_print[0] = now
            lat = sorted(window)
            window.clear()
            p99 = f"{percentile(lat, 99) * 1000:7.1f} ms" if lat else "      - ms"
            scheduled = sum(s["scheduled"] for s in state.values())
            opened = sum(s["open"] for s in state.values())
            waiting = sum(s["waiting"] for s in state.values())
            console.print(
                f"  {name}: {min(elapsed, duration_s):5.0f} s  scheduled {scheduled:,}"
                f"  answered {len(lat) / span:6.1f}/s  errors {totals['errors']:,}"
                f"  p99 (last {span:.0f} s) {p99}  open {opened:,}/{config.connections:,}"
                f"  waiting {waiting:,}"
            )

    gens.broadcast("phase", spec)
    results = gens.collect("phase_done", on_message, timeout_s=duration_s + drain + 120)
    samples = [Sample(*t) for r in results.values() for t in r["samples"]]
    # the generator processes' CPU, not this parent's (which only reads pipes)
    cpu = meter.stop(len(samples), generator_s=sum(r["cpu_s"] for r in results.values()))
    errors = [(float(at), str(kind)) for r in results.values() for at, kind in r["errors"]]
    events: Counter[str] = Counter()
    for r in results.values():
        events.update(r["events"])
    return PhaseOutcome(
        samples=samples,
        errors=errors,
        scheduled=sum(r["scheduled"] for r in results.values()),
        events=events,
        open_at_end=sum(r["open"] for r in results.values()),
        cpu=cpu,
        generator_rss_mib=[r["rss_mib"] for r in results.values()],
        open_series=open_series,
    )


def _step_figures(
    out: PhaseOutcome, rate: float, think_s: float, duration_s: float, target_ms: float
) -> Step:
    lat = sorted(s.latency for s in out.samples)
    errors = sum(1 for s in out.samples if not s.ok)
    err_rate = errors / len(lat) if lat else 1.0
    p99 = percentile(lat, 99) * 1000 if lat else math.inf
    return Step(
        rate_rps=round(rate, 2),
        think_time_s=round(think_s, 1),
        requests=len(lat),
        achieved_rps=round((len(lat) - errors) / duration_s, 1),
        p50_ms=round(percentile(lat, 50) * 1000, 2) if lat else None,
        p99_ms=round(p99, 2) if lat else None,
        error_rate=round(err_rate, 5),
        errors_by_kind=out.errors_by_kind(),
        open_at_end=out.open_at_end,
        generator_send_lag_p99_ms=send_lag(out.samples).p99,
        cpu=out.cpu,
        passed=bool(lat) and p99 < target_ms and err_rate < 0.001,
    )


def _search(gens: Generators, config: ConnectionsConfig, pid: int | None, console: Console) -> RateSearch:
    """The highest rate (shortest think time) whose p99 stays under the target, all connections open.

    Doubling up from 1/32 of the model's rate (at least 1 req/s) until a step fails or the model's
    rate passes, then bisection; the server is given time to go idle between steps. A failing step
    is run once more and fails only when the repeat fails too: on a shared machine another
    process's burst can stall one step, and at a low rate the p99 of a step is nearly its maximum.
    """
    n, rpa = config.connections, config.requests_per_action
    top = config.model_rate
    steps: list[Step] = []
    best, worst = 0.0, math.inf
    rate = max(1.0, top / 32)
    console.print(
        f"[bold]rate search[/] with {n:,} connections open (p99 < {config.p99_target_ms:g} ms, "
        f"errors < 0.1 %, {config.search_step_s:g} s steps, up to the model's {top:.1f} req/s)"
    )
    # a step of a few progress intervals still gets its progress lines; a short one only its verdict
    quiet = config.search_step_s < 2 * config.progress_every_s

    def step_at(rate: float, attempt: int) -> bool:
        think = n * rpa / rate
        name = f"search {rate:.1f} req/s"
        out = _phase(gens, config, name, think, config.search_step_s, pid, console, quiet=quiet)
        step = _step_figures(out, rate, think, config.search_step_s, config.p99_target_ms)
        step.attempt = attempt
        step.quiesce_s = asyncio.run(quiesce(pid, 2.0, limit_s=30.0))
        steps.append(step)
        verdict = "[green]pass[/]" if step.passed else "[red]fail[/]" if attempt > 1 else "fail, once more"
        console.print(
            f"  {rate:8.1f} req/s (think {think:8.1f} s)  p99 {step.p99_ms or math.nan:8.1f} ms  "
            f"errors {step.error_rate:.2%}  open {step.open_at_end:,}  {verdict}"
        )
        return step.passed

    for _ in range(config.search_steps):
        if worst != math.inf and (worst - best) / max(best, 1.0) < 0.1:
            break
        if step_at(rate, 1) or step_at(rate, 2):
            best = rate
            if rate >= top:
                break
            rate = min(top, rate * 2) if worst == math.inf else (best + worst) / 2
        else:
            worst = rate
            rate = (best + worst) / 2 if best else rate / 3
        if rate < 0.5:
            break
    return RateSearch(
        target_p99_ms=config.p99_target_ms,
        step_s=config.search_step_s,
        steps=steps,
        max_rate_rps=round(best, 2),
        max_rate_think_time_s=round(n * rpa / best, 1) if best else None,
        first_failing_rate_rps=None if worst == math.inf else round(worst, 2),
        model_rate_rps=round(top, 2),
        fraction_of_model_rate=round(best / top, 3) if top else None,
    )


def _model_run(gens: Generators, config: ConnectionsConfig, pid: int | None, console: Console) -> ModelRun:
    rate = config.model_rate
    total = config.warmup_s + config.duration_s
    console.print(
        f"[bold]model run[/]: {config.connections:,} users at think time {config.think_time_s:g} s = "
        f"{rate:.1f} req/s for {config.warmup_s:g} s warm-up + {config.duration_s:g} s"
    )
    out = _phase(gens, config, "model", config.think_time_s, total, pid, console)
    measured = [s for s in out.samples if s.scheduled >= config.warmup_s]
    routes = route_summary(measured, config.duration_s)
    everything = routes["all"]
    return ModelRun(
        rate_rps=round(rate, 2),
        think_time_s=config.think_time_s,
        duration_s=config.duration_s,
        warmup_s=config.warmup_s,
        scheduled_whole_phase=out.scheduled,
        routes=routes,
        throughput_rps=round(everything.throughput_rps, 1),
        error_rate=everything.error_rate,
        errors_by_kind=out.errors_by_kind(config.warmup_s),
        errors_by_kind_with_warmup=out.errors_by_kind(),
        connection_events=dict(out.events.most_common()),
        open_at_end_of_phase=out.open_at_end,
        generator_send_lag_ms=send_lag(measured),
        cpu=out.cpu,
        generator_rss_mib=out.generator_rss_mib,
        meets_target=bool(measured)
        and everything.p99_ms < config.p99_target_ms
        and everything.error_rate < 0.001,
        series=time_series(out.samples),
        open_connections_series=out.open_series,
    )
