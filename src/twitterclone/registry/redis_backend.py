"""The Redis registry: one key per instance with a TTL that heartbeats refresh.

Layout (``<prefix>`` is the deployment's key prefix):

- ``<prefix>registry:<service>:<instance_id>`` — the instance as JSON, expiring after ``ttl_s``
  unless a heartbeat rewrites it. The key's existence *is* the instance's health.
- ``<prefix>registry-index:<service>`` — a set of the service's instance ids, so ``resolve`` reads
  only that service's keys (one SMEMBERS + one MGET) instead of SCANning the whole keyspace, which
  also holds timelines and caches and grows with users, not with instances. Ids whose key has
  expired are pruned by ``resolve`` with a script that removes an id only if its key is still
  absent, so a prune can never race away an instance that re-registered in between.
- ``<prefix>registry-known:<service>`` — "this service has had instances lately": written with
  every registration, expiring with the index. An empty answer *with* it means the service has
  no instance; *without* it, the registry lost its state (Redis restarted empty, or was
  flushed), so ``resolve`` raises ``RegistryStateUnknown`` and callers keep the instances they
  knew until heartbeats re-register them, instead of routing to nobody for a heartbeat period.

An instance killed without deregistering disappears from ``resolve`` within ``ttl_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import redis.asyncio as aioredis

from twitterclone.registry.base import Instance, RegistryStateUnknown, check_service_name

log = logging.getLogger("twitterclone.registry")

# KEYS[1] = index, KEYS[2..] = instance keys; ARGV[i] = the id of KEYS[i + 1].
_PRUNE = """
local removed = 0
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    removed = removed + redis.call('SREM', KEYS[1], ARGV[i - 1])
  end
end
return removed
"""

#: The index outlives its instances by this factor of the TTL, then Redis drops it on its own.
_INDEX_TTL_FACTOR = 10

_decoder = msgspec.json.Decoder(Instance)


class RedisRegistry:
    """Registry entries in Redis with TTL heartbeats (for split deployments)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        ttl_s: float = 6.0,
        *,
        watch_interval_s: float = 1.0,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self._redis = redis
        self._prefix = prefix
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._watch_interval_s = watch_interval_s
        self._prune = redis.register_script(_PRUNE)

    @property
    def ttl_s(self) -> float:
        return self._ttl_ms / 1000

    def instance_key(self, service: str, instance_id: str) -> str:
        return f"{self._prefix}registry:{service}:{instance_id}"

    def index_key(self, service: str) -> str:
        return f"{self._prefix}registry-index:{service}"

    def known_key(self, service: str) -> str:
        return f"{self._prefix}registry-known:{service}"

    async def register(self, instance: Instance) -> None:
        """Write the instance with a fresh TTL and add it to its service's index."""
        check_service_name(instance.service)
        index = self.index_key(instance.service)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(
                self.instance_key(instance.service, instance.instance_id),
                msgspec.json.encode(instance),
                px=self._ttl_ms,
            )
            pipe.sadd(index, instance.instance_id)
            pipe.pexpire(index, self._ttl_ms * _INDEX_TTL_FACTOR)
            pipe.set(self.known_key(instance.service), b"1", px=self._ttl_ms * _INDEX_TTL_FACTOR)
            await pipe.execute()

    async def heartbeat(self, instance: Instance) -> None:
        """Refresh the TTL; rewriting the entry also brings back an instance that had expired."""
        await self.register(instance)

    async def deregister(self, instance: Instance) -> None:
        """Remove the instance now."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.instance_key(instance.service, instance.instance_id))
            pipe.srem(self.index_key(instance.service), instance.instance_id)
            await pipe.execute()

    async def resolve(self, service: str) -> list[Instance]:
        """Instances of ``service`` whose key has not expired, ordered by instance id.

        Raises ``RegistryStateUnknown`` when nothing is found because the registry lost its state.
        """
        index = self.index_key(service)
        ids = sorted(_text(m) for m in await _wait(self._redis.smembers(index)))
        if not ids:
            if not await self._redis.exists(self.known_key(service)):
                raise RegistryStateUnknown(f"the registry has no record of {service!r}: it lost its state")
            return []
        keys = [self.instance_key(service, i) for i in ids]
        # The known key comes in the same MGET: one snapshot, so a registry that lost its state
        # between the SMEMBERS and here (Redis restarted or flushed) reads as unknown, not as a
        # service whose every instance expired, which callers would have routed to nobody.
        *values, known = await _wait(self._redis.mget([*keys, self.known_key(service)]))
        found: list[Instance] = []
        gone: list[str] = []
        for instance_id, key, value in zip(ids, keys, values, strict=True):
            if value is None:
                gone.append(instance_id)
                continue
            try:
                found.append(_decoder.decode(value))
            except (msgspec.DecodeError, msgspec.ValidationError):
                log.warning("ignoring an unreadable registry entry", extra={"key": key})
        if not found and known is None:
            raise RegistryStateUnknown(f"the registry lost its state while {service!r} was read")
        if gone:
            await self._prune(keys=[index, *(self.instance_key(service, i) for i in gone)], args=gone)
        return found

    async def watch(self, service: str) -> AsyncIterator[list[Instance]]:
        """Yield the current list, then each changed list (polled every ``watch_interval_s``).

        Polling, not keyspace notifications: expiry must be seen too, and notifications need a
        server setting (``notify-keyspace-events``) we cannot count on. A failing poll is logged
        and retried; the watcher keeps its last list meanwhile.
        """
        last: list[Instance] | None = None
        while True:
            try:
                current = await self.resolve(service)
            except (aioredis.RedisError, OSError, RegistryStateUnknown):
                log.warning("registry watch failed; retrying", extra={"service": service}, exc_info=True)
            else:
                if current != last:
                    last = current
                    yield current
            await asyncio.sleep(self._watch_interval_s)


async def _wait(value: Any) -> Any:
    # redis-py annotates commands as "result or awaitable of result"; on redis.asyncio it is awaitable.
    return await value


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
