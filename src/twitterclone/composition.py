"""The composition root: reads the manifest and binds every port to its implementation.

This is the only place that imports ``modules``. A local module's port is bound to its
service object (a plain ``await``); a module placed elsewhere is reached through the
generic HTTP port adapter. No other code path asks "am I split?".
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dishka import AsyncContainer, Provider, Scope, make_async_container

from modules import analytics, media, notifications, timeline, tweets, users
from twitterclone.identity import KEYS_DIR, PublicKeys, ServiceIdentity, load_own_key
from twitterclone.infra.events import LocalBus, OutboxRelay, Publisher, Subscription, purge_inbox_forever
from twitterclone.infra.kernel import Kernel, ModuleOptions, ModuleSpec
from twitterclone.infra.store import sqlite_url
from twitterclone.manifest import MODULE_NAMES, Manifest, ManifestError, convert_table
from twitterclone.registry import (
    InProcessRegistry,
    Instance,
    RedisRegistry,
    Registration,
    Registry,
    StaticRegistry,
)
from twitterclone.registry.dns import DnsRegistry
from twitterclone.remote.client import remote_port
from twitterclone.remote.http import HttpTransport
from twitterclone.remote.portspec import port_spec
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


def module_options(manifest: Manifest) -> dict[str, ModuleOptions]:
    """Every module's ``[modules.<m>] options``, validated against the type its spec declares.

    Raises ManifestError (the file, the key, the allowed values) for an unknown option, a bad
    value, options given to a module that takes none, or a choice that needs [redis] without it.
    """
    chosen: dict[str, ModuleOptions] = {}
    for name, spec in MODULES.items():
        raw, key = manifest.module(name).options, f"modules.{name}.options"
        if spec.options is None:
            if raw:
                raise ManifestError(
                    f"{manifest.source}: unknown key '{key}.{next(iter(raw))}'; {name} takes no options"
                )
            continue
        options = convert_table(raw, spec.options, source=manifest.source, key=key)
        if options.needs_redis() and manifest.redis is None:
            raise ManifestError(f"{manifest.source}: key '{key}' needs a [redis] section (url)")
        chosen[name] = options
    return chosen


def port_dependencies() -> dict[str, tuple[str, ...]]:
    """Which modules each module calls, read from what its provider's factories ask for.

    A factory parameter typed by a contract of ``boundaries.<m>`` (any port of module ``m``) is a
    dependency on ``m``. This is the graph the code declares; network policies are rendered from it.
    """
    graph: dict[str, tuple[str, ...]] = {}
    for name, spec in MODULES.items():
        needs: set[str] = set()
        for factory in spec.provider().factories:
            for key in [*factory.dependencies, *factory.kw_dependencies.values()]:
                parts = getattr(key.type_hint, "__module__", "").split(".")
                if len(parts) > 1 and parts[0] == "boundaries" and parts[1] in MODULES and parts[1] != name:
                    needs.add(parts[1])
        graph[name] = tuple(sorted(needs))
    return graph


def port_grants() -> dict[str, dict[str, frozenset[str]]]:
    """The port methods each module may call on each other module, from its providers' factories.

    A factory parameter typed by a port of ``boundaries.<m>`` (the full port or a narrow face
    of it) grants its methods on ``m``; nothing else is granted. The same declaration as
    ``port_dependencies``, down to methods: it is what internal calls are authorised by. The
    gateway is not in it: it serves the public API and may call every method.
    """
    grants: dict[str, dict[str, set[str]]] = {name: {} for name in MODULES}
    for name, spec in MODULES.items():
        for factory in spec.provider().factories:
            for key in [*factory.dependencies, *factory.kw_dependencies.values()]:
                hint = key.type_hint
                parts = getattr(hint, "__module__", "").split(".")
                if len(parts) > 1 and parts[0] == "boundaries" and parts[1] in MODULES and parts[1] != name:
                    methods = port_spec(parts[1], hint).methods
                    grants[name].setdefault(parts[1], set()).update(methods)
    return {name: {m: frozenset(ms) for m, ms in targets.items()} for name, targets in grants.items()}


def store_locations(manifest: Manifest, settings: Settings) -> dict[str, tuple[str, str | None]]:
    """Database URL and schema of every module, from the manifest."""
    locations: dict[str, tuple[str, str | None]] = {}
    for name in MODULE_NAMES:
        db = manifest.database_for(name)
        if db.kind == "sqlite":
            locations[name] = (sqlite_url(settings.data_path, name), None)
        else:
            assert db.url is not None
            locations[name] = (db.url, name if db.schema_per_module else None)
    return locations


GATEWAY = "gateway"


def service_keys_dir(settings: Settings) -> Path:
    """Where the services' identity keys live (each its own private key, every public key)."""
    return Path(settings.service_keys_dir) if settings.service_keys_dir else settings.data_path / KEYS_DIR


