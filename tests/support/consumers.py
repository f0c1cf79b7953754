"""Feeding events to subscriptions as the kernel applies them, and stores for kernel tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from boundaries._kernel.events import Event
from twitterclone.infra.events import Subscription
from twitterclone.infra.store import ModuleStore, sqlite_url


async def apply(subscriptions: Iterable[Subscription[Any]], event: Event, *, name: str | None = None) -> None:
    """Apply one event through every subscription of its type (or only the one ``name``d).

    ``Subscription.apply`` is what the relay and the stream consumer run: one transaction that
    records the event in the module's inbox. Errors are raised, not retried.
    """
    matched = [s for s in subscriptions if s.event_type is type(event) and name in (None, s.name)]
    assert matched, f"nothing subscribes to {type(event).__name__} (name={name!r})"
    for sub in matched:
        await sub.apply([event])


async def kernel_store(tmp_path: Path, module: str) -> ModuleStore:
    """A store of ``module`` on a SQLite file with only the kernel's tables (outbox and inbox)."""
    store = ModuleStore(module, sqlite_url(tmp_path, module))
    async with store.engine.begin() as conn:
        await conn.run_sync(store.metadata.create_all)
    return store
