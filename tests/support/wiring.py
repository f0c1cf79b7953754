"""Real modules wired as the composition root wires them, on the storage a test chose."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from dishka import AsyncContainer, Provider, Scope, make_async_container

from boundaries._kernel.events import Event
from tests.support.databases import Storage
from twitterclone.infra.events import LocalBus
from twitterclone.infra.kernel import Kernel, ModuleSpec
from twitterclone.settings import Settings

#: Cheap argon2 parameters keep tests fast; production defaults live in Settings.
FAST_ARGON2: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}

Deliver = Callable[[Event], Awaitable[None]]


@asynccontextmanager
async def wired(
    storage: Storage,
    specs: tuple[ModuleSpec, ...],
    *,
    redis_url: str | None = None,
    key_prefix: str = "tc:",
    options: dict[str, dict[str, str]] | None = None,
    **settings: Any,
) -> AsyncIterator[AsyncContainer]:
    """A dishka container of ``specs`` (real providers) on migrated stores, closed afterwards."""
    locations = await storage.migrated(tuple(s.name for s in specs))
    app_settings = Settings(data_dir=str(storage.data_dir), **{**FAST_ARGON2, **settings})
    kernel = Kernel(
        app_settings, locations, redis_url=redis_url, key_prefix=key_prefix, module_options=options
    )
    kernel_provider = Provider(scope=Scope.APP)
    kernel_provider.provide(lambda: kernel, provides=Kernel)
    kernel_provider.provide(lambda: app_settings, provides=Settings)
    container = make_async_container(kernel_provider, *(s.provider() for s in specs))
    try:
        yield container
    finally:
        await container.close()
        await kernel.dispose()


async def deliverer(container: AsyncContainer, spec: ModuleSpec) -> Deliver:
    """Deliver an event straight to a module's consumer (as the relay would), failing on errors."""
    assert spec.consumer is not None
    bus = LocalBus()
    bus.subscribe((await container.get(spec.consumer)).subscriptions())

    async def deliver(event: Event) -> None:
        assert await bus.publish(event, bus.consumers_of(type(event).__name__)) == []

    return deliver
