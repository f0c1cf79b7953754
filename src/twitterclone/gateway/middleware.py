"""Request ids: taken from ``X-Request-ID`` when sane, made otherwise, echoed on the response."""

from __future__ import annotations

import logging
import re
import secrets
import time

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from twitterclone.logs import request_id_var
from twitterclone.remote.tracing import new_traceparent, parse_traceparent, traceparent_var

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
            request_id_var.reset(token)

    return middleware


def edge_middleware(app: ASGIApp) -> ASGIApp:
    """Where a public request enters: give it a trace that every hop inherits.

    The W3C ``traceparent`` is kept when the client sent a valid one, started otherwise. The
    request's deadline starts later, once its body has arrived (see gateway/admission.py).
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                incoming = value.decode("latin-1")
                break
        parsed = parse_traceparent(incoming)
        trace = traceparent_var.set(str(parsed) if parsed else new_traceparent())
        try:
            await app(scope, receive, send)
        finally:
            traceparent_var.reset(trace)

    return middleware