@dataclass
class Runtime:
    """One process's wiring: the container, stores, event relays and consumers, registration.

    ``role`` is ``"gateway"`` (the public API with every local module of the manifest) or
    a module name (a service process that hosts only that module).
    """

    manifest: Manifest
    settings: Settings
    role: str
    kernel: Kernel
    container: AsyncContainer
    local_modules: list[str]
    identity: ServiceIdentity | None
    registry: Registry
    transport: HttpTransport | None
    publisher: Publisher
    bus: LocalBus | None = None
    relays: list[OutboxRelay] = field(default_factory=list)
    stream_consumer: Any = None  # a StreamConsumer when events travel through Redis Streams
    registrations: list[Registration] = field(default_factory=list)
    #: This process's name among consumers (stable across restarts of the same replica).
    instance_name: str | None = None
    _jobs: list[asyncio.Future[None]] = field(default_factory=list)

    @property
    def is_split(self) -> bool:
        """Whether any module of the deployment runs in another process."""
        return bool(self.manifest.remote_modules)

    async def get(self, type_: type[Any]) -> Any:
        """Resolve a port (or anything else provided) from the container."""
        return await self.container.get(type_)

    async def start(self) -> None:
        """Subscribe consumers, start outbox relays and background jobs (the modules', and the
        kernel's inbox purge on every local module's store)."""
        await self.kernel.start()
        subscriptions: list[Subscription[Any]] = []
        for name in self.local_modules:
            spec = MODULES[name]
            if spec.consumer is not None:
                consumer = await self.container.get(spec.consumer)
                subscriptions.extend(consumer.subscriptions())
                for job in consumer.background_jobs():
                    self._jobs.append(asyncio.ensure_future(job()))
            for port in spec.ports:
                await self.container.get(port)  # surface wiring errors at start, not first call
            purge = purge_inbox_forever(self.kernel.store(name), self.settings.inbox_retention_s)
            self._jobs.append(asyncio.create_task(purge, name=f"inbox-purge-{name}"))
        if self.bus is not None:
            self.bus.subscribe(subscriptions)
        elif subscriptions:
            from twitterclone.infra.streams import StreamConsumer  # only split deployments need it

            instance = self.instance_name or f"{self.role}-{socket.gethostname()}-{os.getpid()}"
            self.stream_consumer = StreamConsumer(
                self.kernel.redis, self.kernel.key_prefix, subscriptions, instance=instance
            )
            await self.stream_consumer.start()
        for name in self.local_modules:
            relay = OutboxRelay(
                self.kernel.store(name), self.publisher, retention_s=self.settings.outbox_retention_s
            )
            relay.start()
            self.relays.append(relay)

    async def register(self, host: str, port: int, *, internal: tuple[str, int] | None = None) -> None:
        """Announce this process in the registry (once it is ready to serve).

        A service process registers as its module, at its (internal) listener. A gateway
        registers at its public listener and, when it hosts modules that others call, as each of
        those modules at its ``internal`` listener: port calls are never served publicly.
        """
        internal_scheme: Literal["http", "https"] = "https" if self.manifest.security.mtls else "http"
        entries: list[tuple[str, str, Literal["http", "https"]]]
        if self.role == GATEWAY:
            entries = [(GATEWAY, f"{host}:{port}", "http")]
            if internal is not None:
                entries += [(m, f"{internal[0]}:{internal[1]}", internal_scheme) for m in self.local_modules]
        else:
            entries = [(self.role, f"{host}:{port}", internal_scheme)]
        for service, address, scheme in entries:
            instance = Instance(
                service=service,
                instance_id=f"{socket.gethostname()}-{os.getpid()}-{port}",
                address=address,
                scheme=scheme,
                started_at=time.time(),
                meta={"pid": str(os.getpid()), "process": self.role},
            )
            registration = Registration(self.registry, instance, self.manifest.registry.heartbeat_s)
            await registration.start()
            self.registrations.append(registration)

    async def deregister(self) -> None:
        """Leave routing (callers stop choosing this process); ``stop`` does it too."""
        registrations, self.registrations = self.registrations, []
        for registration in registrations:
            await registration.stop()

    async def stop(self) -> None:
        await self.deregister()  # leave routing before draining
        if self.stream_consumer is not None:
            await self.stream_consumer.stop()
        for relay in self.relays:
            await relay.stop()
        for job in self._jobs:
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
        await self.container.close()
        if self.transport is not None:
            await self.transport.aclose()
        await self.kernel.dispose()

    async def drain_events(self, timeout_s: float = 10.0) -> None:
        """Relay until every local outbox is empty (for tests and graceful shutdown)."""
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


