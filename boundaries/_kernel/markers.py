"""Markers the remote binding reads from port methods."""

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

NOT_IDEMPOTENT = "__twitterclone_not_idempotent__"


def not_idempotent(method: F) -> F:
    """Mark a port method that must never be retried (it creates or changes state)."""
    setattr(method, NOT_IDEMPOTENT, True)
    return method


def is_idempotent(method: object) -> bool:
    """Tell whether a port method may be retried safely."""
    return not getattr(method, NOT_IDEMPOTENT, False)


WAITS = "__twitterclone_waits__"


def waits(method: F) -> F:
    """Mark a port method that waits for news up to its ``timeout_s`` argument (a long poll).

    Over HTTP such a call may last as long as the caller's deadline allows, not the usual
    per-attempt cap, and it gets no hedged backup attempt: a wait that has nothing to say yet
    is not a slow instance, and a second wait beside it would only double the load.
    """
    setattr(method, WAITS, True)
    return method


def is_waiting(method: object) -> bool:
    """Tell whether a port method is a long poll (see ``waits``)."""
    return bool(getattr(method, WAITS, False))
