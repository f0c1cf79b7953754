"""RFC 9457 problem responses for every error, with a stable ``type`` and never a traceback.

Also what the OpenAPI document says about them: ``document_errors`` gives every operation the
error answers it can really give. Most follow from the shape of the route, so they are derived
when the app is built rather than written on each handler:

- 400 ``invalid-request`` when it takes input (a body, path, query or header parameters: what
  Litestar validates), plus ``bad-request`` for a JSON body nested too deeply;
- 413 ``payload-too-large`` when it reads a body under the app's body limit;
- 400 ``invalid-cursor`` when it takes a ``cursor``;
- 401 and 403 from its guards (each guard says what it refuses, see ``refuses``) and 401 from
  the ``user``/``viewer`` dependencies (no token, or a bad one);
- 429 ``rate-limited`` under the rate-limited prefixes, when limiting is on.

What the port call behind a route may raise (404, 409, a domain 403 or 422) is declared on the
handler with ``responses=errors(TweetNotFound, ...)``; answers that are not problems (a 304, the
OAuth error form) with ``answer`` or a plain ``ResponseSpec``, which the derived ones never
replace.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from litestar import Litestar, MediaType, Request, Response
from litestar.constants import RESERVED_KWARGS
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import Scope, Send

from boundaries._kernel.errors import DomainError
from boundaries.timeline.errors import InvalidCursor
from twitterclone.gateway import auth

log = logging.getLogger("twitterclone.gateway")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"
#: Retry-After of a 503 from a dependency that is down: about one breaker backoff (docs/fallbacks.md).
UNAVAILABLE_RETRY_AFTER_S = "1"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
    504: "Gateway timeout",
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


_problem_encoder = msgspec.json.Encoder()

#: Other faces' error shapes for answers given before routing: (path, detail) -> (body, content
#: type), or None when the path is not theirs. The Mastodon adapter adds its ``{"error"}`` here.
EdgeShape = Callable[[str, str], "tuple[bytes, str] | None"]
EDGE_SHAPES: list[EdgeShape] = []


def edge_error_body(path: str, detail: str) -> tuple[bytes, str] | None:
    """The body and Content-Type another face answers ``path`` with, or None for a problem."""
    for shape in EDGE_SHAPES:
        found = shape(path, detail)
        if found is not None:
            return found
    return None


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


async def send_problem(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    detail: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Answer with a problem from plain ASGI, for middlewares that answer before routing.

    On the Mastodon routes the answer is Mastodon's ``{"error": ...}`` instead.
    """
    mastodon = edge_error_body(scope.get("path", ""), detail)
    if mastodon is not None:
        await _send_plain(send, status, *mastodon, headers)
        return
    body = _problem_encoder.encode(
        Problem(
            type=PROBLEM_BASE + code,
            title=_TITLES.get(status, "Error"),
            status=status,
            detail=detail,
            instance=scope.get("path"),
            request_id=scope.get("state", {}).get("request_id"),
        )
    )
    start_headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_plain(
    send: Send, status: int, body: bytes, content_type: str, headers: Iterable[tuple[bytes, bytes]]
) -> None:
    start_headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Problem]:
    params = [InvalidParam(name=exc.field, reason=exc.detail)] if exc.field else None
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if exc.status == 401 else None
    retry_after = getattr(exc, "retry_after_s", None)  # a refusal that says when to come back
    if isinstance(retry_after, int):
        headers = {"Retry-After": str(retry_after)}
    elif exc.status == 503:  # a dependency is down or its breakers are open: come back shortly
        headers = {"Retry-After": UNAVAILABLE_RETRY_AFTER_S}
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


# ----------------------------------------------------------------- errors in the OpenAPI document


@dataclass
class ProblemSpec(ResponseSpec):
    """An error answer documented as a problem, with the problem types it may carry."""

    codes: tuple[str, ...] = ()


def _problem_spec(status: int, codes: Iterable[str]) -> ProblemSpec:
    ordered = tuple(sorted(set(codes)))
    names = [f"`{PROBLEM_BASE}{code}`" for code in ordered]
    types = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    return ProblemSpec(
        data_container=Problem,
        generate_examples=False,
        description=f"{_TITLES.get(status, 'Error')}: a problem of type {types}",
        media_type=PROBLEM_MEDIA_TYPE,
        codes=ordered,
    )


def errors(*kinds: type[DomainError]) -> dict[int, ResponseSpec]:
    """A handler's ``responses=``: the errors its port call may raise, each answered as a problem."""
    by_status: dict[int, set[str]] = {}
    for kind in kinds:
        by_status.setdefault(kind.status, set()).add(kind.code)
    return {status: _problem_spec(status, codes) for status, codes in sorted(by_status.items())}


