"""Deployment manifests: which module runs where, and which stores they use.

A manifest is TOML validated with msgspec. A malformed one is refused with a message that
names the file, the key, and (for closed choices) the allowed values. Each module's own
``options`` table is kept as written here and validated against the type the module declares
(see ``twitterclone.infra.kernel.ModuleOptions``) by the composition root, with
``convert_table``: the manifest knows no module's options.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import msgspec

MODULE_NAMES = ("users", "tweets", "timeline", "media", "notifications", "analytics")


class ManifestError(ValueError):
    """The manifest cannot be used; the message says where and why."""


class DatabaseConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where modules keep their tables.

    ``kind = "sqlite"``: one file per module under the data directory (embedded default).
    ``kind = "postgresql"``: ``url`` is an SQLAlchemy asyncpg URL; each module gets its own
    schema (named after the module) unless ``schema_per_module`` is false.
    """

    kind: Literal["sqlite", "postgresql"] = "sqlite"
    url: str | None = None
    schema_per_module: bool = True


class GatewayConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the public REST API listens, and with how many worker processes.

    When the gateway hosts modules that services of their own call (a hybrid), it serves those
    modules' ports on a second, internal listener, ``internal_host:internal_port`` (default: the
    public host, and the public port + 1), with mutual TLS when ``security.mtls`` is on. The
    public listener never serves them.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    internal_host: str | None = None
    internal_port: int | None = None
    #: On a platform that scales (``twitterclone render kubernetes``): the gateway's replica range.
    autoscale: AutoscaleConfig | None = None


class RedisConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The Redis that holds derived data: registry entries, streams, home timelines, counters."""

    url: str = "redis://127.0.0.1:6379/0"
    #: Every key this deployment writes starts with it (so deployments can share a server).
    prefix: str = "tc:"


class RegistryConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How processes find each other.

    ``inprocess``: nothing to find (everything local). ``static``: the addresses below.
    ``redis``: instances register themselves with a TTL and heartbeat.
    ``dns``: the platform (Kubernetes) keeps a headless Service per module; a caller looks up
    ``dns_name`` every ``dns_refresh_s`` seconds and sees only the ready instances.
    """

    backend: Literal["inprocess", "static", "redis", "dns"] = "inprocess"
    ttl_s: float = 6.0
    heartbeat_s: float = 2.0
    #: For ``static``: service name → list of "host:port".
    addresses: dict[str, list[str]] = {}
    #: For ``dns``: the name each service is looked up by; ``{service}`` is the module (or gateway)
    #: name. A relative name goes through the resolver's search list (a pod's own namespace).
    dns_name: str = "{service}"
    #: For ``dns``: how often callers look the names up again.
    dns_refresh_s: float = 2.0
    #: For ``dns``: "host:port" of the servers to ask; empty means the system's resolver (resolv.conf).
    dns_nameservers: list[str] = []


class EventsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How outbox events travel: within the process, or through Redis Streams."""

    transport: Literal["inprocess", "redis-streams"] = "inprocess"


class SecurityConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Service identity: internal tokens always; mutual TLS when ``mtls`` is on."""

    service_token_ttl_s: int = 60
    mtls: bool = False
    #: Directory with ca.pem and <service>.pem/<service>-key.pem (see `twitterclone dev-certs`).
    certs_dir: str = "certs"


class AutoscaleConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How far the platform may scale a service: ``min``..``max`` replicas, aiming at ``target``
    per cent CPU utilisation (of the request) across them (a Kubernetes HorizontalPodAutoscaler)."""

    min: int = 1
    max: int
    target: int = 70


class ModuleConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where one module runs.

    ``local``: inside the gateway's process. ``remote``: its own service process(es),
    ``replicas`` of them, listening from ``port`` upward on ``host``.
    """

    placement: Literal["local", "remote"] = "local"
    database: DatabaseConfig | None = None
    replicas: int = 1
    host: str = "127.0.0.1"
    port: int | None = None
    #: The module's own choices, e.g. timeline's ``home_store = "redis"``; the module's options
    #: type validates them (at start, in the composition root).
    options: dict[str, Any] = {}
    #: On a platform that scales (``twitterclone render kubernetes``): the replica range.
    autoscale: AutoscaleConfig | None = None


