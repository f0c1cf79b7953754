"""Every contract test runs under each binding, like Service Weaver's local and RPC runners.

``local``: the module's service object, as the monolith binds it.
``http``: the same service behind the generic port server, reached through the generic
client over real HTTP encoding (an in-process ASGI transport, so no sockets). A behaviour
that differs between the two is a bug in the adapter or in the contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest
from litestar import Litestar

from twitterclone.remote.client import remote_port
from twitterclone.remote.portspec import port_spec
from twitterclone.remote.server import PortServer, port_router
from twitterclone.remote.transport import AppTransport

P = TypeVar("P")

#: ``bind(module, PortType, service, serves=(...))``; see the fixture.
Bind = Callable[..., Any]


@pytest.fixture(params=["local", "http"])
async def bind(request: pytest.FixtureRequest) -> AsyncIterator[Bind]:
    """``bind(module, PortType, service)`` → the port as this binding serves it.

    ``serves`` names every port the server side answers for the module (its port and narrow
    faces, as ``internal_api.serve_local_ports`` adds them); by default only ``PortType``.
    """
    transports: list[AppTransport] = []

    def _bind(module: str, port: type[P], service: P, *, serves: tuple[type[Any], ...] = ()) -> P:
        if request.param == "local":
            return service
        server = PortServer()
        for served in serves or (port,):
            server.add(port_spec(module, served), service)
        transport = AppTransport(Litestar(route_handlers=[port_router(server)]))
        transports.append(transport)
        return remote_port(module, port, transport)

    yield _bind
    for t in transports:
        await t.aclose()
