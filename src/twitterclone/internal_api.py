"""The internal API of a process: the modules it hosts, served to other processes.

``POST /_port/<module>/<method>`` (the generic port server) behind service tokens. Service
processes serve it; so does a gateway that hosts modules in a split deployment.
"""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from twitterclone.composition import MODULES, Runtime
from twitterclone.identity import InvalidServiceToken
from twitterclone.remote.portspec import port_spec
from twitterclone.remote.server import PortServer, port_router


def port_routes(runtime: Runtime) -> tuple[PortServer, Router]:
    """The generic port server of a process and its route, behind service-token checks."""

    async def require_service_token(
        connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
    ) -> None:
        identity = runtime.identity
        if identity is None:  # a deployment with no remote module never serves ports
            raise InvalidServiceToken("this deployment does not accept internal calls")
        header = connection.headers.get("authorization", "")
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise InvalidServiceToken("internal calls need a service token")
        identity.verify(token.strip(), connection.path_params["module"])

    server = PortServer()
    return server, port_router(server, require_service_token)


async def serve_local_ports(server: PortServer, runtime: Runtime) -> None:
    """Expose every module this process hosts (after the runtime started)."""
    for name in runtime.local_modules:
        port_type: Any
        for port_type in MODULES[name].ports:
            server.add(port_spec(name, port_type), await runtime.get(port_type))
