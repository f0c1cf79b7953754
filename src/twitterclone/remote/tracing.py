"""W3C Trace Context (``traceparent``): parse, start, and derive child spans for outgoing calls."""

from __future__ import annotations

import secrets
from typing import NamedTuple

from twitterclone.logs import traceparent_var as traceparent_var
from twitterclone.remote.deadline import ASGIApp, Receive, Scope, Send

TRACEPARENT_HEADER = "traceparent"

_HEX = frozenset("0123456789abcdef")


class TraceParent(NamedTuple):
    """The four fields of a ``traceparent`` header (version 00)."""

    version: str
    trace_id: str
    parent_id: str
    flags: str

    def __str__(self) -> str:
        return f"{self.version}-{self.trace_id}-{self.parent_id}-{self.flags}"


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and set(text) <= _HEX


def parse_traceparent(value: str | None) -> TraceParent | None:
    """A valid header as its fields, else None (the spec says: ignore an invalid one)."""
    if not value:
        return None
    parts = value.strip().split("-")
    if len(parts) < 4:
        return None
    version, trace_id, parent_id, flags = parts[:4]
    if not (_is_hex(version, 2) and _is_hex(trace_id, 32) and _is_hex(parent_id, 16) and _is_hex(flags, 2)):
        return None
    if version == "ff" or (version == "00" and len(parts) != 4):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return TraceParent("00", trace_id, parent_id, flags)


def new_traceparent(*, sampled: bool = True) -> str:
    """A fresh trace with a fresh span."""
    return str(TraceParent("00", secrets.token_hex(16), secrets.token_hex(8), "01" if sampled else "00"))


def child_traceparent(parent: str | None) -> str:
    """The header for an outgoing call: same trace, a new span id (a new trace if ``parent`` is bad)."""
    parsed = parse_traceparent(parent)
    if parsed is None:
        return new_traceparent()
    return str(parsed._replace(parent_id=secrets.token_hex(8)))


def traceparent_middleware(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: keep the incoming ``traceparent`` (if valid) for the request's outgoing calls."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        value: str | None = None
        for name, raw in scope.get("headers", ()):
            if name.lower() == b"traceparent":
                value = raw.decode("latin-1")
                break
        parsed = parse_traceparent(value)
        if parsed is None:
            await app(scope, receive, send)
            return
        token = traceparent_var.set(str(parsed))
        try:
            await app(scope, receive, send)
        finally:
            traceparent_var.reset(token)

    return middleware
