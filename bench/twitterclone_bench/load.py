"""The load generator: an open loop at a fixed arrival rate, and a closed-loop ceiling probe.

Open loop (as wrk2 does): request ``i`` is due at ``start + i / rate``. The scheduler sends each
request when it is due (on the lean client of ``http1`` with a callback for its outcome, or on
aiohttp as a task of its own) and never waits for earlier responses, so a server stall
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

from twitterclone_bench.http1 import Http1Client
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

    def stop(self, requests: int | None = None, generator_s: float | None = None) -> dict[str, float | None]:
        """Cores used on average (1.0 = one core busy for the whole phase): by the generator, the server
        (when its pid is known), the whole machine, and everything else (other work on the machine).

        Given the phase's ``requests``, also the CPU each request cost the generator and the server
        (µs; the server's includes whatever the requests caused that finished within the phase).
        ``generator_s``: the generator's CPU seconds when it is not this process (``bench connections``).
        """
        wall = max(1e-9, time.monotonic() - self._wall)
        if generator_s is None:
            generator_s = time.process_time() - self._self
        server_s = self._server_cpu() - self._server if self.server_pid else None
        return cpu_figures(wall, generator_s, server_s, _machine_busy() - self._machine, requests)

    def _server_cpu(self) -> float:
        if not self.server_pid:
            return 0.0
        return sum(_proc_cpu(pid) for pid in _process_tree(self.server_pid))


def cpu_figures(
    wall_s: float, generator_s: float, server_s: float | None, machine_s: float, requests: int | None
) -> dict[str, float | None]:
    """The CPU figures of a phase (see ``CpuMeter.stop``) from the CPU seconds each used over it."""
    wall = max(1e-9, wall_s)
    generator, machine = generator_s / wall, machine_s / wall
    server = server_s / wall if server_s is not None else None
    out: dict[str, float | None] = {
        "generator_cores": round(generator, 2),
        "server_cores": round(server, 2) if server is not None else None,
        "machine_cores": round(machine, 2),
        "other_cores": round(max(0.0, machine - generator - server), 2) if server is not None else None,
        "loadavg_1m": _loadavg(),
    }
    if requests:
        out["requests"] = requests
        out["generator_us_per_request"] = round(generator_s / requests * 1e6, 1)
        if server_s is not None:
            out["server_us_per_request"] = round(server_s / requests * 1e6, 1)
    return out


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


#: What the load phases send requests with: aiohttp (``--client aiohttp``) or the lean client.
Client = aiohttp.ClientSession | Http1Client


async def open_loop(
    client: Client,
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
    total = int(rate * duration_s)
    dropped = 0
    meter = cpu or CpuMeter()
    meter.start()
    start = loop.time() + 0.01
    lean = isinstance(client, Http1Client)
    in_flight: set[asyncio.Task[None]] = set()

    def outstanding() -> int:
        return client.outstanding if isinstance(client, Http1Client) else len(in_flight)

    def submit(req: Request, due: float) -> None:
        """The lean client: no task, a callback when the response (or the failure) comes."""
        assert isinstance(client, Http1Client)
        sent = loop.time()
        route, after = req.route, req.after

        def done(status: int, body: bytes, _error: str | None) -> None:
            now = loop.time()
            samples.append(Sample(route, due - start, now - due, status, sent - due))
            if after is not None and 200 <= status < 400:
                after(body, now)

        client.submit(client.encode(req.method, req.url, req.headers, req.json), done)

    async def fire(req: Request, due: float) -> None:
        assert isinstance(client, aiohttp.ClientSession)
        sent = loop.time()
        status = 0
        body = b""
        try:
            async with client.request(req.method, req.url, headers=req.headers, json=req.json) as resp:
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
            if outstanding() >= max_in_flight:
                dropped += 1
                samples.append(Sample(req.route, due - start, loop.time() - due, 0, 0.0))
                continue
            if lean:
                submit(req, due)
                continue
            task = loop.create_task(fire(req, due))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if i < total:
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
    if isinstance(client, Http1Client):
        if not await client.drained(drain_s):
            client.cancel_all()  # each recorded as status 0 with the time waited so far
    elif in_flight:
        _, pending = await asyncio.wait(set(in_flight), timeout=drain_s)
        for task in pending:
            task.cancel()  # fire() records the sample as status 0 with the time waited so far
        if pending:
            await asyncio.wait(pending, timeout=2.0)
    return PhaseResult(samples, rate, duration_s, meter.stop(len(samples)), dropped)


async def closed_loop(
    client: Client,
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
            if isinstance(client, Http1Client):
                status, _, _ = await client.request(req.method, req.url, req.headers, req.json)
            else:
                try:
                    async with client.request(
                        req.method, req.url, headers=req.headers, json=req.json
                    ) as resp:
                        await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError, OSError):
                    status = 0
            samples.append(Sample(req.route, sent - start, loop.time() - sent, status))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = loop.time() - start
    return PhaseResult(samples, 0.0, elapsed, meter.stop(len(samples)))
