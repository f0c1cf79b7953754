"""The ``twitterclone`` command: migrate, run the monolith, and more."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import sys
from pathlib import Path

import click

from twitterclone.manifest import Manifest, ManifestError, load_manifest
from twitterclone.settings import Settings, SettingsError, load_deployment


def _settings(manifest: str | None) -> Settings:
    try:
        overrides: dict[str, object] = {"manifest": manifest} if manifest else {}
        return Settings.from_env(None, **overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


#: Entry-point group through which tools beside the product add subcommands (the benchmark adds
#: ``bench``), so the product never imports them: a tool not installed is simply not listed.
PLUGIN_GROUP = "twitterclone.commands"


class _PluginGroup(click.Group):
    """The built-in commands, plus those other packages register under ``PLUGIN_GROUP``.

    Plugins load only when listed or invoked, so ``twitterclone run`` pays nothing for them."""

    def _plugins(self) -> dict[str, importlib.metadata.EntryPoint]:
        return {ep.name: ep for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and (entry := self._plugins().get(cmd_name)) is not None:
            loaded = entry.load()
            if not isinstance(loaded, click.Command):
                raise click.ClickException(f"entry point {entry.value!r} is not a click command")
            command = loaded
        return command


@click.group(cls=_PluginGroup)
def main() -> None:
    """twitterclone: a Twitter-like backend, one codebase in any topology."""


MANIFEST_HELP = "Deployment manifest (default: $TWITTERCLONE_MANIFEST, else deployments/monolith.toml)."


def _load(manifest: str | None) -> tuple[Settings, Manifest]:
    """Settings and the manifest, modules' options included, checked before anything starts."""
    from twitterclone.composition import module_options

    settings = _settings(manifest)
    try:
        loaded = load_deployment(settings)
        module_options(loaded)
    except ManifestError as exc:
        raise click.ClickException(str(exc)) from exc
    return settings, loaded


@main.command()
@click.option("--manifest", "-m", help=MANIFEST_HELP)
@click.option("--service", "-s", help="Only this module's schema (default: every module of the deployment).")
def migrate(manifest: str | None, service: str | None) -> None:
    """Apply the migrations of every module (one Alembic lineage and version table per module)."""
    from twitterclone.migrate import migrate_deployment

    settings, m = _load(manifest)
    modules = [service] if service else None
    click.echo(f"migrating {m.name} (data in {settings.data_path.resolve()})")
    try:
        for result in asyncio.run(migrate_deployment(m, settings, modules)):
            state = (
                "up to date"
                if result.before == result.after
                else f"{result.before or 'empty'} -> {result.after}"
            )
            click.echo(f"  {result.module:<14} {state}")
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"migration failed: {exc}") from exc


def _serve(
    target: str,
    host: str,
    port: int,
    workers: int,
    m: Manifest,
    settings: Settings,
    service: str,
    *,
    backlog: int | None = None,
    backpressure: int | None = None,
    keep_alive_s: float | None = None,
) -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    from twitterclone.listeners import MissingCertificate, reserve, server_tls

    os.environ["TWITTERCLONE_MANIFEST"] = settings.manifest
    os.environ["TWITTERCLONE_SERVICE"] = service
    os.environ["TWITTERCLONE_SERVICE_HOST"] = host
    os.environ["TWITTERCLONE_SERVICE_PORT"] = str(port)
    # A service's one listener is internal: mutual TLS when mtls is on. The gateway's public
    # listener is the plain edge; its internal listener (gateway/app.py), if it has one, gets the TLS.
    has_internal = service != "gateway" or m.gateway_serves_ports
    try:
        internal_tls = server_tls(m, settings, service) if has_internal else {}
    except MissingCertificate as exc:
        raise click.ClickException(str(exc)) from exc
    tls = internal_tls if service != "gateway" else {}
    # Connection handling (granian's defaults unless given): the listen backlog; backpressure, the most
    # connections one worker holds at once (an idle keep-alive connection holds one). And how long a
    # request's headers (or an idle keep-alive connection) may take, granian's http1 header read
    # timeout: TWITTERCLONE_HEADER_READ_TIMEOUT_S, so a client sending headers a byte a second
    # (slowloris) is cut off; the body has its own timeout in the app (gateway/admission.py).
    tuning: dict[str, object] = {}
    if backlog is not None:
        tuning["backlog"] = backlog
    if backpressure is not None:
        tuning["backpressure"] = backpressure
    header_read_s = settings.header_read_timeout_s if keep_alive_s is None else keep_alive_s
    tuning["http1_settings"] = HTTP1Settings(header_read_timeout=round(header_read_s * 1000))
    reserved = None
    if service == "gateway" and m.gateway_serves_ports:  # held until the workers bind it (listeners.py)
        internal = m.gateway_internal_address(host, port)
        try:
            reserved = reserve(*internal)
        except OSError as exc:
            raise click.ClickException(
                f"the gateway's internal listener cannot have {internal[0]}:{internal[1]}: {exc.strerror} "
                "(set gateway.internal_port)"
            ) from exc
    server = Granian(
        target,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        log_access=False,
        **tls,
        **tuning,  # type: ignore[arg-type]
    )
    try:
        server.serve()
    finally:
        if reserved is not None:
            reserved.close()


