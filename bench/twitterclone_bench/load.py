"""The load generator: an open loop at a fixed arrival rate, and a closed-loop ceiling probe.

Open loop (as wrk2 does): request ``i`` is due at ``start + i / rate``. The scheduler launches each
request as its own task when it is due and never waits for earlier responses, so a server stall
shows up as latency instead of as a pause in sending (no coordinated omission). Latency is measured
from the *scheduled* time to the end of the response body. When more than ``max_in_flight``
requests are outstanding, new ones are dropped and counted as errors (status 0).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from twitterclone_bench.stats import Sample

#: Called with the response body and the loop time the response completed, on success only.
AfterOk = Callable[[bytes, float], None]


@dataclass(slots=True)
class Request:
    """One request to send: which route it counts under, and what to send."""

    route: str
    method: str
    url: str
    headers: dict[str, str] | None = None
    json: Any = None
    after: AfterOk | None = None


@dataclass
class CpuMeter:
    """CPU seconds used by this process and, when known, the server's processes, over a phase."""

    server_pid: int | None = None
    _wall: float = 0.0
    _self: float = 0.0
    _server: float = 0.0
    _machine: float = 0.0

    def start(self) -> None:
        self._wall, self._self = time.monotonic(), time.process_time()
        self._server, self._machine = self._server_cpu(), _machine_busy()

    def stop(self) -> dict[str, float | None]:
        """Cores used on average (1.0 = one core busy for the whole phase): by the generator, the server
        (when its pid is known), the whole machine, and everything else (other work on the machine)."""
        wall = max(1e-9, time.monotonic() - self._wall)
        generator = (time.process_time() - self._self) / wall
        server = (self._server_cpu() - self._server) / wall if self.server_pid else None
        machine = (_machine_busy() - self._machine) / wall
        return {
            "generator_cores": round(generator, 2),
            "server_cores": round(server, 2) if server is not None else None,
            "machine_cores": round(machine, 2),
            "other_cores": round(max(0.0, machine - generator - server), 2) if server is not None else None,
            "loadavg_1m": _loadavg(),
        }

    def _server_cpu(self) -> float:
        if not self.server_pid:
            return 0.0
        return sum(_proc_cpu(pid) for pid in _process_tree(self.server_pid))


def _machine_busy() -> float:
    """CPU seconds the whole machine spent not idle since boot (all cores)."""
    try:
        with open("/proc/stat") as fh:
            ticks = [int(x) for x in fh.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _loadavg() -> float | None:
    try:
        with open("/proc/loadavg") as fh:
            return float(fh.read().split()[0])
    except OSError:
        return None


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[11], fields[12] are utime and stime (14th/15th of the full line) in clock ticks
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_tree(root: int) -> list[int]:
    pids, frontier = [root], [root]
    while frontier:
        pid = frontier.pop()
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as fh:
                kids = [int(x) for x in fh.read().split()]
        except OSError:
            kids = []
        pids.extend(kids)
        frontier.extend(kids)
    return pids


@dataclass
class PhaseResult:
    """What one load phase produced."""

    samples: list[Sample]
    offered_rate: float
    duration_s: float
    cpu: dict[str, float | None] = field(default_factory=dict)
    dropped: int = 0


def new_session(connections: int = 256, timeout_s: float = 10.0) -> aiohttp.ClientSession:
    """One keep-alive session with a large pool, shared by every phase."""
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections, force_close=False)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        skip_auto_headers=("User-Agent",),
    )


async def open_loop(
    session: aiohttp.ClientSession,
    next_request: Callable[[int], Request],
    *,
    rate: float,
    duration_s: float,
    max_in_flight: int = 10_000,
    drain_s: float = 10.0,
    cpu: CpuMeter | None = None,
) -> PhaseResult:
    """Send ``rate * duration_s`` requests at their scheduled times; see the module docstring."""
    loop = asyncio.get_running_loop()
    samples: list[Sample] = []
    in_flight: set[asyncio.Task[None]] = set()
    total = int(rate * duration_s)
    dropped = 0
    meter = cpu or CpuMeter()
    meter.start()
    start = loop.time() + 0.01

    async def fire(req: Request, due: float) -> None:
        sent = loop.time()
        status = 0
        body = b""
        try:
            async with session.request(req.method, req.url, headers=req.headers, json=req.json) as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            status = 0
        finally:
            done = loop.time()
            samples.append(Sample(req.route, due - start, done - due, status, sent - due))
        if req.after is not None and 200 <= status < 400:
            req.after(body, done)

    i = 0
    while i < total:
        now = loop.time()
        due_count = min(total, int((now - start) * rate) + 1)
        while i < due_count:
            due = start + i / rate
            req = next_request(i)
            i += 1
            if len(in_flight) >= max_in_flight:
                dropped += 1
                samples.append(Sample(req.route, due - start, loop.time() - due, 0, 0.0))
                continue
            task = loop.create_task(fire(req, due))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if i < total:
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
    if in_flight:
        _, pending = await asyncio.wait(set(in_flight), timeout=drain_s)
        for task in pending:
            task.cancel()  # fire() records the sample as status 0 with the time waited so far
        if pending:
            await asyncio.wait(pending, timeout=2.0)
    return PhaseResult(samples, rate, duration_s, meter.stop(), dropped)


async def closed_loop(
    session: aiohttp.ClientSession,
    next_request: Callable[[int], Request],
    *,
    concurrency: int,
    duration_s: float,
    cpu: CpuMeter | None = None,
) -> PhaseResult:
    """``concurrency`` workers, each sending its next request as soon as the last one is answered.

    This measures the most the stack (and this generator) can push through; latency here is from
    the actual send time, since there is no schedule.
    """
    loop = asyncio.get_running_loop()
    samples: list[Sample] = []
    counter = 0
    meter = cpu or CpuMeter()
    meter.start()
    start = loop.time()
    stop_at = start + duration_s

    async def worker() -> None:
        nonlocal counter
        while loop.time() < stop_at:
            req = next_request(counter)
            counter += 1
            sent = loop.time()
            status = 0
            try:
                async with session.request(req.method, req.url, headers=req.headers, json=req.json) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError, OSError):
                status = 0
            samples.append(Sample(req.route, sent - start, loop.time() - sent, status))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = loop.time() - start
    return PhaseResult(samples, 0.0, elapsed, meter.stop())