def answer(
    status: int, body: Any, description: str, media_type: MediaType | str = MediaType.JSON
) -> dict[int, ResponseSpec]:
    """A handler's ``responses=`` entry for an answer that is not a problem (a 304, a 503 health)."""
    return {
        status: ResponseSpec(
            data_container=body, generate_examples=False, description=description, media_type=media_type
        )
    }


G = TypeVar("G", bound=Callable[..., Any])
_REFUSES = "__problem_refusals__"


def refuses(*kinds: type[DomainError]) -> Callable[[G], G]:
    """Mark a route guard with the errors it refuses requests with (documented on its routes)."""

    def mark(guard: G) -> G:
        setattr(guard, _REFUSES, kinds)
        return guard

    return mark


#: Dependencies that refuse a request themselves: ``user`` without a token, both with a bad one.
DEPENDENCY_REFUSALS: dict[str, tuple[type[DomainError], ...]] = {
    "user": (auth.InvalidToken, auth.UserTokenRequired),
    "viewer": (auth.InvalidToken,),
}


def _guard_refusals(guard: Any) -> tuple[type[DomainError], ...]:
    marked = getattr(guard, _REFUSES, None)
    if marked is not None:
        return tuple(marked)
    if getattr(guard, "__module__", None) == auth.__name__ and getattr(guard, "__qualname__", "").startswith(
        f"{auth.requires.__name__}.<locals>."
    ):
        # A scope guard: a bad token (401), a token without the scope, or a client's token on a
        # first-party route (403).
        first_party = inspect.getclosurevars(guard).nonlocals.get("first_party", False)
        return (auth.InvalidToken, auth.InsufficientScope) + ((auth.FirstPartyOnly,) if first_party else ())
    raise TypeError(
        f"the guard {getattr(guard, '__qualname__', guard)!r} does not say what it refuses: "
        "decorate it with twitterclone.gateway.problems.refuses(...)"
    )


def derived_errors(
    route: HTTPRoute, handler: HTTPRouteHandler, rate_limited: tuple[str, ...]
) -> dict[int, set[str]]:
    """The problem types a handler may answer because of its shape (status -> codes)."""
    found: dict[int, set[str]] = {}

    def add(status: int, code: str) -> None:
        found.setdefault(status, set()).add(code)

    params = handler.parsed_fn_signature.parameters
    dependencies = handler.resolve_dependencies()
    data = params.get("data")
    inputs = [name for name in params if name not in RESERVED_KWARGS and name not in dependencies]
    if data is not None or route.path_parameters or inputs:
        add(400, "invalid-request")
    if data is not None:
        if handler.resolve_request_max_body_size() is not None:  # None: the route checks size itself
            add(413, "payload-too-large")
        media_type = getattr(data.kwarg_definition, "media_type", RequestEncodingType.JSON)
        if media_type == RequestEncodingType.JSON:
            add(400, "bad-request")  # JSON nested too deeply for the decoder
    if "cursor" in inputs:
        add(InvalidCursor.status, InvalidCursor.code)
    refusals = [kind for guard in handler.resolve_guards() for kind in _guard_refusals(guard)]
    refusals += [
        kind for name in params if name in dependencies for kind in DEPENDENCY_REFUSALS.get(name, ())
    ]
    for kind in refusals:
        add(kind.status, kind.code)
    if rate_limited and route.path.startswith(rate_limited):
        add(429, _CODES[429])
    return found


def _merged(derived: dict[int, set[str]], declared: Mapping[int, ResponseSpec]) -> dict[int, ResponseSpec]:
    merged = dict(declared)
    for status, codes in derived.items():
        spec = merged.get(status)
        if spec is None:
            merged[status] = _problem_spec(status, codes)
        elif isinstance(spec, ProblemSpec):
            merged[status] = _problem_spec(status, {*spec.codes, *codes})
        # else: the handler documents another body for this status (e.g. the OAuth error form).
    return dict(sorted(merged.items()))


def document_errors(app: Litestar, *, rate_limited: tuple[str, ...] = ()) -> None:
    """Give every documented operation of ``app`` the error answers it can give (see the module doc).

    ``rate_limited``: the path prefixes the rate limiter guards (empty when limiting is off).
    Call once, after the app is built and before its OpenAPI document is first served.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.resolve_include_in_schema():
                derived = derived_errors(route, handler, rate_limited)
                handler.responses = _merged(derived, handler.responses or {})


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    RecursionError: nesting_error_handler,
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_MEDIA_TYPE",
    "MediaType",
    "Problem",
    "ProblemSpec",
    "answer",
    "document_errors",
    "errors",
    "problem_response",
    "refuses",
    "send_problem",
]
