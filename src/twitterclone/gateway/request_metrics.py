"""Per-route request metrics on ``/metrics``: counts, durations, requests in flight, errors.

The same four families, names, labels and placement as Litestar's Prometheus plugin, which this
replaces (``PrometheusConfig(prefix="twitterclone", group_path=True)``): the ops view
(gateway/ops/readings.py), ``bench scale`` and any Prometheus server read them unchanged.

- ``twitterclone_requests_total{method,path,status_code,app_name}``;
- ``twitterclone_request_duration_seconds{method,path,status_code,app_name}`` (a histogram with
  prometheus_client's default buckets: from entering the route to its last body message);
- ``twitterclone_requests_in_progress{method,path,status_code,app_name}`` (``status_code`` is
  always ``200`` there: the plugin's labels before the answer is known);
- ``twitterclone_requests_error_total{...}``: the answers with a status of 500 or more.

``path`` is the route's template (``/api/users/{user_id:str}/tweets``), ``method`` the HTTP
method or ``websocket``. It runs where the plugin ran, as an app middleware, i.e. in each
route's own stack after routing: unrouted requests (404, 405) are not counted, and a handler's
exception is already an answer when it passes (its status counted).

Why not the plugin: per request it built a ``Request`` and its URL, wrapped ``send`` with
``functools.wraps`` and called ``labels()`` four times (each hashing and validating the label
values). Here the label children of a (method, route, status) are looked up once and kept.
"""

from __future__ import annotations

import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

_LABELS = ("method", "path", "status_code", "app_name")

REQUESTS = Counter("twitterclone_requests_total", "Total requests", _LABELS)
DURATION = Histogram("twitterclone_request_duration_seconds", "Request duration, in seconds", _LABELS)
IN_PROGRESS = Gauge(
    "twitterclone_requests_in_progress",
    "Total requests currently in progress",
    _LABELS,
    multiprocess_mode="livesum",
)
ERRORS = Counter("twitterclone_requests_error_total", "Total errors in requests", _LABELS)

#: The in-progress gauge's status label: the plugin labelled it before the answer was known.
_IN_PROGRESS_STATUS = "200"


class _Answered:
    """The label children of one (method, route, status): found once, then reused."""

    __slots__ = ("count", "duration", "errors")

    def __init__(self, labels: tuple[str, str, str, str], status: int) -> None:
        self.count = REQUESTS.labels(*labels)
        self.duration = DURATION.labels(*labels)
        self.errors = ERRORS.labels(*labels) if status >= 500 else None


class RequestMetrics:
    """The ASGI middleware of one route (Litestar builds one per route from ``request_metrics``)."""

    __slots__ = ("_answered", "_app", "_app_name", "_in_progress")

    def __init__(self, app: ASGIApp, app_name: str) -> None:
        self._app = app
        self._app_name = app_name
        self._in_progress: dict[tuple[str, str], Any] = {}
        self._answered: dict[tuple[str, str, int], _Answered] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind: str = scope["type"]
        if kind == "http":
            method: str = scope["method"]  # type: ignore[typeddict-item]
        elif kind == "websocket":
            method = kind
        else:
            await self._app(scope, receive, send)
            return
        route: str = scope["path_template"]
        key = (method, route)
        gauge = self._in_progress.get(key)
        if gauge is None:
            gauge = self._in_progress[key] = IN_PROGRESS.labels(
                method, route, _IN_PROGRESS_STATUS, self._app_name
            )
        started = time.perf_counter()
        status = 200
        duration = 0.0

        async def send_seen(message: Message) -> None:
            nonlocal status, duration
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                duration = time.perf_counter() - started
            await send(message)

        gauge.inc()
        try:
            await self._app(scope, receive, send_seen)
        finally:
            gauge.dec()
            answered = self._answered.get((method, route, status))
            if answered is None:
                labels = (method, route, str(status), self._app_name)
                answered = self._answered[(method, route, status)] = _Answered(labels, status)
            if answered.errors is not None:
                answered.errors.inc()
            answered.count.inc()
            answered.duration.observe(duration)


def request_metrics(app_name: str) -> Any:
    """The middleware for an app's ``middleware=[...]``: metrics of every route, as ``app_name``."""

    def build(app: ASGIApp) -> ASGIApp:
        return RequestMetrics(app, app_name)

    return build


__all__ = ["DURATION", "ERRORS", "IN_PROGRESS", "REQUESTS", "RequestMetrics", "request_metrics"]
