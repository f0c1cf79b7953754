"""Feeding events to a module's real subscriptions, as the kernel applies them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from boundaries._kernel.events import Event
from twitterclone.infra.events import Subscription


async def apply(subscriptions: Iterable[Subscription[Any]], event: Event, *, name: str | None = None) -> None:
    """Apply one event through every subscription of its type (or only the one ``name``d).

    ``Subscription.apply`` is what the relay and the stream consumer run: one transaction that
    records the event in the module's inbox. Errors are raised, not retried.
    """
    matched = [s for s in subscriptions if s.event_type is type(event) and name in (None, s.name)]
    assert matched, f"nothing subscribes to {type(event).__name__} (name={name!r})"
    for sub in matched:
        await sub.apply([event])
