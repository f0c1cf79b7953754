"""Admission control: past its capacity the gateway answers 503 at once instead of slowing down.

Without it an overloaded process accepts every request, each one gets a thinner slice of the
event loop, and every latency grows without bound until clients time out: the benchmark saw
the monolith collapse this way. Here at most ``max_active`` requests run at a time; the next
ones wait in a FIFO queue, and one that cannot start within ``max_wait_s`` (or finds the queue
full) gets a ``503 /problems/overloaded`` with ``Retry-After``, costing microseconds. So the
requests that are served keep their latency, and the excess is refused quickly and visibly.

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
import time

import msgspec
from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import Counter, Gauge

#: Paths that bypass admission (exact, or a prefix ending in "/").
EXEMPT = ("/livez", "/readyz", "/metrics", "/_port/")

SHED = Counter("twitterclone_requests_shed_total", "Requests refused with 503 because the process was full.")
QUEUED = Gauge("twitterclone_requests_queued", "Requests waiting for a slot to start.")

_encoder = msgspec.json.Encoder()


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


def admission_middleware(app: ASGIApp, admission: Admission) -> ASGIApp:
    """Wrap ``app`` so that HTTP requests past the capacity get a fast 503 problem."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _exempt(scope["path"]):  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        started = time.monotonic()
        if not await admission.acquire():
            await _overloaded(send, admission, time.monotonic() - started)
            return
        try:
            await app(scope, receive, send)
        finally:
            admission.release()

    return middleware


def _exempt(path: str) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in EXEMPT)


async def _overloaded(send: Send, admission: Admission, waited_s: float) -> None:
    body = _encoder.encode(
        {
            "type": "/problems/overloaded",
            "title": "Service Unavailable",
            "status": 503,
            "detail": (
                f"the server is at capacity ({admission.max_active} requests running, "
                f"waited {waited_s * 1000:.0f} ms for a slot); retry after a second"
            ),
        }
    )
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
