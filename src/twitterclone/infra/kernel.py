"""What the composition root hands every module: settings, ids, stores, and module specs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from dishka import Provider
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from twitterclone.infra.events import Subscription
from twitterclone.infra.ids import IdGenerator, WorkerLease, claim_worker_id
from twitterclone.infra.store import ModuleStore
from twitterclone.settings import Settings


class Consumer:
    """Base of a module's event consumer: it declares its subscriptions (see ``Subscription``)."""

    def subscriptions(self) -> list[Subscription[Any]]:
        """The events this module consumes, each with a stable consumer name and its handler."""
        return []

    def background_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        """Long-running jobs (cleanup, sweeps) started with the process and cancelled at stop."""
        return []


class ModuleOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of a module's own choices in the manifest (``[modules.<m>] options = { ... }``).

    A module subclasses it (with ``frozen=True`` again, for type checkers), using typed fields
    (a ``Literal`` for a closed choice), and names the subclass in its ``ModuleSpec``; the
    composition root validates the manifest's table against it at start, with errors naming
    the file, the key and the allowed values.
    """

    def needs_redis(self) -> bool:
        """Whether these choices keep something in the deployment's Redis (then [redis] is required)."""
        return False


OptionsT = TypeVar("OptionsT", bound=ModuleOptions)


@dataclass(frozen=True)
class ModuleSpec:
    """How the composition root wires one module.

    ``provider`` makes a dishka Provider that provides ``port`` and every one of
    ``narrow_ports`` (and ``consumer`` when the module consumes events). A narrow port is a
    smaller face of the same service for other modules: its methods are served under the same
    module name, so one port server answers both.
    """

    name: str
    port: type[Any]
    provider: Callable[[], Provider]
    consumer: type[Consumer] | None = None
    #: The module's manifest options, or None when it takes none.
    options: type[ModuleOptions] | None = None
    narrow_ports: tuple[type[Any], ...] = ()

    @property
    def ports(self) -> tuple[type[Any], ...]:
        """The port and its narrow faces: every port type the module answers."""
        return (self.port, *self.narrow_ports)


def redis_client(url: str) -> Redis:
    """A Redis client that outlives a Redis restart.

    ``from_url`` alone retries nothing: after Redis restarts, every pooled connection is dead and
    each one fails its next command once (``Error UNKNOWN while writing to socket``), for as long
    as the pool keeps handing them out. So: a command that fails on a connection error or a
    timeout is retried on a fresh connection (three times, 10 to 200 ms jittered backoff), and a
    connection idle for more than 5 s is checked with a PING before it is used. A retried write
    may apply twice if the first try reached Redis and the answer was lost; everything written to
    Redis is idempotent or deduplicated downstream (stream entries carry event ids; timelines are
    sorted sets; registry entries are overwritten; a rate-limit token charged twice is harmless).
    """
    return Redis.from_url(
        url,
        retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.2), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=5,
        socket_connect_timeout=1.0,
        socket_keepalive=True,
    )


class Kernel:
    """The infrastructure one process shares among its local modules."""

    def __init__(
        self,
        settings: Settings,
        store_urls: dict[str, tuple[str, str | None]],
        *,
        redis_url: str | None = None,
        key_prefix: str = "tc:",
        module_options: Mapping[str, ModuleOptions | Mapping[str, Any]] | None = None,
        leased_worker_id: bool = False,
    ) -> None:
        """``leased_worker_id``: take the Snowflake worker id as a lease in Redis (deployments
        whose processes may run on several machines) rather than a lock file in the data
        directory; ids are made only once ``start()`` took it. A ``worker_id`` setting wins."""
        self.settings = settings
        self._redis_url = redis_url
        self._redis: Redis | None = None
        #: Every Redis key this deployment writes starts with it.
        self.key_prefix = key_prefix
        #: The worker id lease, when the id is held cluster-wide (see ``infra/ids.py``).
        self.worker_lease: WorkerLease | None = None
        worker_id = settings.worker_id
        if worker_id is None and leased_worker_id:
            self.worker_lease = WorkerLease(lambda: self.redis, key_prefix)
        elif worker_id is None:
            worker_id = claim_worker_id(settings.data_path / "worker-ids")
        self.ids = IdGenerator(worker_id, lease=self.worker_lease)
        self._store_urls = store_urls
        self._stores: dict[str, ModuleStore] = {}
        self._options = module_options or {}

    def options(self, module: str, kind: type[OptionsT]) -> OptionsT:
        """``module``'s choices from the manifest (``[modules.<m>] options``), as its ``kind``.

        The composition root hands them over validated; a plain table (tests) is converted here.
        """
        given = self._options.get(module, {})
        if isinstance(given, kind):
            return given
        if isinstance(given, ModuleOptions):
            raise TypeError(f"{module}'s options are {type(given).__name__}, not {kind.__name__}")
        return msgspec.convert(dict(given), kind)

    @property
    def has_redis(self) -> bool:
        return self._redis_url is not None

    @property
    def redis(self) -> Redis:
        """The deployment's Redis client (only for derived, rebuildable data)."""
        if self._redis_url is None:
            raise RuntimeError("this deployment's manifest has no [redis] section")
        if self._redis is None:
            self._redis = redis_client(self._redis_url)
        return self._redis

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

    async def start(self) -> None:
        """Take the worker id lease (when there is one) and keep it renewed."""
        if self.worker_lease is not None:
            await self.worker_lease.start()

    async def dispose(self) -> None:
        if self.worker_lease is not None:
            await self.worker_lease.stop()
        for store in self._stores.values():
            await store.dispose()
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
