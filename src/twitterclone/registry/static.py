"""A fixed registry: addresses written in the deployment manifest, never changing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence

from twitterclone.registry.base import Instance, check_service_name, split_address


class StaticRegistry:
    """``{service: ["host:port", ...]}``; register/heartbeat/deregister do nothing.

    Every listed address counts as healthy: with a static list, only the client's circuit breaker
    (passive ejection) keeps calls away from an instance that is down.
    """

    def __init__(self, services: Mapping[str, Sequence[str]]) -> None:
        self._services: dict[str, list[Instance]] = {}
        for service, addresses in services.items():
            check_service_name(service)
            found: list[Instance] = []
            for address in addresses:
                scheme, host_port = split_address(address)
                found.append(
                    Instance(service=service, instance_id=host_port, address=host_port, scheme=scheme)
                )
            self._services[service] = sorted(found, key=lambda i: i.instance_id)

    async def register(self, instance: Instance) -> None:
        """Does nothing: the manifest is the registry."""

    async def heartbeat(self, instance: Instance) -> None:
        """Does nothing: static instances never expire."""

    async def deregister(self, instance: Instance) -> None:
        """Does nothing: the manifest is the registry."""

    async def resolve(self, service: str) -> list[Instance]:
        """The addresses listed for ``service`` (empty if none)."""
        return list(self._services.get(service, []))

    async def watch(self, service: str) -> AsyncIterator[list[Instance]]:
        """Yield the list once; it never changes, so then wait until the watcher is closed."""
        yield list(self._services.get(service, []))
        await asyncio.Event().wait()