class Manifest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A whole deployment."""

    name: str
    database: DatabaseConfig = DatabaseConfig()
    gateway: GatewayConfig = GatewayConfig()
    redis: RedisConfig | None = None
    registry: RegistryConfig = RegistryConfig()
    events: EventsConfig = EventsConfig()
    security: SecurityConfig = SecurityConfig()
    modules: dict[str, ModuleConfig] = {}
    #: Where the manifest was read from, for error messages (set by ``parse_manifest``, not a key).
    source: str = "<manifest>"

    def module(self, name: str) -> ModuleConfig:
        return self.modules.get(name, ModuleConfig())

    def database_for(self, name: str) -> DatabaseConfig:
        return self.module(name).database or self.database

    @property
    def gateway_serves_ports(self) -> bool:
        """Whether the gateway hosts modules that other processes call (an internal listener)."""
        return bool(self.remote_modules) and bool(self.local_modules)

    def gateway_internal_address(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        """Where the gateway's internal listener is, for a gateway publicly at ``host:port``
        (default: the manifest's): the configured address, else the same host and the next port."""
        host = host or self.gateway.host
        port = port or self.gateway.port
        return self.gateway.internal_host or host, self.gateway.internal_port or port + 1

    @property
    def local_modules(self) -> list[str]:
        """Modules that run inside the gateway's process."""
        return [m for m in MODULE_NAMES if self.module(m).placement == "local"]

    @property
    def remote_modules(self) -> list[str]:
        """Modules that run as services of their own."""
        return [m for m in MODULE_NAMES if self.module(m).placement == "remote"]


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc.strerror})") from exc
    return parse_manifest(text, source=str(path))


def with_store_urls(manifest: Manifest, *, database_url: str = "", redis_url: str = "") -> Manifest:
    """The manifest with its ``database.url`` / ``redis.url`` replaced where a URL is given.

    A platform hands processes their credentials as secrets in the environment
    (``TWITTERCLONE_DATABASE_URL``, ``TWITTERCLONE_REDIS_URL``), so the manifest file holds none.
    """
    if database_url and manifest.database.kind == "postgresql":
        manifest = msgspec.structs.replace(
            manifest, database=msgspec.structs.replace(manifest.database, url=database_url)
        )
    if redis_url and manifest.redis is not None:
        manifest = msgspec.structs.replace(
            manifest, redis=msgspec.structs.replace(manifest.redis, url=redis_url)
        )
    return manifest


