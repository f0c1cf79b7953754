"""Rendering the web client's pages: the Jinja environment, the page helper, and error pages.

Templates escape by default (autoescape on for every template); pages carry a
Content-Security-Policy that allows scripts, styles and images from this origin only, so no
inline script can run even if one slipped into a page.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template import TemplateConfig
from markupsafe import Markup

from boundaries._kernel.errors import DomainError
from boundaries.tweets.dto import Entities
from twitterclone.gateway.linkify import Links, linkify
from twitterclone.gateway.web.session import SESSION_STATE_KEY, WebSession, csrf_token

log = logging.getLogger("twitterclone.web")

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

#: Scripts, styles, images and connections from this origin only; no inline script or style.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
PAGE_HEADERS = {"content-security-policy": CSP, "cache-control": "no-store"}


def _ago(value: datetime) -> str:
    """A short relative time ("3m", "2h", "5 Dec") for a tweet's timestamp."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - value).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86_400:
        return f"{seconds // 3600}h"
    return f"{value.day} {value:%b %Y}"


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


#: The web client's links in tweet text: a mention to the profile page, a hashtag to its search.
WEB_LINKS = Links(
    mention_url=lambda handle: f"/u/{handle}",
    tag_url=lambda name: "/search?q=" + quote(f"#{name}", safe=""),
)


def _linkify(text: str, entities: Entities | None = None) -> Markup:
    """Tweet text with its entities linked (the shared helper escapes the whole text itself)."""
    return Markup(linkify(text, entities, WEB_LINKS))  # noqa: S704 - built escaped, see linkify.py


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ago"] = _ago
    env.filters["iso"] = _iso
    env.filters["urlquote"] = lambda s: quote(str(s), safe="")
    env.filters["linkify"] = _linkify
    return env


ENVIRONMENT = build_environment()


def web_template_config(*more_directories: Path) -> TemplateConfig[JinjaTemplateEngine]:
    """The app's templates: the web client's, then those of other server-rendered faces (ops)."""
    ENVIRONMENT.loader = FileSystemLoader([TEMPLATES, *more_directories])
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(ENVIRONMENT))


def render_fragment(name: str, **context: Any) -> str:
    """A template rendered to a string (an SSE event's HTML)."""
    return ENVIRONMENT.get_template(name).render(**context)


def safe_next(value: str | None, default: str = "/") -> str:
    """A same-site path to go back to after a form: never another host (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def page(
    request: Request[Any, Any, Any],
    session: WebSession | None,
    template: str,
    *,
    status: int = 200,
    **context: Any,
) -> Template:
    """A page (or, for an HTMX request, whatever fragment the template renders for it)."""
    token, new_cookie = csrf_token(request, session)
    context.update(session=session, csrf=token, path=request.url.path, full_path=_full_path(request))
    return Template(
        template_name=template,
        context=context,
        status_code=status,
        headers=PAGE_HEADERS,
        cookies=[new_cookie] if new_cookie else None,
    )


def _full_path(request: Request[Any, Any, Any]) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def back(request: Request[Any, Any, Any], next_path: str | None, default: str = "/") -> Redirect:
    """After a form without JavaScript: back to the page it came from (303, so the browser GETs)."""
    return Redirect(safe_next(next_path, default), status_code=303)


# ----------------------------------------------------------------------------- error pages

_TITLES = {
    400: "That request was not understood",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "That clashes with what is there",
    413: "That is too large",
    422: "That did not work",
    429: "Slow down",
    503: "Busy right now",
}


def _error_page(
    request: Request[Any, Any, Any], status: int, detail: str, headers: dict[str, str]
) -> Response[Any]:
    session = request.scope.get("state", {}).get(SESSION_STATE_KEY)
    token, new_cookie = csrf_token(request, session)
    body = ENVIRONMENT.get_template("error.html").render(
        session=session,
        csrf=token,
        path=request.url.path,
        full_path=request.url.path,
        status=status,
        title=_TITLES.get(status, "Something went wrong"),
        detail=detail,
    )
    return Response(
        body,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={**PAGE_HEADERS, **headers},
        cookies=[new_cookie] if new_cookie else None,
    )


def domain_error_page(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after_s", None)
    if isinstance(retry_after, int):
        headers["retry-after"] = str(retry_after)
    return _error_page(request, exc.status, exc.detail, headers)


def http_error_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, NotAuthorizedException):
        return Redirect(f"/signin?next={quote(_full_path(request), safe='')}", status_code=303)
    headers = {k.lower(): v for k, v in (exc.headers or {}).items() if k.lower() == "retry-after"}
    detail = exc.detail if exc.status_code < 500 else "the server could not answer; try again shortly"
    return _error_page(request, exc.status_code, detail, headers)


def unexpected_error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, OSError | TimeoutError):
        log.warning("a web page could not reach a service: %r", exc)
        return _error_page(request, 503, "a service this page needs did not answer; try again shortly", {})
    log.exception("web page failed", exc_info=exc)
    return _error_page(request, 500, "something went wrong on our side; it has been logged", {})


WEB_EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: domain_error_page,
    ValidationException: http_error_page,  # the app's problem handler is keyed on it: override it here
    HTTPException: http_error_page,
    Exception: unexpected_error_page,
}


#: Paths where machines, not people, are answered: an unrouted request there keeps its JSON answer.
MACHINE_PREFIXES = (
    "/api/",
    "/oauth/",
    "/_port/",
    "/metrics",
    "/schema",
    "/.well-known/",
    "/livez",
    "/readyz",
)


def browser_aware(handlers: dict[type[Exception] | int, Any]) -> dict[type[Exception] | int, Any]:
    """The app's handlers, answering a person's browser with a page when no route matched.

    A mistyped address outside the APIs (``/nope``, ``POST`` to a page that only reads) would
    otherwise show a JSON problem to someone who cannot read one; an API client there, or anyone
    under the machine prefixes, still gets the problem document.
    """
    native = handlers[HTTPException]

    def handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        wants_page = "text/html" in request.headers.get("accept", "")
        if wants_page and not request.url.path.startswith(MACHINE_PREFIXES):
            return http_error_page(request, exc)
        return native(request, exc)  # type: ignore[no-any-return]

    return {**handlers, HTTPException: handler}