@main.command()
@click.option("--manifest", "-m", help=MANIFEST_HELP)
@click.option("--host", help="Listen address (default: the manifest's gateway.host).")
@click.option("--port", type=int, help="Listen port (default: the manifest's gateway.port).")
@click.option("--workers", type=int, help="Worker processes (default: the manifest's gateway.workers).")
@click.option(
    "--backlog",
    type=click.IntRange(min=128),
    help="Listen backlog (default: granian's, 1024; the kernel caps it at net.core.somaxconn).",
)
@click.option(
    "--backpressure",
    type=click.IntRange(min=1),
    help="Most connections each worker holds open at once, idle keep-alive ones included "
    "(default: granian's, backlog / workers). Keep it under the workers' RLIMIT_NOFILE.",
)
@click.option(
    "--keep-alive-timeout",
    type=click.FloatRange(min=1),
    help="Seconds an idle keep-alive connection (or a request's headers) may take before the server "
    "closes it (default: $TWITTERCLONE_HEADER_READ_TIMEOUT_S, 10).",
)
def run(
    manifest: str | None,
    host: str | None,
    port: int | None,
    workers: int | None,
    backlog: int | None,
    backpressure: int | None,
    keep_alive_timeout: float | None,
) -> None:
    """Serve the gateway with every local module in its process (the monolith) on granian."""
    settings, m = _load(manifest)
    if m.remote_modules:
        raise click.ClickException(
            f"{settings.manifest} places {', '.join(m.remote_modules)} in other processes; "
            "use `twitterclone up` (all of them) or `twitterclone serve --service …` (one)"
        )
    host = host or m.gateway.host
    port = port or m.gateway.port
    click.echo(f"serving {m.name} on http://{host}:{port}  (API docs: http://{host}:{port}/schema)")
    _serve(
        "twitterclone.gateway.app:create_app",
        host,
        port,
        workers or m.gateway.workers,
        m,
        settings,
        "gateway",
        backlog=backlog,
        backpressure=backpressure,
        keep_alive_s=keep_alive_timeout,
    )


@main.command()
@click.option("--manifest", "-m", help=MANIFEST_HELP)
@click.option("--service", "-s", required=True, help="gateway, or a module name (users, tweets, …).")
@click.option("--host", help="Listen address (default: from the manifest).")
@click.option("--port", type=int, help="Listen port (default: from the manifest; replica 0).")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
def serve(manifest: str | None, service: str, host: str | None, port: int | None, workers: int) -> None:
    """Run one service of a deployment (for a process manager or an orchestrator)."""
    from twitterclone.manifest import MODULE_NAMES

    settings, m = _load(manifest)
    if service == "gateway":
        target = "twitterclone.gateway.app:create_app"
        host = host or m.gateway.host
        port = port or m.gateway.port
    elif service in MODULE_NAMES:
        cfg = m.module(service)
        if cfg.placement != "remote":
            raise click.ClickException(f"{service} is placed in the gateway's process by {settings.manifest}")
        target = "twitterclone.service_app:create_service_app"
        host = host or cfg.host
        port = port or cfg.port
        if port is None:
            raise click.ClickException(f"no port: give --port or set modules.{service}.port in the manifest")
    else:
        raise click.ClickException(
            f"unknown service {service!r}; allowed: gateway, {', '.join(MODULE_NAMES)}"
        )
    _serve(target, host, port, workers, m, settings, service)


