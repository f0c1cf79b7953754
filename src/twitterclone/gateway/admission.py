"""Admission control: past its capacity the gateway answers 503 at once instead of slowing down.

Without it an overloaded process accepts every request, each one gets a thinner slice of the
event loop, and every latency grows without bound until clients time out: the benchmark saw
the monolith collapse this way. Here at most ``max_active`` requests run at a time; the next
ones wait in a FIFO queue, and one that cannot start within ``max_wait_s`` (or finds the queue
full) gets a ``503 /problems/overloaded`` with ``Retry-After``, costing microseconds. So the
requests that are served keep their latency, and the excess is refused quickly and visibly.

A request takes its slot only once its whole body has arrived: the body is read first, within
``BodyLimits`` (a total time, extended by the bytes received, and a size), so a client that
announces a body and sends it a byte a second costs a connection and a coroutine, never a slot,
and is answered ``408`` when its time is up. Once admitted, a request runs within the public
deadline (``TWITTERCLONE_REQUEST_TIMEOUT_S``): past it the work is cancelled and the answer is a
``504 /problems/deadline-exceeded``. A request that turns into a long-lived stream (SSE) calls
``hold_as_stream``: it gives its slot back and leaves the deadline, and is counted and capped by
the stream gate instead (gateway/streams.py).

Probes and metrics (``/livez``, ``/readyz``, ``/metrics``) and internal port calls are never
queued: an orchestrator must see a busy process as alive, and a service call is part of a public
request that was already admitted somewhere.

What it cannot see: a request waiting inside the server before the application is called. When
the worker's one core is saturated by CPU-bound requests (the monolith at its ceiling), granian
holds the backlog in its Rust runtime, waiting for the GIL, and the application only ever sees
a few requests at once; the queue then grows there (BENCHMARKS.md measures it). The gate bites
where requests pile up inside the application: waiting on slow downstream services or on the
database, which is what turns a slow dependency into a gateway that holds thousands of requests.
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge

from twitterclone.gateway.problems import send_problem
from twitterclone.remote.deadline import deadline_scope, deadline_var, remaining_s

#: Paths that bypass admission (exact, or a prefix ending in "/"). Port calls never reach this
#: (public) app: they are served on internal listeners, which have no admission of their own.
EXEMPT = ("/livez", "/readyz", "/metrics")
#: EXEMPT split once into its exact paths and its prefixes (every request asks ``_exempt``).
_EXEMPT_PATHS = frozenset(p for p in EXEMPT if not p.endswith("/"))
_EXEMPT_PREFIXES = tuple(p for p in EXEMPT if p.endswith("/"))

SHED = Counter("twitterclone_requests_shed_total", "Requests refused with 503 because the process was full.")
QUEUED = Gauge("twitterclone_requests_queued", "Requests waiting for a slot to start.")
BODY_TIMEOUTS = Counter(
    "twitterclone_request_body_timeouts_total", "Requests answered 408 because their body came too slowly."
)
DEADLINES_EXCEEDED = Counter(
    "twitterclone_requests_deadline_exceeded_total", "Requests cancelled past their deadline."
)


class Admission:
    """At most ``max_active`` requests at once; a FIFO queue of at most ``max_queue`` behind them."""

    def __init__(self, max_active: int, max_wait_s: float, max_queue: int) -> None:
        if max_active < 1:
            raise ValueError("max_active must be at least 1")
        self.max_active = max_active
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.active = 0
        self.shed = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self) -> bool:
        """Take a slot (True), or give up (False) when the queue is full or the wait too long."""
        if self.active < self.max_active and not self._waiters:
            self.active += 1
            return True
        if len(self._waiters) >= self.max_queue or self.max_wait_s <= 0:
            return self._refuse()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        QUEUED.set(len(self._waiters))
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.max_wait_s)
        except TimeoutError:
            if waiter.done():  # handed a slot just as the wait ran out: keep it
                return True
            waiter.cancel()
            return self._refuse()
        except asyncio.CancelledError:  # the client went away while waiting
            if waiter.done() and not waiter.cancelled():
                self.release()  # it had just been handed a slot: pass it on
            waiter.cancel()
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            QUEUED.set(len(self._waiters))
        return True

    def release(self) -> None:
        """Give the slot to the oldest waiter still waiting, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: ``active`` stays the same
                return
        self.active -= 1

    def _refuse(self) -> bool:
        self.shed += 1
        SHED.inc()
        return False


@dataclass(frozen=True, kw_only=True)
class BodyLimits:
    """How a request body must arrive before the request may take a slot.

    The whole body within ``timeout_s`` plus one second per ``min_rate_bytes_s`` bytes received;
    past ``max_bytes`` (the largest body any route accepts) reading stops and the route refuses it.

    Each request's time is drawn between ``(1 - jitter) * timeout_s`` and ``timeout_s``: slow
    bodies that an attacker starts together would otherwise all time out together, and the
    408s, their log lines and the attacker's reconnections would reach the event loop as one
    burst every ``timeout_s``, a periodic stall for the requests that share it (the slowloris
    run's p99). Spread, the same work costs each honest request little.
    """

    max_bytes: int
    timeout_s: float
    min_rate_bytes_s: int
    jitter: float = 0.2


