"""Route guards without a copy of the route handler per request.

Litestar runs a route's guards as ``await guard(connection, copy(handler))``: a shallow copy of
the handler (about 70 attributes) for every guard of every request, so that a guard cannot
change the handler. It was the largest single cost of Litestar's own request path on a home
read (~28 µs a request, measured). Every guard of this project only reads the connection (the
token's scopes, a body limit): none takes anything from the handler, none writes to it.

``guard_in_place(app)`` gives each route handler of a built app an ``authorize_connection``
that runs the same guards, resolved once from every layer (app, router, controller, handler),
in the same order, at the same point of the request, with the handler itself. What a guard
raises is answered as before. A guard written later must not write to the handler it gets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

Authorize = Callable[[ASGIConnection[Any, Any, Any, Any]], Awaitable[None]]


def _authorize(guards: Sequence[Any], handler: BaseRouteHandler) -> Authorize:
    async def authorize_connection(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        for guard in guards:
            await guard(connection, handler)

    return authorize_connection


def _handlers(app: Litestar) -> Iterator[BaseRouteHandler]:
    for route in app.routes:
        handlers = getattr(route, "route_handlers", None)
        if handlers is None:  # WebSocket and ASGI routes have one handler
            handlers = [route.route_handler]  # type: ignore[union-attr]
        yield from handlers


def guard_in_place(app: Litestar) -> None:
    """Run every guarded route's guards without copying its handler.

    A handler that cannot take the attribute keeps Litestar's way (with its copy): a slotted
    ``HTTPRouteHandler``, which is what Litestar makes of the handlers of a Controller that
    declares guards of its own (the admin API, the ops view: rare requests).
    """
    for handler in _handlers(app):
        guards = tuple(handler.resolve_guards())
        if not guards:
            continue
        try:
            vars(handler)["authorize_connection"] = _authorize(guards, handler)
        except TypeError:  # no instance __dict__: Litestar's own authorize_connection stays
            continue


__all__ = ["guard_in_place"]