@main.command()
@click.option("--manifest", "-m", help=MANIFEST_HELP)
@click.option(
    "--logs", "log_dir", default=None, help="Where each process writes its log (default: <data>/logs)."
)
@click.option("--no-migrate", is_flag=True, help="Skip applying migrations first.")
def up(manifest: str | None, log_dir: str | None, no_migrate: bool) -> None:
    """Start every process of a manifest locally, show them live, stop them all on Ctrl-C."""
    from rich.console import Console

    from twitterclone.composition import service_keys_dir
    from twitterclone.identity import provision
    from twitterclone.launcher import Launcher
    from twitterclone.migrate import migrate_deployment

    settings, m = _load(manifest)
    if not no_migrate:
        click.echo(f"migrating {m.name}…")
        for result in asyncio.run(migrate_deployment(m, settings, None)):
            click.echo(f"  {result.module:<14} {result.after}")
    if m.remote_modules:
        provision(service_keys_dir(settings))  # each service's key pair, before the processes start
    console = Console()
    launcher = Launcher(
        settings.manifest, m, Path(log_dir) if log_dir else settings.data_path / "logs", console
    )
    sys.exit(launcher.run(live=console.is_terminal))


@main.command("dev-certs")
@click.option("--manifest", "-m", help=MANIFEST_HELP)
@click.option("--days", default=30, show_default=True, help="Validity of the certificates.")
def dev_certs(manifest: str | None, days: int) -> None:
    """Make a local development CA and a certificate per service (for mtls = true)."""
    from twitterclone.devcerts import make_dev_certs

    settings, m = _load(manifest)
    certs = Path(m.security.certs_dir)
    certs = certs if certs.is_absolute() else settings.data_path / certs
    for path in make_dev_certs(certs, days=days):
        click.echo(f"  wrote {path}")


@main.command("service-keys")
@click.option("--manifest", "-m", help=MANIFEST_HELP)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Folder to write (default: $TWITTERCLONE_SERVICE_KEYS_DIR, else <data>/service-identity).",
)
def service_keys(manifest: str | None, out: str | None) -> None:
    """Make each service's identity key pair (<service>.key, <service>.pub) where missing.

    `up` does this by itself; for a platform, hand each process its own .key and every .pub
    (deploy/README.md)."""
    from twitterclone.composition import service_keys_dir
    from twitterclone.identity import provision

    settings = _settings(manifest)
    for path in provision(Path(out) if out else service_keys_dir(settings)):
        click.echo(f"  {path}")


@main.group()
def admin() -> None:
    """Moderation: administrators of the deployment."""


@admin.command("grant")
@click.argument("handle")
@click.option("--manifest", "-m", help="Deployment manifest (default: $TWITTERCLONE_MANIFEST or monolith).")
def admin_grant(handle: str, manifest: str | None) -> None:
    """Make the account HANDLE an administrator (the users module must run in this process's manifest)."""
    from boundaries._kernel.errors import DomainError
    from boundaries.users.port import UsersPort
    from twitterclone.composition import build_runtime

    settings = _settings(manifest)
    try:
        m = load_deployment(settings)
    except ManifestError as exc:
        raise click.ClickException(str(exc)) from exc
    if "users" not in m.local_modules:
        raise click.ClickException(f"the users module is not local in manifest {m.name!r}")

    async def grant() -> str:
        runtime = build_runtime(m, settings)
        try:
            users: UsersPort = await runtime.get(UsersPort)
            status = await users.grant_admin(handle)
        finally:
            await runtime.stop()
        return status.user_id

    try:
        user_id = asyncio.run(grant())
    except DomainError as exc:
        raise click.ClickException(exc.detail) from exc
    click.echo(f"@{handle.lstrip('@')} (id {user_id}) is now an administrator")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


@main.group()
def render() -> None:
    """Turn a deployment manifest into another platform's resources."""


@render.command("kubernetes")
@click.option("--manifest", "-m", required=True, help="The deployment manifest to render.")
@click.option(
    "--image", required=True, help="Container image reference every pod runs (e.g. twitterclone:0.1.0)."
)
@click.option("--out", type=click.Path(file_okay=False), help="Directory to write (default: deploy/<name>).")
def render_kubernetes(manifest: str, image: str, out: str | None) -> None:
    """Write plain Kubernetes YAML (kustomize-ready) for MANIFEST into a directory."""
    from twitterclone import kubernetes

    try:
        m = load_manifest(manifest)
        files = kubernetes.render(m, image, source=manifest)
    except ManifestError as exc:
        raise click.ClickException(str(exc)) from exc
    target = Path(out) if out else Path("deploy") / m.name
    for path in kubernetes.write(files, target):
        click.echo(f"  wrote {path}")
