"""The app of an internal listener: a process's hosted ports, for other processes only.

A service process serves it as its one listener; a gateway that hosts modules other services
call serves it on its internal listener (``twitterclone/listeners.py``), never on the public one.
It holds the port route, health and (for a service) ``/metrics``: no public route, no OpenAPI
document.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Router

from twitterclone.gateway.guards import guard_in_place
from twitterclone.gateway.middleware import request_id_middleware
from twitterclone.gateway.problems import EXCEPTION_HANDLERS
from twitterclone.gateway.request_metrics import request_metrics
from twitterclone.gateway.routes.health import HealthController
from twitterclone.remote.deadline import deadline_middleware
from twitterclone.remote.tracing import traceparent_middleware
from twitterclone.runtime_metrics import MetricsController


def internal_app(router: Router, app_name: str, *, lifespan: Any = None, metrics: bool) -> Litestar:
    """The app of an internal listener: the port route, health, and (``metrics``) ``/metrics``;
    nothing else (no OpenAPI document, no public route)."""
    app = Litestar(
        route_handlers=[router, HealthController, *([MetricsController] if metrics else [])],
        lifespan=[lifespan] if lifespan is not None else [],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[request_metrics(app_name)],
        openapi_config=None,
        request_max_body_size=64 * 1024 * 1024,  # media uploads travel as port arguments
        debug=False,
    )
    guard_in_place(app)
    inner: Any = deadline_middleware(app.asgi_handler)  # type: ignore[arg-type]
    with_id: Any = request_id_middleware(inner)
    app.asgi_handler = traceparent_middleware(with_id)  # type: ignore[assignment]
    return app