def make_registry(manifest: Manifest, kernel: Kernel) -> Registry:
    """The registry backend the manifest names."""
    cfg = manifest.registry
    if cfg.backend == "redis":
        return RedisRegistry(kernel.redis, kernel.key_prefix, cfg.ttl_s)
    if cfg.backend == "static":
        return StaticRegistry(cfg.addresses)
    if cfg.backend == "dns":
        return DnsRegistry(
            dns_names(manifest),
            refresh_s=cfg.dns_refresh_s,
            nameservers=cfg.dns_nameservers,
            scheme="https" if manifest.security.mtls else "http",
        )
    return InProcessRegistry()


def dns_names(manifest: Manifest) -> dict[str, tuple[str, int]]:
    """Each service's DNS name and port: a remote module's own, a local one's the gateway's
    internal listener (port calls are never served on the public one)."""
    names = {GATEWAY: (manifest.registry.dns_name.format(service=GATEWAY), manifest.gateway.port)}
    for m in MODULE_NAMES:
        cfg = manifest.module(m)
        port = cfg.port if cfg.placement == "remote" else manifest.gateway_internal_address()[1]
        if port is not None:
            names[m] = (manifest.registry.dns_name.format(service=m), port)
    return names


def build_runtime(manifest: Manifest, settings: Settings, role: str = GATEWAY) -> Runtime:
    """Wire one process from a manifest.

    Local modules are bound to their services; every other module's port to the generic
    HTTP client, which finds instances through the registry. That binding is the only
    difference between topologies.
    """
    if role == GATEWAY:
        local = [m for m in manifest.local_modules if m in MODULES]
    elif role in MODULES:
        local = [role]
    else:
        raise ValueError(f"unknown service {role!r}; allowed: {GATEWAY}, {', '.join(MODULES)}")
    kernel = Kernel(
        settings,
        store_locations(manifest, settings),
        redis_url=manifest.redis.url if manifest.redis else None,
        key_prefix=manifest.redis.prefix if manifest.redis else "tc:",
        module_options=module_options(manifest),
        leased_worker_id=manifest.redis is not None,
    )
    registry = make_registry(manifest, kernel)
    kernel_provider = Provider(scope=Scope.APP)
    kernel_provider.provide(lambda: kernel, provides=Kernel)
    kernel_provider.provide(lambda: settings, provides=Settings)
    providers = [kernel_provider, *(MODULES[m].provider() for m in local)]

    identity: ServiceIdentity | None = None
    transport: HttpTransport | None = None
    remote = [m for m in MODULES if m not in local]
    if manifest.remote_modules:
        keys = service_keys_dir(settings)
        identity = ServiceIdentity(
            load_own_key(keys, role),
            caller=role,
            public_keys=PublicKeys(keys),
            ttl_s=manifest.security.service_token_ttl_s,
        )
        transport = HttpTransport(
            None,
            registry,
            token_for=identity.token_for,
            ssl_context=_internal_ssl(manifest, settings, role),
        )
        remote_provider = Provider(scope=Scope.APP)
        for m in remote:
            # The narrow ports too: the same generic client, the same module name on the wire.
            for port in MODULES[m].ports:
                remote_provider.provide(_remote_factory(m, port, transport), provides=port)
        providers.append(remote_provider)

    publisher: Publisher
    bus: LocalBus | None = None
    if manifest.events.transport == "redis-streams":
        from twitterclone.infra.streams import StreamPublisher  # only split deployments need it

        publisher = StreamPublisher(kernel.redis, kernel.key_prefix)
    else:
        bus = LocalBus()
        publisher = bus
    return Runtime(
        manifest=manifest,
        settings=settings,
        role=role,
        kernel=kernel,
        container=make_async_container(*providers),
        local_modules=local,
        identity=identity,
        registry=registry,
        transport=transport,
        publisher=publisher,
        bus=bus,
    )


def _remote_factory(module: str, port: type[Any], transport: HttpTransport) -> Any:
    def factory() -> Any:
        return remote_port(module, port, transport)

    return factory


def _internal_ssl(manifest: Manifest, settings: Settings, role: str) -> ssl.SSLContext | None:
    """With mutual TLS on, the context internal calls use: this process's certificate, the dev CA."""
    if not manifest.security.mtls:
        return None
    certs = Path(manifest.security.certs_dir)
    if not certs.is_absolute():
        certs = settings.data_path / certs
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    ctx.load_cert_chain(str(certs / f"{role}.pem"), str(certs / f"{role}-key.pem"))
    return ctx
