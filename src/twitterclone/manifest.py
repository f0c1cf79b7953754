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
    """Where the public REST API listens, and with how many worker processes."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1


class RedisConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The Redis that holds derived data: registry entries, streams, home timelines, counters."""

    url: str = "redis://127.0.0.1:6379/0"
    #: Every key this deployment writes starts with it (so deployments can share a server).
    prefix: str = "tc:"


class RegistryConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How processes find each other.

    ``inprocess``: nothing to find (everything local). ``static``: the addresses below.
    ``redis``: instances register themselves with a TTL and heartbeat.
    """

    backend: Literal["inprocess", "static", "redis"] = "inprocess"
    ttl_s: float = 6.0
    heartbeat_s: float = 2.0
    #: For ``static``: service name → list of "host:port".
    addresses: dict[str, list[str]] = {}


class EventsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How outbox events travel: within the process, or through Redis Streams."""

    transport: Literal["inprocess", "redis-streams"] = "inprocess"


class SecurityConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Service identity: internal tokens always; mutual TLS when ``mtls`` is on."""

    service_token_ttl_s: int = 60
    mtls: bool = False
    #: Directory with ca.pem and <service>.pem/<service>-key.pem (see `twitterclone dev-certs`).
    certs_dir: str = "certs"


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


_CHOICES = {
    "placement": "local, remote",
    "kind": "sqlite, postgresql",
    "backend": "inprocess, static, redis",
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
