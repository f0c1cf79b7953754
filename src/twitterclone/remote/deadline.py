"""Request deadlines that travel across hops.

The deadline is an absolute unix time in milliseconds, held in a contextvar for the current
request and sent to the next hop in the ``x-twitterclone-deadline`` header. Absolute wall-clock
time (not a relative budget) means queueing time on the way is accounted for; the price is that
hosts need synchronised clocks (NTP), which is assumed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

#: The header that carries the absolute deadline (unix ms) to the next hop.
DEADLINE_HEADER = "x-twitterclone-deadline"

#: The current request's deadline in unix ms, or None when nobody set one.
deadline_var: ContextVar[int | None] = ContextVar("twitterclone_deadline", default=None)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def now_ms() -> int:
    """The current unix time in milliseconds."""
    return int(time.time() * 1000)


def current_deadline_ms() -> int | None:
    """The deadline of the current request (unix ms), if any."""
    return deadline_var.get()


def remaining_s() -> float | None:
    """Seconds left before the current deadline (≤ 0 when passed), or None without a deadline."""
    deadline = deadline_var.get()
    if deadline is None:
        return None
    return (deadline - now_ms()) / 1000


@contextmanager
def deadline_scope(seconds: float) -> Iterator[int]:
    """Run the block with a deadline ``seconds`` from now; an earlier inherited deadline wins.

    Yields the effective deadline (unix ms).
    """
    proposed = now_ms() + int(seconds * 1000)
    inherited = deadline_var.get()
    effective = proposed if inherited is None else min(inherited, proposed)
    token = deadline_var.set(effective)
    try:
        yield effective
    finally:
        deadline_var.reset(token)


def format_deadline(deadline_ms: int) -> str:
    """The header value for a deadline."""
    return str(deadline_ms)


def parse_deadline(value: str | bytes | None) -> int | None:
    """Read a header value; anything that is not a positive integer is ignored (None)."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text.isdigit():
        return None
    parsed = int(text)
    return parsed if parsed > 0 else None


def deadline_middleware(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: take the deadline of an incoming request from its header.

    The deadline is set for the duration of the request so every port call it makes inherits it.
    Usable as a Litestar middleware (``middleware=[deadline_middleware]``).
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        header = DEADLINE_HEADER.encode()
        deadline: int | None = None
        for name, value in scope.get("headers", ()):
            if name.lower() == header:
                deadline = parse_deadline(value)
                break
        if deadline is None:
            await app(scope, receive, send)
            return
        token = deadline_var.set(deadline)
        try:
            await app(scope, receive, send)
        finally:
            deadline_var.reset(token)

    return middleware
