"""One load-generator process of ``twitterclone bench connections``: thousands of simulated users.

Each simulated user is one HTTP/1.1 keep-alive connection to the gateway, opened from one of several
source loopback addresses, acting as one seeded account. The client is a small asyncio ``Protocol``
(request bytes out, status line + headers + a ``Content-Length`` or chunked body in, parsed by
``http1.parse_response``): an idle
connection costs about 3 KiB of this process's memory, against about 13 KiB with aiohttp and 32 KiB
with httpx (whose pool also took 28 s to open 500 connections); measured on 5,000 connections.

A user acts at exponentially distributed think times (a Poisson process per user, so the users
together send ``users / think time`` actions per second). An action is due at its scheduled time
whatever happened before: it waits on the user's connection while an earlier request is still
being answered (HTTP/1.1 carries one at a time), and its latency counts from the scheduled time, so
a stalled server shows up as latency and never as a pause in sending (no coordinated omission).

The parent process drives this one through a pipe: ``connect`` (open and verify every connection
with one ``GET /livez``), ``phase`` (act for a while at a think time), ``probe`` (are the
connections still open and answering?) and ``stop``. It reports progress and results back as
plain, picklable tuples and dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import random
import resource
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from twitterclone_bench.http1 import CACHE_LIMIT, parse_response
from twitterclone_bench.load import Request
from twitterclone_bench.seed import Actor, Seeded
from twitterclone_bench.workload import Workload

#: Descriptors a generator keeps for itself (the pipe, epoll, the interpreter's files) beyond its users.
FD_RESERVE = 64

# connection states
CLOSED, CONNECTING, OPEN = 0, 1, 2


@dataclass(frozen=True)
class WorkerSpec:
    """What one generator process simulates, and against what."""

    index: int
    host: str  # a numeric address: asyncio resolves it without a thread
    port: int
    base_url: str
    first_user: int
    users: int
    source_addresses: tuple[str, ...]  # empty: let the kernel choose
    seeded: Seeded
    mix: dict[str, float]
    seed: int
    timeout_s: float
    connect_concurrency: int
    connect_timeout_s: float


@dataclass(frozen=True)
class PhaseSpec:
    """Act for ``duration_s`` from the wall-clock time ``start_wall`` with mean think time ``think_s``."""

    name: str
    start_wall: float
    duration_s: float
    think_s: float
    requests_per_action: int
    drain_s: float


@dataclass(slots=True)
class Pending:
    """A request due at loop time ``due`` (load), or a ``GET /livez`` check (``probe``)."""

    due: float
    route: str
    payload: bytes
    after: Callable[[bytes, float], None] | None = None
    probe: asyncio.Future[str] | None = None
    sent: float = 0.0
    timeout_s: float | None = None  # None: the run's --timeout


@dataclass(slots=True, eq=False)  # identity: users go in sets
class User:
    """One simulated user: its connection, its identity, what it waits for."""

    number: int
    actor: Actor
    source: str
    state: int = CLOSED
    proto: _Conn | None = None
    current: Pending | None = None
    queue: deque[Pending] = field(default_factory=deque)
    timer: asyncio.TimerHandle | None = None
    closed_reason: str = ""


class _Conn(asyncio.Protocol):
    """The transport-level half of a user: one per TCP connection, so a stale one can be told apart."""

    __slots__ = ("buf", "gen", "transport", "user")

    def __init__(self, gen: UserGenerator, user: User) -> None:
        self.gen = gen
        self.user = user
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self.gen.on_data(self)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.gen.on_lost(self, exc)


def os_reason(exc: BaseException) -> str:
    """A short, groupable reason for a failed connect: the errno name and its text."""
    if isinstance(exc, TimeoutError):
        return "connect timeout"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{errno.errorcode.get(exc.errno, str(exc.errno))} ({os.strerror(exc.errno)})"
    return f"{type(exc).__name__}: {exc}"[:120]


def rss_mib(pid: int | None = None) -> float | None:
    """Resident memory of a process (this one by default), MiB."""
    try:
        with open(f"/proc/{pid or os.getpid()}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def raise_nofile(wanted: int) -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (at most the hard limit); the limits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


class UserGenerator:
    """The users of one process, their connections and the current phase."""

    def __init__(self, spec: WorkerSpec, pipe: Connection) -> None:
        self.spec = spec
        self.pipe = pipe
        self.loop = asyncio.get_running_loop()
        self.rng = random.Random(spec.seed * 1_000_003 + spec.index)
        self.work = Workload(spec.base_url, spec.seeded, spec.mix, seed=spec.seed * 7919 + spec.index)
        actors = spec.seeded.actors
        sources = spec.source_addresses or ("",)
        self.users = [
            User(n, actors[n % len(actors)], sources[n % len(sources)])
            for n in range(spec.first_user, spec.first_user + spec.users)
        ]
        host = spec.host if ":" not in spec.host else f"[{spec.host}]"
        self.host_header = f"{host}:{spec.port}"
        self.busy: set[User] = set()  # users with a request on the wire
        self.waiting = 0  # requests queued or on the wire
        self.commands: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.livez = self._head("GET", "/livez", None) + b"\r\n"
        self._encoded: dict[tuple[object, ...], bytes] = {}
        # phase state
        self.phase: PhaseSpec | None = None
        self.phase_start = 0.0
        self.phase_end = 0.0
        self.samples: list[tuple[str, float, float, int, float]] = []
        self.errors: list[tuple[float, str]] = []  # (scheduled, kind) of each failed request
        self.tick_latencies: list[float] = []
        self.tick_done = 0
        self.tick_errors = 0
        self.scheduled = 0
        # connection events, cumulative
        self.events: Counter[str] = Counter()

    # -- plumbing -------------------------------------------------------------------------------

    def send(self, *msg: Any) -> None:
        self.pipe.send(msg)

    def _on_pipe(self) -> None:
        try:
            while self.pipe.poll():
                self.commands.put_nowait(self.pipe.recv())
        except (EOFError, OSError):
            self.loop.remove_reader(self.pipe.fileno())
            self.commands.put_nowait(("stop",))

    async def serve(self) -> None:
        soft, hard = raise_nofile(self.spec.users + FD_RESERVE)
        self.send("ready", {"pid": os.getpid(), "rlimit_nofile": [soft, hard], "rss_mib": rss_mib()})
        if soft < self.spec.users + FD_RESERVE:
            self.send(
                "fatal",
                f"generator {self.spec.index} needs {self.spec.users + FD_RESERVE} descriptors for "
                f"{self.spec.users} connections but RLIMIT_NOFILE is {soft} (hard {hard})",
            )
            return
        self.loop.add_reader(self.pipe.fileno(), self._on_pipe)
        sweeper = self.loop.create_task(self._sweep_timeouts())
        try:
            while True:
                cmd = await self.commands.get()
                if cmd[0] == "connect":
                    await self.connect_all()
                elif cmd[0] == "phase":
                    await self.run_phase(cmd[1])
                elif cmd[0] == "probe":
                    await self.probe_all(cmd[1])
                elif cmd[0] == "stop":
                    break
        finally:
            sweeper.cancel()
            for u in self.users:
                if u.proto is not None and u.proto.transport is not None:
                    u.proto.transport.abort()
            self.loop.remove_reader(self.pipe.fileno())

    def _head(self, method: str, path: str, headers: dict[str, str] | None) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}", "Accept: application/json"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n").encode("latin-1")

    def encode(self, req: Request) -> bytes:
        """The request's bytes; bodiless ones (all but posts) encoded once per method, URL and token."""
        if req.json is None:
            key = (req.method, req.url, *req.headers.items()) if req.headers else (req.method, req.url)
            payload = self._encoded.get(key)
            if payload is None:
                if len(self._encoded) >= CACHE_LIMIT:
                    self._encoded.clear()
                payload = self._encoded[key] = self._encode(req)
            return payload
        return self._encode(req)

    def _encode(self, req: Request) -> bytes:
        base = self.spec.base_url
        path = req.url[len(base) :] if req.url.startswith(base) else req.url
        head = self._head(req.method, path, req.headers)
        if req.json is None:
            extra = b"Content-Length: 0\r\n" if req.method in ("POST", "PUT", "PATCH") else b""
            return head + extra + b"\r\n"
        body = json.dumps(req.json, separators=(",", ":")).encode()
        return head + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body

    def open_count(self) -> int:
        return sum(1 for u in self.users if u.state == OPEN)

    # -- connections ----------------------------------------------------------------------------

    async def _open(self, user: User) -> str | None:
        """Open the user's connection; None, or why it failed."""
        user.state = CONNECTING
        conn = _Conn(self, user)
        user.proto = conn
        local = (user.source, 0) if user.source else None
        try:
            await asyncio.wait_for(
                self.loop.create_connection(lambda: conn, self.spec.host, self.spec.port, local_addr=local),
                self.spec.connect_timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            if user.proto is conn:
                user.state = CLOSED
                user.proto = None
                user.closed_reason = os_reason(exc)
            return os_reason(exc)
        if user.proto is not conn:  # lost again before we got here
            return "closed as soon as it opened"
        user.state = OPEN
        return None

    def _probe(self, user: User, timeout_s: float | None = None) -> asyncio.Future[str]:
        fut: asyncio.Future[str] = self.loop.create_future()
        user.queue.append(Pending(self.loop.time(), "livez", self.livez, probe=fut, timeout_s=timeout_s))
        self.waiting += 1
        self.pump(user)
        return fut

    async def connect_all(self) -> None:
        """Open every connection (a bounded number at a time) and check each with one ``GET /livez``."""
        t0 = time.monotonic()
        sem = asyncio.Semaphore(self.spec.connect_concurrency)
        failures: Counter[str] = Counter()
        opened = verified = 0

        async def one(user: User) -> None:
            nonlocal opened, verified
            async with sem:
                reason = await self._open(user)
                if reason is not None:
                    failures[reason] += 1
                    return
                opened += 1
                outcome = await self._probe(user)
                if outcome == "ok":
                    verified += 1
                else:
                    failures[f"opened, but GET /livez: {outcome}"] += 1

        async def report() -> None:
            while True:
                self.send(
                    "progress", {"opened": opened, "verified": verified, "failed": sum(failures.values())}
                )
                await asyncio.sleep(0.5)

        reporter = self.loop.create_task(report())
        try:
            await asyncio.gather(*(one(u) for u in self.users))
        finally:
            reporter.cancel()
        self.send(
            "connected",
            {
                "opened": opened,
                "verified": verified,
                "failed": dict(failures),
                "seconds": round(time.monotonic() - t0, 2),
                "rss_mib": rss_mib(),
            },
        )

    async def probe_all(self, timeout_s: float) -> None:
        """Without reconnecting: which connections are still open and answer ``GET /livez``?"""
        sem = asyncio.Semaphore(self.spec.connect_concurrency)
        outcome: Counter[str] = Counter()

        async def one(user: User) -> None:
            if user.state != OPEN:
                outcome[f"closed before the check: {user.closed_reason or 'never opened'}"] += 1
                return
            async with sem:
                result = await self._probe(user, timeout_s)
                outcome["open, answered GET /livez" if result == "ok" else f"open, GET /livez: {result}"] += 1

        await asyncio.gather(*(one(u) for u in self.users))
        self.send("probed", {"outcome": dict(outcome), "events": dict(self.events), "rss_mib": rss_mib()})

    def _reconnect(self, user: User) -> None:
        user.state = CONNECTING  # now, so that nothing else starts a second attempt

        async def go() -> None:
            self.events["reconnects"] += 1
            reason = await self._open(user)
            if reason is None:
                self.pump(user)
                return
            self.events["reconnect failures"] += 1
            while user.queue:
                self._finish(user, user.queue.popleft(), 0, b"", f"reconnect failed: {reason}")

        self.loop.create_task(go())

    # -- requests -------------------------------------------------------------------------------

    def pump(self, user: User) -> None:
        """Put the user's next queued request on the wire, when the connection is free."""
        if user.current is not None or not user.queue:
            return
        if user.state == CLOSED:
            self._reconnect(user)
            return
        if user.state != OPEN or user.proto is None or user.proto.transport is None:
            return
        item = user.queue.popleft()
        item.sent = self.loop.time()
        user.current = item
        self.busy.add(user)
        user.proto.transport.write(item.payload)

    def on_data(self, conn: _Conn) -> None:
        user = conn.user
        if user.proto is not conn:
            return
        while conn.buf:
            try:
                parsed = parse_response(conn.buf)
            except ValueError as exc:
                self._drop(user, f"malformed response: {exc}"[:100], "client closed (malformed response)")
                return
            if parsed is None:
                return
            status, used, body, close = parsed
            del conn.buf[:used]
            item = user.current
            if item is None:
                self._drop(user, "", "client closed (unsolicited response)")
                return
            user.current = None
            self.busy.discard(user)
            self._finish(user, item, status, body, None)
            if close:
                self._drop(user, "", "server asked to close (Connection: close)")
                return
            self.pump(user)

    def on_lost(self, conn: _Conn, exc: Exception | None) -> None:
        user = conn.user
        if user.proto is not conn:
            return  # a connection we already gave up on
        user.proto = None
        user.state = CLOSED
        reason = "server closed the connection" if exc is None else f"connection lost: {os_reason(exc)}"
        user.closed_reason = reason
        self.events[reason] += 1
        if user.current is not None:
            item, user.current = user.current, None
            self.busy.discard(user)
            self._finish(user, item, 0, b"", "connection closed mid-request")
        if user.queue:
            self._reconnect(user)

    def _drop(self, user: User, error: str, why: str) -> None:
        """Close the user's connection from this side; fail the request on the wire with ``error``."""
        conn = user.proto
        user.proto = None
        user.state = CLOSED
        user.closed_reason = why
        self.events[why] += 1
        if conn is not None and conn.transport is not None:
            conn.transport.abort()
        if user.current is not None:
            item, user.current = user.current, None
            self.busy.discard(user)
            self._finish(user, item, 0, b"", error or why)
        if user.queue:
            self._reconnect(user)

    def _finish(self, user: User, item: Pending, status: int, body: bytes, error: str | None) -> None:
        done = self.loop.time()
        self.waiting -= 1
        ok = error is None and 200 <= status < 400
        if item.probe is not None:
            if not item.probe.done():
                item.probe.set_result("ok" if ok else (error or f"http {status}"))
            return
        if self.phase is None:
            return
        self.samples.append(
            (item.route, item.due - self.phase_start, done - item.due, status, max(0.0, item.sent - item.due))
        )
        self.tick_latencies.append(done - item.due)
        self.tick_done += 1
        if not ok:
            self.tick_errors += 1
            self.errors.append((item.due - self.phase_start, error or f"http {status}"))
        elif item.after is not None:
            item.after(body, done)

    async def _sweep_timeouts(self) -> None:
        """Give up on requests unanswered for ``timeout_s`` (the connection cannot be reused after that)."""
        while True:
            await asyncio.sleep(0.2)
            now = self.loop.time()
            default = self.spec.timeout_s
            for user in [
                u
                for u in self.busy
                if u.current is not None and now - u.current.sent > (u.current.timeout_s or default)
            ]:
                self._drop(user, "timeout", "client closed (request timed out)")

    # -- phases ---------------------------------------------------------------------------------

    def _act(self, user: User, at: float) -> None:
        """The user acts (scheduled at loop time ``at``), then thinks until the next action."""
        phase = self.phase
        if phase is None or at >= self.phase_end:
            return
        for _ in range(phase.requests_per_action):
            req = self.work.build(self.work.route_at(0), user.actor)
            user.queue.append(Pending(at, req.route, self.encode(req), req.after))
            self.waiting += 1
            self.scheduled += 1
        self.pump(user)
        nxt = at + self.rng.expovariate(1.0 / phase.think_s)
        user.timer = self.loop.call_at(nxt, self._act, user, nxt) if nxt < self.phase_end else None

    async def run_phase(self, phase: PhaseSpec) -> None:
        loop = self.loop
        self.phase = phase
        self.phase_start = loop.time() + (phase.start_wall - time.time())
        self.phase_end = self.phase_start + phase.duration_s
        self.samples, self.errors, self.scheduled = [], [], 0
        self.tick_latencies, self.tick_done, self.tick_errors = [], 0, 0
        events_before = Counter(self.events)
        for user in self.users:  # memoryless: starting every user with a fresh wait is stationary
            first = self.phase_start + self.rng.expovariate(1.0 / phase.think_s)
            user.timer = loop.call_at(first, self._act, user, first) if first < self.phase_end else None
        await asyncio.sleep(max(0.0, self.phase_start - loop.time()))
        cpu0 = time.process_time()
        wall0 = loop.time()
        while loop.time() < self.phase_end + phase.drain_s:
            await asyncio.sleep(min(1.0, max(0.01, self.phase_end + phase.drain_s - loop.time())))
            self._tick(phase)
            if loop.time() >= self.phase_end and self.waiting == 0:
                break
        for user in self.users:
            if user.timer is not None:
                user.timer.cancel()
                user.timer = None
            if user.current is not None:
                self._drop(user, "timeout", "client closed (request timed out)")
            while user.queue:
                self._finish(user, user.queue.popleft(), 0, b"", "not sent before the phase ended")
        self._tick(phase)
        cpu = time.process_time() - cpu0
        wall = loop.time() - wall0
        self.phase = None
        self.send(
            "phase_done",
            {
                "samples": self.samples,
                "errors": self.errors,
                "scheduled": self.scheduled,
                "events": dict(self.events - events_before),
                "open": self.open_count(),
                "cpu_s": round(cpu, 3),
                "wall_s": round(wall, 3),
                "rss_mib": rss_mib(),
            },
        )
        self.samples = []

    def _tick(self, phase: PhaseSpec) -> None:
        self.send(
            "tick",
            {
                "t": round(self.loop.time() - self.phase_start, 2),
                "done": self.tick_done,
                "errors": self.tick_errors,
                "latencies": self.tick_latencies,
                "open": self.open_count(),
                "waiting": self.waiting,
                "scheduled": self.scheduled,
            },
        )
        self.tick_latencies, self.tick_done, self.tick_errors = [], 0, 0


def worker_main(spec: WorkerSpec, pipe: Connection) -> None:
    """Entry point of a generator process (``multiprocessing``, spawn)."""

    async def main() -> None:
        await UserGenerator(spec, pipe).serve()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except BaseException:
        with contextlib.suppress(OSError):
            pipe.send(("fatal", traceback.format_exc()))
        raise