@dataclass
class _Lease:
    """What an admitted request holds: its slot, the timer of its deadline, work to do at its end."""

    admission: Admission
    timer: asyncio.Timeout
    held: bool = True
    at_end: list[Callable[[], None]] = field(default_factory=list)

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self.admission.release()


_LEASE = "twitterclone.admission_lease"


def hold_as_stream(scope: Scope, at_end: Callable[[], None]) -> None:
    """Turn the running request into a long-lived stream: give its slot back and lift its deadline.

    ``at_end`` runs once the response is over, however it ends (done, client gone, cancelled).
    Called by a stream's handler after it has authorised and counted the stream.
    """
    lease: _Lease | None = scope.get("state", {}).get(_LEASE)
    if lease is None:  # not admitted through the middleware (an exempt path, a unit test)
        raise RuntimeError("hold_as_stream needs a request admitted by admission_middleware")
    lease.give_back()
    lease.timer.reschedule(None)
    lease.at_end.append(at_end)
    deadline_var.set(None)  # the stream's own calls set their own deadlines


def admission_middleware(
    app: ASGIApp, admission: Admission, *, request_timeout_s: float, body: BodyLimits
) -> ASGIApp:
    """Wrap ``app``: read the body (408), then take a slot (503), then run within the deadline (504)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _exempt(scope["path"]):  # type: ignore[comparison-overlap]
            with deadline_scope(request_timeout_s):
                await app(scope, receive, send)
            return
        replayed = await _read_body(scope, receive, send, body) if _has_body(scope) else receive
        if replayed is None:  # answered 408, or the client went away
            return
        with deadline_scope(request_timeout_s):
            started = time.monotonic()
            if not await admission.acquire():
                await _overloaded(scope, send, admission, time.monotonic() - started)
                return
            await _run_admitted(app, scope, replayed, send, admission)

    return middleware


async def _read_body(scope: Scope, receive: Receive, send: Send, limits: BodyLimits) -> Receive | None:
    """A receive that replays the body read, or None after a 408 (or when the client disconnected).

    A body larger than any route accepts is not read further: the app gets what has come (the
    routes refuse it with their own 413 on that, or on its declared length) and nothing waits.
    """
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
        return receive
    loop = asyncio.get_running_loop()
    started = loop.time()
    timeout_s = allotted_s(limits)
    chunks: list[bytes] = []
    size = 0
    while True:
        allowed = timeout_s + size / limits.min_rate_bytes_s - (loop.time() - started)
        try:
            async with asyncio.timeout(max(allowed, 0)):
                message = await receive()
        except TimeoutError:
            BODY_TIMEOUTS.inc()
            took = loop.time() - started
            detail = f"the request body did not arrive in time ({size} bytes in {took:.0f} s)"
            await send_problem(scope, send, 408, "request-timeout", detail, [(b"connection", b"close")])
            return None
        if message["type"] != "http.request":  # http.disconnect
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
        if not more or size > limits.max_bytes:
            return _replay(b"".join(chunks), more, receive)


def allotted_s(limits: BodyLimits) -> float:
    """The time one request's body gets before its first byte counts: ``timeout_s``, less a
    random share of at most ``jitter`` (see BodyLimits)."""
    return limits.timeout_s * (1.0 - limits.jitter * random.random())


def _replay(body: bytes, more_body: bool, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then reads on from the client."""
    pending = True

    async def replayed() -> Any:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": more_body}
        return await receive()

    return replayed


async def _run_admitted(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, admission: Admission
) -> None:
    """Run an admitted request within its deadline; give its slot back when it ends."""
    responded = False

    async def tracking_send(message: Message) -> None:
        nonlocal responded
        if message["type"] == "http.response.start":
            responded = True
        await send(message)

    lease: _Lease | None = None
    try:
        async with asyncio.timeout(max(remaining_s() or 0.0, 0.0)) as timer:
            lease = _Lease(admission, timer)
            scope.setdefault("state", {})[_LEASE] = lease
            await app(scope, receive, tracking_send)
    except TimeoutError:
        if not timer.expired():
            raise  # the app's own timeout, not the deadline
        DEADLINES_EXCEEDED.inc()
        if not responded:  # otherwise the response is cut short: the connection tells the client
            detail = "the request ran past its deadline and was cancelled; retry later"
            await send_problem(scope, send, 504, "deadline-exceeded", detail, [(b"retry-after", b"1")])
    finally:
        if lease is None:
            admission.release()
        else:
            lease.give_back()
            for end in lease.at_end:
                end()


def _has_body(scope: Scope) -> bool:
    """Whether the request may carry a body: over HTTP/1.x only with a length above zero or a
    chunked one (without either, it has none and nothing is left to wait for); always over HTTP/2."""
    if scope.get("http_version") not in ("1.1", "1.0"):
        return True
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _exempt(path: str) -> bool:
    return path in _EXEMPT_PATHS or path.startswith(_EXEMPT_PREFIXES)


async def _overloaded(scope: Scope, send: Send, admission: Admission, waited_s: float) -> None:
    detail = (
        f"the server is at capacity ({admission.max_active} requests running, "
        f"waited {waited_s * 1000:.0f} ms for a slot); retry after a second"
    )
    await send_problem(scope, send, 503, "overloaded", detail, [(b"retry-after", b"1")])
