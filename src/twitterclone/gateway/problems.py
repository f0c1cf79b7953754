"""RFC 9457 problem responses for every error, with a stable ``type`` and never a traceback."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from boundaries._kernel.errors import DomainError

log = logging.getLogger("twitterclone.gateway")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}

_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    429: "rate-limited",
    500: "internal-error",
    503: "service-unavailable",
}


class InvalidParam(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One field that was wrong, and why."""

    name: str
    reason: str


class Problem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem details body."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    invalid_params: list[InvalidParam] | None = None


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    detail: str | None,
    *,
    invalid_params: list[InvalidParam] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    body = Problem(
        type=PROBLEM_BASE + code,
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=request.scope.get("state", {}).get("request_id"),
        invalid_params=invalid_params,
    )
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Problem]:
    params = [InvalidParam(name=exc.field, reason=exc.detail)] if exc.field else None
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if exc.status == 401 else None
    return problem_response(request, exc.status, exc.code, exc.detail, invalid_params=params, headers=headers)


def validation_error_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    params: list[InvalidParam] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if isinstance(item, dict):
            name = str(item.get("key") or item.get("source") or "body")
            params.append(InvalidParam(name=name, reason=str(item.get("message", "invalid"))))
    detail = exc.detail or "the request is not valid"
    if params:
        detail = "; ".join(f"{p.name}: {p.reason}" for p in params)
    return problem_response(request, 400, "invalid-request", detail, invalid_params=params or None)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    status = exc.status_code
    if status >= 500:
        log.error("server error", extra={"path": request.url.path, "status": status})
        return problem_response(
            request, status, _CODES.get(status, "server-error"), "the server could not answer"
        )
    return problem_response(
        request, status, _CODES.get(status, "error"), exc.detail or _TITLES.get(status), headers=exc.headers
    )


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.exception("unhandled error", extra={"path": request.url.path})
    return problem_response(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal-error",
        "something went wrong on our side; quote the request id when reporting it",
    )


def nesting_error_handler(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Problem]:
    # msgspec gives up on absurdly deep JSON ("[[[[…]]]]") with RecursionError: the client's fault.
    return problem_response(request, 400, "bad-request", "the request body is nested too deeply")


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    RecursionError: nesting_error_handler,
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_MEDIA_TYPE", "MediaType", "Problem", "problem_response"]
