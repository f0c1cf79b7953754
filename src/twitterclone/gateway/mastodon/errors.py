"""Errors on the Mastodon routes: ``{"error": "..."}`` with Mastodon's statuses, never a problem.

Mastodon answers 401 (no or bad token), 403 (not allowed, missing scope), 404, 422 (everything
the client sent wrong: validation, unknown parameters, a conflict such as a taken username),
413, 429 and 503. The native API's 400s and 409s are 422 here. These handlers are registered on
the Mastodon router (routed requests) and wrap the app's own (unrouted requests: a 404 or 405
under /api/v1 is still Mastodon's shape); the edge middlewares ask ``edge_error_body`` for the
answers they give before routing (429, 503, 408, 413).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from boundaries._kernel.errors import DomainError
from twitterclone.gateway.mastodon.entities import Error

log = logging.getLogger("twitterclone.gateway.mastodon")

#: Paths served by the Mastodon adapter (and so answered in its error shape).
MASTODON_PREFIXES = ("/api/v1/", "/api/v2/")
MASTODON_ROOTS = ("/api/v1", "/api/v2")

_encoder = msgspec.json.Encoder()


def is_mastodon_path(path: str) -> bool:
    """Whether ``path`` (canonical) belongs to the Mastodon client API."""
    return path.startswith(MASTODON_PREFIXES) or path in MASTODON_ROOTS


def mastodon_status(status: int) -> int:
    """The status Mastodon gives where the native API gives ``status``."""
    return 422 if status in (400, 409) else status


def edge_error_body(path: str, detail: str) -> tuple[bytes, str] | None:
    """For a middleware answering before routing: the body and Content-Type, if ``path`` is Mastodon's."""
    if not is_mastodon_path(path):
        return None
    return _encoder.encode(Error(error=detail)), "application/json"


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> Response[Error]:
    """A Mastodon error answer."""
    return Response(Error(error=detail), status_code=status, media_type="application/json", headers=headers)


def _domain(_: Request[Any, Any, Any], exc: DomainError) -> Response[Error]:
    headers: dict[str, str] | None = None
    if exc.status == 401:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    retry_after = getattr(exc, "retry_after_s", None)
    if isinstance(retry_after, int):
        headers = {"Retry-After": str(retry_after)}
    elif exc.status == 503:
        headers = {"Retry-After": "1"}
    detail = f"{exc.field}: {exc.detail}" if exc.field and exc.field not in exc.detail else exc.detail
    if exc.status == 404:
        detail = "Record not found"  # Mastodon's words for every missing (or hidden) record
    return error_response(mastodon_status(exc.status), detail, headers)


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Error]:
    reasons: list[str] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            name = str(item.get("key") or item.get("source") or "body")
            reasons.append(f"{name}: {item.get('message', 'invalid')}")
    detail = "; ".join(reasons) or exc.detail or "the request is not valid"
    return error_response(422, f"Validation failed: {detail}")


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Error]:
    status = exc.status_code
    if status >= 500:
        log.error("server error", extra={"path": request.url.path, "status": status})
        return error_response(status, "the server could not answer")
    detail = exc.detail or "error"
    if status == 404:
        detail = "Record not found"
    return error_response(mastodon_status(status), detail, exc.headers or None)


def _recursion(_: Request[Any, Any, Any], __: RecursionError) -> Response[Error]:
    return error_response(422, "Validation failed: the request body is nested too deeply")


def _unexpected(request: Request[Any, Any, Any], __: Exception) -> Response[Error]:
    log.exception("unhandled error", extra={"path": request.url.path})
    return error_response(500, "something went wrong on our side; quote the request id when reporting it")


#: The Mastodon router's exception handlers.
EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    RecursionError: _recursion,
    DomainError: _domain,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}


def mastodon_aware(handlers: dict[type[Exception] | int, Any]) -> dict[type[Exception] | int, Any]:
    """The app's handlers, answering in Mastodon's shape on Mastodon paths (unrouted requests)."""

    def wrap(kind: type[Exception] | int, native: Callable[..., Any]) -> Callable[..., Any]:
        mine = EXCEPTION_HANDLERS.get(kind, _unexpected)

        def handler(request: Request[Any, Any, Any], exc: Any) -> Response[Any]:
            if is_mastodon_path(request.url.path):
                return mine(request, exc)  # type: ignore[no-any-return]
            return native(request, exc)  # type: ignore[no-any-return]

        return handler

    return {kind: wrap(kind, native) for kind, native in handlers.items()}


__all__ = [
    "EXCEPTION_HANDLERS",
    "edge_error_body",
    "error_response",
    "is_mastodon_path",
    "mastodon_aware",
    "mastodon_status",
]
