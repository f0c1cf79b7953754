"""The in-process registry: a dict, for the monolith and for tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from twitterclone.registry.base import Instance, check_service_name


class InProcessRegistry:
    """Instances live as long as this object; nothing expires (the process is the instance)."""

    def __init__(self) -> None:
        self._services: dict[str, dict[str, Instance]] = {}
        self._watchers: dict[str, set[asyncio.Queue[list[Instance]]]] = {}

    async def register(self, instance: Instance) -> None:
        """Make ``instance`` resolvable (idempotent)."""
        check_service_name(instance.service)
        instances = self._services.setdefault(instance.service, {})
        if instances.get(instance.instance_id) != instance:
            instances[instance.instance_id] = instance
            self._changed(instance.service)

    async def heartbeat(self, instance: Instance) -> None:
        """Nothing expires here; a heartbeat re-registers an instance that was removed."""
        await self.register(instance)

    async def deregister(self, instance: Instance) -> None:
        """Remove ``instance``; unknown instances are ignored."""
        instances = self._services.get(instance.service, {})
        if instances.pop(instance.instance_id, None) is not None:
            self._changed(instance.service)

    async def resolve(self, service: str) -> list[Instance]:
        """The registered instances of ``service``, ordered by instance id."""
        return self._current(service)

    async def watch(self, service: str) -> AsyncIterator[list[Instance]]:
        """Yield the current list, then the new list after every change."""
        queue: asyncio.Queue[list[Instance]] = asyncio.Queue()
        self._watchers.setdefault(service, set()).add(queue)
        try:
            yield self._current(service)
            while True:
                latest = await queue.get()
                while not queue.empty():  # a burst of changes: only the newest matters
                    latest = queue.get_nowait()
                yield latest
        finally:
            self._watchers.get(service, set()).discard(queue)

    def _current(self, service: str) -> list[Instance]:
        instances = self._services.get(service, {})
        return [instances[k] for k in sorted(instances)]

    def _changed(self, service: str) -> None:
        current = self._current(service)
        for queue in self._watchers.get(service, ()):
            queue.put_nowait(current)
