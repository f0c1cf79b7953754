"""Whose failure is it? Telling a failing instance from a healthy one whose dependency failed.

When timeline answers 503 because tweets is down, the timeline instance is healthy: ejecting it
(opening the caller's breaker on it) only stretches the outage past tweets' recovery. So the
serving side says on the wire when its 503 came from a port call it made itself
(``x-twitterclone-failure: downstream``), and the caller's breaker counts only an instance's own
failures: refused connects, timeouts, its own 5xx.

While a port call is served, ``serving_call()`` holds a mark in a contextvar; every port call the
service makes that ends in ``Unavailable`` sets it (``note_downstream_failure()``, called by the
generic client). Tasks the service starts inherit the contextvar, so calls made inside
``asyncio.gather`` are seen too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

#: The response header that says where a failure came from.
FAILURE_HEADER = "x-twitterclone-failure"
#: Its value when the failure came from a port call the answering instance made.
DOWNSTREAM = "downstream"


@dataclass
class ServedCall:
    """What happened during one served port call."""

    downstream_failed: bool = False


_current: ContextVar[ServedCall | None] = ContextVar("twitterclone_served_call", default=None)


@contextmanager
def serving_call() -> Iterator[ServedCall]:
    """Track the port calls made while serving one call."""
    served = ServedCall()
    token = _current.set(served)
    try:
        yield served
    finally:
        _current.reset(token)


def note_downstream_failure() -> None:
    """A port call made while serving one ended in ``Unavailable`` (no-op outside a served call)."""
    served = _current.get()
    if served is not None:
        served.downstream_failed = True


def failure_headers(status: int, served: ServedCall) -> dict[str, str] | None:
    """The headers of an answer: a 503 is marked downstream when a call it made had failed."""
    if status == 503 and served.downstream_failed:
        return {FAILURE_HEADER: DOWNSTREAM}
    return None
