"""One spelling of every path, decided once where a request enters the gateway.

``//api/auth/login``, ``/api/auth//login`` and ``/api/auth/login/`` all reach the login handler:
Litestar's router normalises a path before it looks the route up. Whatever else looks at the
path (rate limits, admission, logs, metrics, problem ``instance``) must see what the router
sees, so the edge rewrites the request's path with the router's own ``normalize_path`` before
any of them runs. Normalised rather than refused or redirected: such paths come from
honest clients too (a base URL with a trailing slash joined to "/api/..."), the router answers
them anyway, and a 308 would cost every such client a round trip for nothing.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.utils import normalize_path


def canonical_path_middleware(app: ASGIApp) -> ASGIApp:
    """Rewrite ``path`` and ``raw_path`` of HTTP and WebSocket requests to their canonical form."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path = scope["path"]
            canonical = normalize_path(path)
            if canonical != path:
                scope["path"] = canonical
                raw = scope.get("raw_path")
                if raw:
                    scope["raw_path"] = normalize_path(raw.decode("latin-1")).encode("latin-1")
        await app(scope, receive, send)

    return middleware


__all__ = ["canonical_path_middleware"]
