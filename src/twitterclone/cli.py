"""The ``twitterclone`` command: migrate, run the monolith, and more."""

from __future__ import annotations

import asyncio
import os
import sys

import click

from twitterclone.manifest import ManifestError, load_manifest
from twitterclone.settings import Settings, SettingsError


def _settings(manifest: str | None) -> Settings:
    try:
        overrides: dict[str, object] = {"manifest": manifest} if manifest else {}
        return Settings.from_env(None, **overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def main() -> None:
    """twitterclone: a Twitter-like backend, one codebase in any topology."""


@main.command()
@click.option("--manifest", "-m", help="Deployment manifest (default: $TWITTERCLONE_MANIFEST or monolith).")
def migrate(manifest: str | None) -> None:
    """Apply every local module's migrations (one Alembic lineage per module)."""
    from twitterclone.composition import MODULES, store_locations
    from twitterclone.infra.store import ModuleStore
    from twitterclone.migrate import migrate as migrate_store

    settings = _settings(manifest)
    try:
        m = load_manifest(settings.manifest)
    except ManifestError as exc:
        raise click.ClickException(str(exc)) from exc
    locations = store_locations(m, settings)

    async def run() -> None:
        for name in m.local_modules:
            if name not in MODULES:
                continue
            url, schema = locations[name]
            store = ModuleStore(name, url, schema=schema)
            try:
                result = await migrate_store(store)
            finally:
                await store.dispose()
            state = (
                "up to date"
                if result.before == result.after
                else f"{result.before or 'empty'} -> {result.after}"
            )
            click.echo(f"  {name:<14} {state}")

    click.echo(f"migrating ({m.name}, data in {settings.data_path.resolve()})")
    asyncio.run(run())


@main.command()
@click.option("--manifest", "-m", help="Deployment manifest (default: $TWITTERCLONE_MANIFEST or monolith).")
@click.option("--host", help="Listen address (default: the manifest's gateway.host).")
@click.option("--port", type=int, help="Listen port (default: the manifest's gateway.port).")
@click.option("--workers", type=int, help="Worker processes (default: the manifest's gateway.workers).")
def run(manifest: str | None, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the gateway (and every local module) with granian."""
    from granian import Granian
    from granian.constants import Interfaces

    settings = _settings(manifest)
    try:
        m = load_manifest(settings.manifest)
    except ManifestError as exc:
        raise click.ClickException(str(exc)) from exc
    os.environ["TWITTERCLONE_MANIFEST"] = settings.manifest
    host = host or m.gateway.host
    port = port or m.gateway.port
    click.echo(f"serving {m.name} on http://{host}:{port}  (API docs: http://{host}:{port}/schema)")
    Granian(
        "twitterclone.gateway.app:create_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers or m.gateway.workers,
        log_access=False,
    ).serve()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
