"""The internal API of a process: the modules it hosts, served to other processes.

``POST /_port/<module>/<method>`` (the generic port server) behind service tokens. Service
processes serve it; so does a gateway that hosts modules others call, on its internal listener
only (``twitterclone/listeners.py``). A token is verified with the public key of the service it
names (``identity.py``): a service can only call as itself.

A valid token is not enough: its caller must be granted the method. A service may call only the
methods of the ports its module's providers ask for (``composition.port_grants``: the graph the
code declares, method by method); the gateway, which serves the public API, may call any.
"""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from boundaries._kernel.errors import Forbidden
from twitterclone.composition import GATEWAY, MODULES, Runtime, port_grants
from twitterclone.identity import InvalidServiceToken
from twitterclone.remote.portspec import port_spec
from twitterclone.remote.server import PortServer, port_router


def port_routes(runtime: Runtime) -> tuple[PortServer, Router]:
    """The generic port server of a process and its route, behind service-token checks."""
    grants = port_grants()

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
        module, method = connection.path_params["module"], connection.path_params["method"]
        caller = identity.verify(token.strip(), module)
        if caller != GATEWAY and method not in grants.get(caller, {}).get(module, frozenset()):
            raise Forbidden(f"{caller} may not call {module}.{method}")

    server = PortServer()
    return server, port_router(server, require_service_token)


async def serve_local_ports(server: PortServer, runtime: Runtime) -> None:
    """Expose every module this process hosts (after the runtime started)."""
    for name in runtime.local_modules:
        port_type: Any
        for port_type in MODULES[name].ports:
            server.add(port_spec(name, port_type), await runtime.get(port_type))
