"""Where a public request enters the gateway, and request ids.

``gateway_edge_middleware`` is the outermost layer of the public gateway: one spelling of the
path, a trace, a request id, the access log line, and on the way out, in one pass over the
response's headers, the request id, the security headers and what inner layers asked for (the
rate limit headers). One layer instead of four, each of which wrapped ``send`` and rewrote the
header list on every response: that was a measurable part of a cheap request's cost.
``request_id_middleware`` is the same request id for the internal services (service_app.py).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from twitterclone.gateway.headers import CSP, SECURITY_HEADER_PAIRS, page_policy
from twitterclone.gateway.paths import make_canonical
from twitterclone.logs import request_id_var
from twitterclone.remote.tracing import TraceParent, parse_traceparent, traceparent_var

REQUEST_ID_HEADER = "x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


access_log = logging.getLogger("twitterclone.access")
#: Probes and scrapes are not worth a log line each.
_QUIET_PATHS = frozenset({"/livez", "/readyz", "/metrics"})


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Give every request an id (kept from ``X-Request-ID`` when sane) and log one line per request.

    The line carries the request id and, through the log formatter, the trace id, so one
    request can be followed through every process it touches.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = incoming if incoming and _SANE.match(incoming) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)

        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            _log_access(scope, status, started)
            request_id_var.reset(token)

    return middleware


def _log_access(scope: Scope, status: int, started: float) -> None:
    """One access log line for a finished request (none for the probes of ``_QUIET_PATHS``)."""
    path = scope["path"]
    if path not in _QUIET_PATHS and access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "request",
            extra={
                "method": scope.get("method"),
                "path": path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )


#: Response headers an inner layer wants set on the request's answer (replacing any of theirs).
ResponseHeaders = Callable[[Scope], list[tuple[bytes, bytes]]]

_REQUEST_ID = REQUEST_ID_HEADER.encode()


def gateway_edge_middleware(app: ASGIApp, *, response_headers: Sequence[ResponseHeaders] = ()) -> ASGIApp:
    """Wrap the gateway: the outermost layer of every public request (see the module docstring).

    In: the path made canonical (gateway/paths.py), the W3C ``traceparent`` kept when valid or
    started (every hop inherits it), the request id kept from ``X-Request-ID`` when sane or made.
    Out: the request id, the security headers a handler did not set itself (gateway/headers.py),
    and the headers of ``response_headers``; one access log line per request. The request's
    deadline starts later, once its body has arrived (gateway/admission.py).
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        kind: str = scope["type"]
        if kind == "websocket":
            make_canonical(scope)
        if kind != "http":
            await app(scope, receive, send)
            return
        make_canonical(scope)
        incoming_id = incoming_trace = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if incoming_id is None:
                    incoming_id = value.decode("latin-1")
            elif name == b"traceparent" and incoming_trace is None:
                incoming_trace = value.decode("latin-1")
        rid, trace = _ids(incoming_id, incoming_trace)
        scope.setdefault("state", {})["request_id"] = rid
        rid_token = request_id_var.set(rid)
        trace_token = traceparent_var.set(trace)
        path = scope["path"]
        status = 500
        started = time.perf_counter()

        async def send_from_edge(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = [pair for source in response_headers for pair in source(scope)]
                message["headers"] = _finish(message.get("headers") or (), rid, page_policy(path), extra)
            await send(message)

        try:
            await app(scope, receive, send_from_edge)
        finally:
            _log_access(scope, status, started)
            traceparent_var.reset(trace_token)
            request_id_var.reset(rid_token)

    return middleware


def _ids(incoming_id: str | None, incoming_trace: str | None) -> tuple[str, str]:
    """The request id and the traceparent of a request: the client's when valid, else new ones
    (from one call for random bytes, not three)."""
    parsed = parse_traceparent(incoming_trace)
    rid = incoming_id if incoming_id and _SANE.match(incoming_id) else None
    if rid is not None and parsed is not None:
        return rid, str(parsed)
    # What ``secrets.token_hex(32)`` answers (both read os.urandom), without its three Python calls.
    fresh = os.urandom(32).hex()
    trace = str(parsed) if parsed is not None else str(TraceParent("00", fresh[:32], fresh[32:48], "01"))
    return rid or fresh[48:], trace


def _finish(
    headers: Iterable[tuple[bytes, bytes]], rid: str, policy: bytes | None, extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """A response's headers with the edge's: one pass over them, then the missing ones appended."""
    replaced = {name for name, _ in extra}
    replaced.add(_REQUEST_ID)
    present: set[bytes] = set()
    out: list[tuple[bytes, bytes]] = []
    for pair in headers:
        name = pair[0].lower()
        if name in replaced:
            continue
        present.add(name)
        out.append(pair)
    out.append((_REQUEST_ID, rid.encode("latin-1")))
    for pair in SECURITY_HEADER_PAIRS:
        if pair[0] not in present:
            out.append(pair)
    if policy is not None and CSP not in present:
        out.append((CSP, policy))
    out.extend(extra)
    return out
