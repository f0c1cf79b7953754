"""What the composition root hands every module: settings, ids, stores, and module specs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dishka import Provider

from twitterclone.infra.events import Subscription
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore
from twitterclone.settings import Settings


class Consumer:
    """Base of a module's event consumer: it lists its subscriptions."""

    def subscriptions(self) -> list[Subscription]:
        """The events this module consumes, each with a stable consumer name."""
        return []

    def background_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        """Long-running jobs (cleanup, sweeps) started with the process and cancelled at stop."""
        return []


@dataclass(frozen=True)
class ModuleSpec:
    """How the composition root wires one module.

    ``provider`` makes a dishka Provider that provides ``port`` (and ``consumer`` when the
    module consumes events). ``metadata`` describes the module's tables, so tests and the
    readiness check can see what the module expects.
    """

    name: str
    port: type[Any]
    provider: Callable[[], Provider]
    consumer: type[Consumer] | None = None


class Kernel:
    """The infrastructure one process shares among its local modules."""

    def __init__(self, settings: Settings, store_urls: dict[str, tuple[str, str | None]]) -> None:
        self.settings = settings
        self.ids = IdGenerator(settings.worker_id)
        self._store_urls = store_urls
        self._stores: dict[str, ModuleStore] = {}

    def store(self, module: str) -> ModuleStore:
        """The store of ``module`` (made on first use)."""
        if module not in self._stores:
            url, schema = self._store_urls[module]
            self._stores[module] = ModuleStore(module, url, schema=schema)
        return self._stores[module]

    @property
    def stores(self) -> dict[str, ModuleStore]:
        return dict(self._stores)

    @property
    def data_path(self) -> Path:
        return self.settings.data_path

    async def dispose(self) -> None:
        for store in self._stores.values():
            await store.dispose()