def parse_manifest(text: str, *, source: str = "<manifest>") -> Manifest:
    """Validate manifest text; errors name the source and the offending key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{source}: not valid TOML: {exc}") from exc
    modules = raw.get("modules", {})
    if isinstance(modules, dict):
        unknown = sorted(set(modules) - set(MODULE_NAMES))
        if unknown:
            raise ManifestError(
                f"{source}: unknown module {unknown[0]!r} under [modules]; allowed: {', '.join(MODULE_NAMES)}"
            )
        for name, section in modules.items():  # one by one, so an error names the module
            convert_table(section, ModuleConfig, source=source, key=f"modules.{name}")
    if "source" in raw:
        raise ManifestError(f"{source}: unknown key 'source'")
    manifest = msgspec.structs.replace(convert_table(raw, Manifest, source=source), source=source)
    for name in MODULE_NAMES:
        db = manifest.database_for(name)
        if db.kind == "postgresql" and not db.url:
            raise ManifestError(f"{source}: database.url is required when database.kind is 'postgresql'")
        cfg = manifest.module(name)
        if cfg.replicas < 1:
            raise ManifestError(f"{source}: key 'modules.{name}.replicas' must be at least 1")
        if cfg.autoscale is not None and cfg.placement == "local":
            raise ManifestError(
                f"{source}: key 'modules.{name}.autoscale' needs placement = 'remote' "
                "(a local module scales with the gateway: use gateway.autoscale)"
            )
        _check_autoscale(source, f"modules.{name}", cfg.autoscale, cfg.replicas, db.kind)
        if cfg.placement == "remote":
            if db.kind == "sqlite" and cfg.replicas > 1:
                raise ManifestError(
                    f"{source}: modules.{name} has {cfg.replicas} replicas on SQLite; "
                    "replicas need a shared database (database.kind = 'postgresql')"
                )
            if manifest.registry.backend == "inprocess":
                raise ManifestError(
                    f"{source}: modules.{name} is remote but key 'registry.backend' is 'inprocess'; "
                    "allowed for split deployments: static, redis"
                )
            if manifest.registry.backend == "static" and not manifest.registry.addresses.get(name):
                raise ManifestError(
                    f"{source}: key 'registry.addresses.{name}' is required with a static registry"
                )
            if manifest.events.transport == "inprocess":
                raise ManifestError(
                    f"{source}: modules.{name} is remote but key 'events.transport' is 'inprocess'; "
                    "events between processes need: redis-streams"
                )
    if manifest.registry.backend == "dns" and "{service}" not in manifest.registry.dns_name:
        raise ManifestError(f"{source}: key 'registry.dns_name' must contain {{service}}")
    if manifest.gateway_internal_address() == (manifest.gateway.host, manifest.gateway.port):
        raise ManifestError(
            f"{source}: key 'gateway.internal_port' must differ from gateway.port on the same host "
            "(internal calls are never served on the public listener)"
        )
    gateway_scale = manifest.gateway.autoscale
    gateway_replicas = gateway_scale.min if gateway_scale else 1
    _check_autoscale(source, "gateway", gateway_scale, gateway_replicas, manifest.database.kind)
    needs_redis = manifest.registry.backend == "redis" or manifest.events.transport == "redis-streams"
    if needs_redis and manifest.redis is None:
        raise ManifestError(f"{source}: a [redis] section (url) is required by the registry or the events")
    return manifest


T = TypeVar("T")


def convert_table(raw: Any, kind: type[T], *, source: str, key: str = "") -> T:
    """Validate one table of a manifest (at ``key``) as ``kind``, a msgspec Struct.

    A mistake is a ``ManifestError`` naming the file, the key and, for a closed choice (a
    ``Literal`` field of ``kind``, or one of the manifest's own), the allowed values.
    """
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        raise ManifestError(
            f"{source}: {_explain(str(exc), key, {**_CHOICES, **_literal_choices(kind)})}"
        ) from exc


def _literal_choices(kind: type[Any]) -> dict[str, str]:
    """The allowed values of each closed-choice (``Literal``) field of a Struct, in declared order."""
    fields = get_type_hints(kind) if isinstance(kind, type) and issubclass(kind, msgspec.Struct) else {}
    return {
        name: ", ".join(str(v) for v in get_args(hint))
        for name, hint in fields.items()
        if get_origin(hint) is Literal
    }


def _check_autoscale(
    source: str, key: str, scale: AutoscaleConfig | None, replicas: int, db_kind: str
) -> None:
    if scale is None:
        return
    if scale.min < 1:
        raise ManifestError(f"{source}: key '{key}.autoscale.min' must be at least 1")
    if scale.max < scale.min:
        raise ManifestError(
            f"{source}: key '{key}.autoscale.max' must be at least autoscale.min ({scale.min})"
        )
    if not 1 <= scale.target <= 100:
        raise ManifestError(f"{source}: key '{key}.autoscale.target' is a CPU per cent: 1 to 100")
    if not scale.min <= replicas <= scale.max:
        raise ManifestError(
            f"{source}: key '{key}.replicas' ({replicas}) must lie within autoscale.min..max "
            f"({scale.min}..{scale.max})"
        )
    if db_kind == "sqlite" and scale.max > 1:
        raise ManifestError(
            f"{source}: key '{key}.autoscale.max' is {scale.max} on SQLite; "
            "replicas need a shared database (database.kind = 'postgresql')"
        )


_CHOICES = {
    "placement": "local, remote",
    "kind": "sqlite, postgresql",
    "backend": "inprocess, static, redis, dns",
    "transport": "inprocess, redis-streams",
}


def _explain(message: str, prefix: str, choices: dict[str, str]) -> str:
    # msgspec: "Invalid enum value 'x' - at `$.modules.users.placement`"
    text, _, where = message.partition(" - at `$")
    key = ".".join(p for p in (prefix, where.rstrip("`").lstrip(".")) if p)
    if text.startswith("Object contains unknown field"):
        field = text.split("`")[1]
        full = f"{key}.{field}" if key else field
        return f"unknown key '{full}'"
    if not key:
        return text
    leaf = key.rsplit(".", 1)[-1]
    hint = f"; allowed: {choices[leaf]}" if leaf in choices and "enum" in text.lower() else ""
    return f"key '{key}': {text}{hint}"
