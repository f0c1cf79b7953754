"""The operations view: ``/ops`` (the page) and ``/ops/panel`` (its live part), for administrators.

Both answer server-rendered HTML (Jinja2 through Litestar; templates/). The page is complete
without JavaScript; with it, a small script of ours (static/ops.js, no inline code: the page's
Content-Security-Policy forbids it) replaces the live part with ``/ops/panel`` every second.

Who may look: an administrator (the role in the users module right now, as for /api/admin),
signed in to the web client (its session cookie) or sending a first-party bearer token. A
browser that is neither is sent to the web client's sign-in page, which brings it back here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from litestar import Controller, Litestar, Request, Response, get
from litestar.connection import ASGIConnection
from litestar.enums import MediaType
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from boundaries._kernel.errors import DomainError
from boundaries.users.errors import NotAdmin
from twitterclone.composition import Runtime
from twitterclone.gateway.auth import InvalidToken, current_principal, requires
from twitterclone.gateway.ops.readings import Reader
from twitterclone.gateway.ops.sampler import Sampler
from twitterclone.gateway.ops.view import OpsView, build_view
from twitterclone.gateway.params import BEARER
from twitterclone.gateway.problems import domain_error_handler, refuses
from twitterclone.gateway.routes.admin import ensure_admin
from twitterclone.gateway.web.render import domain_error_page
from twitterclone.gateway.web.session import current_session

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
ASSETS_PATH = "/ops/assets"

#: Only this origin's script and styles; the live part is fetched from this origin too.
OPS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: How often the page asks for its live part.
REFRESH_MS = 1000


def _sampler(app: Litestar) -> Sampler:
    sampler: Sampler | None = getattr(app.state, "ops_sampler", None)
    if sampler is None:
        runtime: Runtime = app.state.runtime
        client = runtime.transport.client if runtime.transport is not None else httpx.AsyncClient()
        if runtime.transport is None:
            app.state.ops_client = client  # ours to close
        reader = Reader(runtime, getattr(app.state, "runtime_metrics", None), client)
        sampler = Sampler(reader)
        app.state.ops_sampler = sampler
    return sampler


async def current_view(request: Request[Any, Any, Any]) -> OpsView:
    sampler = _sampler(request.app)
    samples = await sampler.watch()
    return build_view(request.app.state.runtime, samples)


@asynccontextmanager
async def ops_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Stop the sampler (if anyone looked) when the gateway stops."""
    try:
        yield
    finally:
        sampler: Sampler | None = getattr(app.state, "ops_sampler", None)
        if sampler is not None:
            await sampler.close()
        client: httpx.AsyncClient | None = getattr(app.state, "ops_client", None)
        if client is not None:
            await client.aclose()


@refuses(InvalidToken, NotAdmin)
async def ops_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Refuse anyone but an administrator: by bearer token, or by the web client's session."""
    principal = await current_principal(connection)
    if principal is None:
        session = await current_session(connection)
        principal = session.principal if session is not None else None
    if principal is None:
        raise InvalidToken("sign in as an administrator, or send an access token (Authorization: Bearer …)")
    await ensure_admin(connection, principal)


def _refused(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    """A browser opening the page without a session goes to sign in (and comes back here); other
    refusals are a readable page for a browser, a problem document for anyone else."""
    if not _wants_html(request):
        return domain_error_handler(request, exc)
    if isinstance(exc, InvalidToken) and request.url.path.rstrip("/") == "/ops":
        return Redirect("/signin?next=/ops", status_code=303)
    return domain_error_page(request, exc)


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    return "text/html" in request.headers.get("accept", "")


class OpsController(Controller):
    """The deployment at work: placement and health, traffic, breakers, budgets, events."""

    path = "/ops"
    tags = ["ops"]
    guards = [requires("read", first_party=True), ops_admin]
    security = BEARER
    exception_handlers = {InvalidToken: _refused, NotAdmin: _refused}

    @get(
        "/",
        operation_id="opsPage",
        summary="The operations view (HTML, administrators)",
        media_type=MediaType.HTML,
    )
    async def page(self, request: Request[Any, Any, Any]) -> Template:
        view = await current_view(request)
        context = {"view": view, "assets": ASSETS_PATH, "refresh_ms": REFRESH_MS}
        return Template("ops_page.html.j2", context=context, headers={"content-security-policy": OPS_CSP})

    @get(
        "/panel",
        operation_id="opsPanel",
        summary="The live part of the operations view (an HTML fragment, administrators)",
        media_type=MediaType.HTML,
    )
    async def panel(self, request: Request[Any, Any, Any]) -> Template:
        view = await current_view(request)
        return Template(
            "ops_panel.html.j2", context={"view": view}, headers={"content-security-policy": OPS_CSP}
        )


def ops_assets_router() -> ControllerRouterHandler:
    """The page's script and styles (public: they hold nothing about the deployment)."""
    return create_static_files_router(
        path=ASSETS_PATH, directories=[STATIC], include_in_schema=False, name="ops-assets"
    )
