"""The Mastodon Router and the error answers its operations document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from litestar import Litestar, Router
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Operation
from litestar.routes import HTTPRoute

from twitterclone.gateway.auth import AUTH_DEPENDENCIES
from twitterclone.gateway.mastodon.deps import ERRORS_OPT
from twitterclone.gateway.mastodon.entities import Error
from twitterclone.gateway.mastodon.errors import (
    EXCEPTION_HANDLERS,
    edge_error_body,
    is_mastodon_path,
    mastodon_status,
)
from twitterclone.gateway.mastodon.routes import CONTROLLERS
from twitterclone.gateway.mastodon.streaming import STREAMING_HANDLERS
from twitterclone.gateway.problems import EDGE_SHAPES, derived_errors

_DESCRIPTIONS = {
    401: "Unauthorized: no access token, or not a valid one",
    403: "Forbidden: the token lacks the scope, or the action is not allowed",
    404: "Record not found",
    413: "Payload too large",
    422: "Validation failed: a parameter is missing or wrong",
    429: "Too many requests",
    503: "A service behind this route is unavailable; retry shortly",
}


def mastodon_router() -> Router:
    """The Router the gateway mounts: every Mastodon route under /api/v1 and /api/v2.

    Also gives the middlewares that answer before routing (rate limits, admission) Mastodon's
    error shape for these paths.
    """
    if edge_error_body not in EDGE_SHAPES:
        EDGE_SHAPES.append(edge_error_body)
    return Router(
        path="/api",
        route_handlers=[*CONTROLLERS, *STREAMING_HANDLERS],  # streaming.py: SSE routes, the WebSocket
        dependencies=dict(AUTH_DEPENDENCIES),
        exception_handlers=EXCEPTION_HANDLERS,
    )


def document_mastodon_errors(app: Litestar, *, rate_limited: tuple[str, ...] = ()) -> None:
    """Give every Mastodon operation its error answers, as ``{"error"}`` bodies.

    The statuses follow from the route's shape (as for the native API, with Mastodon's 422 for
    the native 400 and 409) and from what the handler declares (``may_answer``). Call after
    ``problems.document_errors``: it replaces what that gave these operations.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not is_mastodon_path(route.path):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            statuses = {mastodon_status(s) for s in derived_errors(route, handler, rate_limited)}
            statuses |= set(handler.opt.get(ERRORS_OPT, ()))
            if getattr(handler.operation_class, "reads_body", False):
                statuses |= {413, 422}  # a body (documented by the operation class) is read and checked
            kept = {s: r for s, r in (handler.responses or {}).items() if s < 400}
            for status in sorted(statuses):
                kept[status] = ResponseSpec(
                    data_container=Error,
                    generate_examples=False,
                    description=_DESCRIPTIONS.get(status, "Error"),
                    media_type="application/json",
                )
            handler.responses = dict(sorted(kept.items()))
            handler.operation_class = _without_litestar_400(handler.operation_class)


def _without_litestar_400(base: type[Operation]) -> type[Operation]:
    """``base`` without the 400 Litestar adds to an operation that validates input: here every
    input error is Mastodon's 422 (documented above), never a 400."""
    if getattr(base, "mastodon_errors_only", False):
        return base

    @dataclass
    class MastodonOperation(base):  # type: ignore[valid-type,misc]
        mastodon_errors_only: ClassVar[bool] = True

        def __post_init__(self) -> None:
            parent = getattr(super(), "__post_init__", None)
            if parent is not None:
                parent()
            if self.responses:
                self.responses.pop("400", None)

    return MastodonOperation


__all__ = ["document_mastodon_errors", "mastodon_router"]
