"""The app of a service process: one module's port over HTTP, for other processes only.

It serves ``POST /_port/<module>/<method>`` (the generic port server) behind service
tokens, plus ``/livez``, ``/readyz`` and ``/metrics``; it registers itself in the registry
once started and deregisters on a graceful stop. It has no public API: that is the gateway's.
Its one listener is internal (mutual TLS when ``security.mtls`` is on). The same app, without
a lifespan of its own, is the gateway's internal listener when it hosts modules others call.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from twitterclone.composition import Runtime, build_runtime
from twitterclone.gateway.internal import internal_app
from twitterclone.gctuning import tune_for_serving
from twitterclone.internal_api import port_routes, serve_local_ports
from twitterclone.logs import configure_logging
from twitterclone.manifest import Manifest
from twitterclone.runtime_metrics import install as install_runtime_metrics
from twitterclone.runtime_metrics import uninstall as uninstall_runtime_metrics
from twitterclone.settings import Settings, load_deployment

log = logging.getLogger("twitterclone.service")


def create_service_app(
    settings: Settings | None = None,
    manifest: Manifest | None = None,
    role: str | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
) -> Litestar:
    """Build the app of one service process (``role`` is a module name)."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    manifest = manifest or load_deployment(settings)
    role = role or os.environ["TWITTERCLONE_SERVICE"]
    host = host or os.environ.get("TWITTERCLONE_SERVICE_HOST", manifest.module(role).host)
    port = port or int(os.environ["TWITTERCLONE_SERVICE_PORT"])
    runtime = build_runtime(manifest, settings, role)
    # Named by address, so a restarted replica takes back the stream entries it had claimed.
    runtime.instance_name = f"{role}@{host}:{port}"
    server, router = port_routes(runtime)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await runtime.start()
        await serve_local_ports(server, runtime)
        app.state.runtime = runtime
        app.state.runtime_metrics = install_runtime_metrics(runtime)
        app.state.dishka_container = runtime.container
        await runtime.register(host, port)
        tune_for_serving()
        log.info("service ready", extra={"service": role, "address": f"{host}:{port}"})
        try:
            yield
        finally:
            uninstall_runtime_metrics(app.state.runtime_metrics)
            await runtime.stop()

    return internal_app(router, f"twitterclone-{role}", lifespan=lifespan, metrics=True)


def runtime_of(app: Litestar) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime
