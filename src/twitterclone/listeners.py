"""Where a process listens, and with which TLS: the public edge and the internal listener.

A service process has one listener, and all of it is internal (its module's port, health and
metrics for the platform), with mutual TLS when ``security.mtls`` is on. The gateway's public
listener is the plain-HTTP edge; a gateway that hosts modules other services call serves their
ports on a second listener of its own (``GatewayConfig.internal_*``), in the same worker
process, sharing its runtime: a granian server embedded in the worker's event loop. Its socket
is bound with SO_REUSEPORT (granian's listener), so each worker of a several-worker gateway
binds it too and the kernel spreads internal calls over them, as it does public requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from pathlib import Path
from typing import Any

from twitterclone.manifest import Manifest
from twitterclone.settings import Settings

log = logging.getLogger("twitterclone.listeners")


class MissingCertificate(ValueError):
    """mtls is on but a certificate or key file is missing."""


def certs_dir(manifest: Manifest, settings: Settings) -> Path:
    certs = Path(manifest.security.certs_dir)
    return certs if certs.is_absolute() else settings.data_path / certs


def server_tls(manifest: Manifest, settings: Settings, service: str) -> dict[str, Any]:
    """granian's TLS arguments for an internal listener of ``service``: its certificate, and
    client certificates required (signed by the deployment's CA). Empty when mtls is off."""
    if not manifest.security.mtls:
        return {}
    certs = certs_dir(manifest, settings)
    tls: dict[str, Any] = {
        "ssl_cert": certs / f"{service}.pem",
        "ssl_key": certs / f"{service}-key.pem",
        "ssl_ca": certs / "ca.pem",
        "ssl_client_verify": True,
    }
    missing = [str(p) for p in tls.values() if isinstance(p, Path) and not p.exists()]
    if missing:
        raise MissingCertificate(f"mtls is on but {missing[0]} is missing; run `twitterclone dev-certs`")
    return tls


def reserve(host: str, port: int) -> socket.socket:
    """Hold ``host:port`` for the internal listener from the start of the server process.

    Workers bind the internal listener only once their runtime is up (seconds later: a worker id
    lease may wait); meanwhile any outgoing connection on the machine may be given that port as
    its ephemeral source port, and the bind would then fail. A socket bound (not listening, so it
    takes no connections) with SO_REUSEPORT keeps the port out of the ephemeral pool and lets the
    workers' own SO_REUSEPORT binds succeed. Keep it open while the server runs.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    held = socket.socket(family, socket.SOCK_STREAM)
    try:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        held.bind((host, port))
    except OSError:
        held.close()
        raise
    return held


def _ephemeral_floor() -> int:
    """The lowest port the kernel hands out as a connection's source port (Linux's range, else
    the IANA dynamic range's start)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 49152


def unused_ports(count: int = 1, host: str = "127.0.0.1") -> int:
    """The first of ``count`` consecutive ports nothing on ``host`` holds now, for a local stack a
    tool or test is about to start (the bench's monolith and split, the tests' servers).

    Drawn from below the kernel's ephemeral range: a port from inside it (such as what binding
    port 0 returns) may be given to any outgoing connection on the machine between this check and
    the server's own bind, and the server then fails to start. Each port is checked by binding it.
    """
    top = min(_ephemeral_floor(), 65536) - count
    for _ in range(500):
        base = random.randint(10_000, max(10_000, top))
        try:
            for port in range(base, base + count):
                with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
                    s.bind((host, port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no {count} consecutive free ports on {host} below the ephemeral range")


class InternalListener:
    """A second granian server in this process's event loop, serving ``app`` (no lifespan of its
    own: the app shares the runtime the public app's lifespan started)."""

    def __init__(self, app: Any, host: str, port: int, tls: dict[str, Any], *, header_read_s: float) -> None:
        from granian.constants import Interfaces
        from granian.http import HTTP1Settings
        from granian.server.embed import Server

        self.address = f"{host}:{port}"
        self._server = Server(
            app,
            address=host,
            port=port,
            interface=Interfaces.ASGINL,
            http1_settings=HTTP1Settings(header_read_timeout=round(header_read_s * 1000)),
            log_access=False,
            **tls,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and serve; returns once the socket listens (a bind error is raised here)."""
        self._task = asyncio.create_task(self._server.serve(), name=f"internal-listener-{self.address}")
        for _ in range(200):  # the embedded server binds and spawns its worker within a few loop turns
            if self._task.done():
                self._task.result()  # raises what failed (an address in use, a bad certificate)
                raise RuntimeError(f"the internal listener on {self.address} stopped at once")
            if getattr(self._server, "wrks", None):
                return
            await asyncio.sleep(0.01)
        raise RuntimeError(f"the internal listener on {self.address} did not start")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.stop()  # type: ignore[no-untyped-call]
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self._task, 10)
        self._task = None
