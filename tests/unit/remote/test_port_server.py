"""The generic port server answers a module's port and its narrow faces from one service."""

from __future__ import annotations

from typing import Protocol

import pytest

from twitterclone.remote import wire
from twitterclone.remote.portspec import port_spec
from twitterclone.remote.server import PortServer


class ThingsPort(Protocol):
    """The whole port."""

    async def get(self, thing_id: str) -> str:
        """A thing."""
        ...

    async def put(self, thing_id: str, value: str) -> None:
        """Store a thing."""
        ...


class ThingReaderPort(Protocol):
    """A narrow face: one shared method and one of its own."""

    async def get(self, thing_id: str) -> str:
        """A thing."""
        ...

    async def count(self) -> int:
        """How many things."""
        ...


class DriftedReaderPort(Protocol):
    """A face whose shared method disagrees with the whole port."""

    async def get(self, thing_id: int) -> str:
        """A thing."""
        ...


class Things:
    async def get(self, thing_id: str) -> str:
        return f"thing {thing_id}"

    async def put(self, thing_id: str, value: str) -> None:
        return None

    async def count(self) -> int:
        return 3


async def call(server: PortServer, method: str, body: object) -> tuple[int, object]:
    status, payload = await server.dispatch("things", method, wire.encode(body))
    return status, wire.decode(payload, object)


async def test_a_module_answers_the_union_of_its_ports() -> None:
    server, service = PortServer(), Things()
    server.add(port_spec("things", ThingsPort), service)
    server.add(port_spec("things", ThingReaderPort), service)
    assert server.modules == ["things"]
    assert await call(server, "get", {"thing_id": "7"}) == (200, "thing 7")
    assert await call(server, "count", {}) == (200, 3)
    assert (await call(server, "put", {"thing_id": "7", "value": "v"}))[0] == 200
    assert (await call(server, "nope", {}))[0] == 404


async def test_faces_that_disagree_or_another_object_are_refused() -> None:
    server, service = PortServer(), Things()
    server.add(port_spec("things", ThingsPort), service)
    with pytest.raises(ValueError, match=r"DriftedReaderPort\.get differs"):
        server.add(port_spec("things", DriftedReaderPort), service)
    with pytest.raises(ValueError, match="already served by another object"):
        server.add(port_spec("things", ThingReaderPort), Things())
