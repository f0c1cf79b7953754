"""Deployment manifests: which module runs where, and which stores they use.

A manifest is TOML validated with msgspec. A malformed one is refused with a message that
names the file, the key, and (for closed choices) the allowed values.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

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


class ModuleConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where one module runs: ``local`` (in the gateway's process) or ``remote``."""

    placement: Literal["local", "remote"] = "local"
    database: DatabaseConfig | None = None


class Manifest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A whole deployment."""

    name: str
    database: DatabaseConfig = DatabaseConfig()
    gateway: GatewayConfig = GatewayConfig()
    modules: dict[str, ModuleConfig] = {}

    def module(self, name: str) -> ModuleConfig:
        return self.modules.get(name, ModuleConfig())

    def database_for(self, name: str) -> DatabaseConfig:
        return self.module(name).database or self.database

    @property
    def local_modules(self) -> list[str]:
        return [m for m in MODULE_NAMES if self.module(m).placement == "local"]


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
            try:
                msgspec.convert(section, ModuleConfig)
            except msgspec.ValidationError as exc:
                raise ManifestError(f"{source}: {_explain(str(exc), prefix=f'modules.{name}')}") from exc
    try:
        manifest = msgspec.convert(raw, Manifest)
    except msgspec.ValidationError as exc:
        raise ManifestError(f"{source}: {_explain(str(exc))}") from exc
    for name in MODULE_NAMES:
        db = manifest.database_for(name)
        if db.kind == "postgresql" and not db.url:
            raise ManifestError(f"{source}: database.url is required when database.kind is 'postgresql'")
    return manifest


_CHOICES = {
    "placement": "local, remote",
    "kind": "sqlite, postgresql",
}


def _explain(message: str, prefix: str = "") -> str:
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
    hint = f"; allowed: {_CHOICES[leaf]}" if leaf in _CHOICES and "enum" in text.lower() else ""
    return f"key '{key}': {text}{hint}"
