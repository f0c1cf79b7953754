"""OAuth scopes as Mastodon spells them, and which granted scope covers which needed one.

The vocabulary is Mastodon's (docs: api/oauth-scopes): the broad ``read``, ``write``, ``follow``
(deprecated there, still sent by clients), ``push`` and ``profile``, and the granular
``read:<thing>`` / ``write:<thing>``. The administration scopes are not offered (no admin API
speaks them). A broad scope implies its granular ones: ``read`` covers every ``read:*``,
``write`` every ``write:*``, ``follow`` the six block/follow/mute scopes; ``profile`` (only the
caller's own account) is covered by ``read`` and ``read:accounts``.

Routes name the scope they need (broad on the native API: ``read``, ``write``, ``follow``;
granular on the Mastodon API, e.g. ``write:statuses``); ``covers`` decides. A broad need is met
only by the broad scope: a token granted ``write:media`` alone may upload through the Mastodon
API but not post through the native ``write`` routes (a granular grant never widens).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

READ_SCOPES = (
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
)
WRITE_SCOPES = (
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
)
FOLLOW_SCOPES = (
    "read:blocks",
    "read:follows",
    "read:mutes",
    "write:blocks",
    "write:follows",
    "write:mutes",
)
#: Every scope a token may carry, in the order answers list them.
SCOPES: tuple[str, ...] = ("read", "write", "follow", "push", "profile", *READ_SCOPES, *WRITE_SCOPES)
#: What each broad scope implies.
IMPLIES: dict[str, frozenset[str]] = {
    "read": frozenset(READ_SCOPES) | {"profile"},
    "write": frozenset(WRITE_SCOPES),
    "follow": frozenset(FOLLOW_SCOPES),
    "read:accounts": frozenset({"profile"}),
}


def split(text: str) -> list[str]:
    """The scopes of a space-separated scope string, in the order given, without repeats."""
    return list(dict.fromkeys(s for s in text.split() if s))


def unknown(scopes: Iterable[str]) -> list[str]:
    """The scopes that are not in the vocabulary."""
    return [s for s in scopes if s not in SCOPES]


def expand(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes given and every scope they imply."""
    out: set[str] = set()
    for scope in scopes:
        out.add(scope)
        out |= IMPLIES.get(scope, frozenset())
    return frozenset(out)


def within(asked: Iterable[str], allowed: Iterable[str]) -> bool:
    """Whether every scope asked for is allowed (directly or implied by a broader allowed one)."""
    permitted = expand(allowed)
    return all(scope in permitted for scope in asked)


def covers(granted: Iterable[str], needed: str) -> bool:
    """Whether a token granting ``granted`` may use a route that needs ``needed``."""
    return needed in _expanded(granted if isinstance(granted, frozenset) else frozenset(granted))


@lru_cache(maxsize=1024)
def _expanded(granted: frozenset[str]) -> frozenset[str]:
    """``expand``, remembered: a route guard asks it on every request with a token's few scopes."""
    return expand(granted)


def ordered(scopes: Iterable[str]) -> str:
    """A scope string in the vocabulary's order (unknown scopes dropped)."""
    wanted = set(scopes)
    return " ".join(s for s in SCOPES if s in wanted)
