"""Guards run in place: every layer's guards, in order, with the route's handler itself."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Router, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.testing import TestClient

from twitterclone.gateway.guards import guard_in_place

calls: list[tuple[str, BaseRouteHandler]] = []


def recording(name: str, *, refuse_on: str | None = None) -> Any:
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        calls.append((name, handler))
        if refuse_on is not None and connection.headers.get(refuse_on):
            raise NotAuthorizedException(f"{name} refused")

    return guard


@get("/guarded", guards=[recording("handler")], sync_to_thread=False)
def guarded() -> str:
    return "ok"


@get("/open", sync_to_thread=False)
def open_route() -> str:
    return "ok"


def build() -> Litestar:
    router = Router(
        "/r", route_handlers=[guarded, open_route], guards=[recording("router", refuse_on="x-no")]
    )
    return Litestar(route_handlers=[router], guards=[recording("app")], debug=False)


def test_each_layers_guards_run_in_order_with_the_handler_itself() -> None:
    app = build()
    guard_in_place(app)
    calls.clear()
    with TestClient(app) as client:
        assert client.get("/r/guarded").status_code == 200
    assert [name for name, _ in calls] == ["app", "router", "handler"]
    registered = app.route_handler_method_map["/r/guarded"]["GET"]
    assert all(handler is registered for _, handler in calls)  # not a copy made per request


def test_a_refusing_guard_answers_and_stops_the_rest() -> None:
    app = build()
    guard_in_place(app)
    calls.clear()
    with TestClient(app) as client:
        refused = client.get("/r/guarded", headers={"x-no": "1"})
        assert refused.status_code == 401
        assert client.get("/r/open", headers={"x-no": "1"}).status_code == 401
        assert client.get("/r/open").text == "ok"
    assert [name for name, _ in calls] == ["app", "router", "app", "router", "app", "router"]


def test_every_guarded_route_of_the_gateway_runs_its_guards_in_place(app: Litestar) -> None:
    in_place, litestars = [], []
    for route in app.routes:
        handlers = getattr(route, "route_handlers", None) or [route.route_handler]  # type: ignore[union-attr]
        for handler in handlers:
            if not handler.resolve_guards():
                continue
            if "authorize_connection" in getattr(handler, "__dict__", {}):
                in_place.append(route.path)
            else:
                litestars.append(route.path)
    assert "/api/timeline/home" in in_place
    assert len(in_place) > 50  # the native API, the Mastodon API, the web client
    # Handlers of a slotted class keep Litestar's way (correct, with its copy): only these.
    assert all(path.startswith(("/api/admin/", "/ops")) for path in litestars), litestars
