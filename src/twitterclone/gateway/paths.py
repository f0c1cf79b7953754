"""One spelling of every path, decided once where a request enters the gateway.

``//api/auth/login``, ``/api/auth//login`` and ``/api/auth/login/`` all reach the login handler:
Litestar's router normalises a path before it looks the route up. Whatever else looks at the
path (rate limits, admission, logs, metrics, problem ``instance``) must see what the router
sees, so the edge (gateway/middleware.py) rewrites the request's path with the router's own
``normalize_path`` before any of them runs. Normalised rather than refused or redirected: such
paths come from honest clients too (a base URL with a trailing slash joined to "/api/..."), the
router answers them anyway, and a 308 would cost every such client a round trip for nothing.
"""

from __future__ import annotations

from litestar.types import Scope
from litestar.utils import normalize_path


def make_canonical(scope: Scope) -> None:
    """Rewrite ``path`` and ``raw_path`` of an HTTP or WebSocket request to their canonical form."""
    path = scope["path"]
    # The common case, already canonical: one leading slash, no doubled or trailing one.
    if path.startswith("/") and "//" not in path and (len(path) == 1 or not path.endswith("/")):
        return
    canonical = normalize_path(path)
    if canonical != path:
        scope["path"] = canonical
        raw = scope.get("raw_path")
        if raw:
            scope["raw_path"] = normalize_path(raw.decode("latin-1")).encode("latin-1")


__all__ = ["make_canonical"]
