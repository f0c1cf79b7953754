"""The composition root: reads the manifest and binds every port to its implementation.

This is the only place that imports ``modules``. A local module's port is bound to its
service object (a plain ``await``); a module placed elsewhere is reached through the
generic HTTP port adapter. No other code path asks "am I split?".
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from dishka import AsyncContainer, Provider, Scope, make_async_container

from modules import analytics, media, notifications, timeline, tweets, users
from twitterclone.infra.events import LocalBus, OutboxRelay
from twitterclone.infra.kernel import Kernel, ModuleSpec
from twitterclone.infra.store import sqlite_url
from twitterclone.manifest import Manifest
from twitterclone.settings import Settings

log = logging.getLogger("twitterclone.composition")

#: Every module the composition root can bind, by name.
_SPECS: tuple[ModuleSpec, ...] = (
    users.MODULE,
    tweets.MODULE,
    timeline.MODULE,
    media.MODULE,
    notifications.MODULE,
    analytics.MODULE,
)
MODULES: dict[str, ModuleSpec] = {spec.name: spec for spec in _SPECS}


def store_locations(manifest: Manifest, settings: Settings) -> dict[str, tuple[str, str | None]]:
    """Database URL and schema of every module, from the manifest."""
    locations: dict[str, tuple[str, str | None]] = {}
    for name in MODULES:
        db = manifest.database_for(name)
        if db.kind == "sqlite":
            locations[name] = (sqlite_url(settings.data_path, name), None)
        else:
            assert db.url is not None
            locations[name] = (db.url, name if db.schema_per_module else None)
    return locations


@dataclass
class Runtime:
    """One process's wiring: the container, the stores, the event relays and jobs."""

    manifest: Manifest
    settings: Settings
    kernel: Kernel
    container: AsyncContainer
    bus: LocalBus
    local_modules: list[str]
    relays: list[OutboxRelay] = field(default_factory=list)
    _jobs: list[asyncio.Task[None]] = field(default_factory=list)

    async def get(self, type_: type[Any]) -> Any:
        """Resolve a port (or anything else provided) from the container."""
        return await self.container.get(type_)

    async def start(self) -> None:
        """Subscribe consumers, start outbox relays and background jobs."""
        for name in self.local_modules:
            spec = MODULES[name]
            if spec.consumer is not None:
                consumer = await self.container.get(spec.consumer)
                self.bus.subscribe(consumer.subscriptions())
                for job in consumer.background_jobs():
                    self._jobs.append(asyncio.ensure_future(job()))
            await self.container.get(spec.port)  # surface wiring errors at start, not first call
        for name in self.local_modules:
            relay = OutboxRelay(self.kernel.store(name), self.bus)
            relay.start()
            self.relays.append(relay)

    async def stop(self) -> None:
        for relay in self.relays:
            await relay.stop()
        for job in self._jobs:
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
        await self.container.close()
        await self.kernel.dispose()

    async def drain_events(self, timeout_s: float = 10.0) -> None:
        """Relay until every outbox is empty (for tests and graceful shutdown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            moved = 0
            for relay in self.relays:
                moved += await relay.relay_once()
            if moved == 0 and all([await r.backlog() == 0 for r in self.relays]):
                return
            if moved == 0:
                await asyncio.sleep(0.05)
        raise TimeoutError("events did not drain in time")


def build_runtime(manifest: Manifest, settings: Settings) -> Runtime:
    """Wire one process from a manifest: every local module, bound in-process."""
    local = [m for m in manifest.local_modules if m in MODULES]
    kernel = Kernel(
        settings,
        store_locations(manifest, settings),
        redis_url=manifest.redis.url if manifest.redis else None,
        key_prefix=manifest.redis.prefix if manifest.redis else "tc:",
        module_options={m: manifest.module(m).options for m in MODULES},
    )
    kernel_provider = Provider(scope=Scope.APP)
    kernel_provider.provide(lambda: kernel, provides=Kernel)
    kernel_provider.provide(lambda: settings, provides=Settings)
    providers = [kernel_provider, *(MODULES[m].provider() for m in local)]
    container = make_async_container(*providers)
    return Runtime(
        manifest=manifest,
        settings=settings,
        kernel=kernel,
        container=container,
        bus=LocalBus(),
        local_modules=local,
    )
