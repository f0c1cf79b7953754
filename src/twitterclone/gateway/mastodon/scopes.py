"""Scopes on the Mastodon routes, as Mastodon spells them: ``read``, ``read:statuses``, ``follow``…

A route names the granular scope Mastodon documents for it (``read:statuses``); the users
boundary's ``covers`` decides whether a token's scopes grant it (``read`` covers every
``read:*``, ``follow`` the block/follow/mute ones, ``read:accounts`` covers ``profile``). Without
a token the guard lets the request through: the ``user`` dependency answers 401 where a caller
is needed.
"""

from __future__ import annotations

from twitterclone.gateway.auth import Guard, requires


def scope(name: str) -> Guard:
    """A route guard: a token sent to this route must grant ``name`` (else 403)."""
    return requires(name)


__all__ = ["scope"]
