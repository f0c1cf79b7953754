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
