"""Scopes on the Mastodon routes, as Mastodon spells them: ``read``, ``read:statuses``, ``follow``…

A route names the granular scope Mastodon documents for it (``read:statuses``); a token passes
with that scope, with its parent (``read``), or, for the follow graph, with the legacy ``follow``
scope, as Mastodon's own tokens do. Without a token the guard lets the request through: the
``user`` dependency answers 401 where a caller is needed.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from twitterclone.gateway.auth import Guard, InsufficientScope, InvalidToken, current_principal
from twitterclone.gateway.problems import refuses

#: Granular scopes that the legacy ``follow`` scope also grants (Mastodon's definition).
FOLLOW_SCOPES = frozenset(
    {"read:blocks", "write:blocks", "read:follows", "write:follows", "read:mutes", "write:mutes"}
)


def accepted(scope: str) -> frozenset[str]:
    """The token scopes that grant ``scope``."""
    parent = scope.split(":", 1)[0]
    names = {scope, parent}
    if scope in FOLLOW_SCOPES:
        names.add("follow")
    if scope == "profile":  # verify_credentials: a ``read`` or ``read:accounts`` token also will do
        names |= {"read", "read:accounts"}
    return frozenset(names)


def scope(name: str) -> Guard:
    """A route guard: a token sent to this route must grant ``name`` (else 403)."""
    grants = accepted(name)

    @refuses(InvalidToken, InsufficientScope)
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await current_principal(connection)
        if principal is None:
            return
        if not grants & principal.scopes:
            raise InsufficientScope("This action is outside the authorized scopes")

    guard.__name__ = f"scope_{name.replace(':', '_')}"
    return guard


__all__ = ["FOLLOW_SCOPES", "accepted", "scope"]
