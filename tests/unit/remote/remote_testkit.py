"""Real HTTP servers for transport tests, in-process so tests can count hits, slow or kill them.

``SocketServer`` is a minimal HTTP/1.1 (keep-alive, Content-Length bodies) server on an asyncio
socket that runs an ASGI app — enough for the generic port router. ``kill()`` closes the listener
and aborts every open connection, which is what a crashed process looks like to its callers
(refused connects, reset connections); ``start()`` again on the same port brings it back.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from litestar import Litestar

from boundaries._kernel.errors import NotFound, Unavailable
from boundaries._kernel.markers import not_idempotent, waits
from twitterclone.listeners import unused_ports
from twitterclone.registry import InProcessRegistry, Instance
from twitterclone.remote.deadline import deadline_middleware, remaining_s
from twitterclone.remote.portspec import port_spec
from twitterclone.remote.server import PortServer, port_router
from twitterclone.remote.tracing import traceparent_middleware

MODULE = "echo"


class EchoPort(Protocol):
    """A tiny port for transport tests."""

    async def whoami(self) -> str:
        """The name of the instance that answered (idempotent)."""
        ...

    async def wait(self, seconds: float) -> str:
        """Answer after ``seconds`` (idempotent)."""
        ...

    @waits
    async def long_wait(self, timeout_s: float) -> str:
        """A long poll: answer after ``timeout_s`` (nothing new came)."""
        ...

    @not_idempotent
    async def create(self, name: str) -> str:
        """Pretend to create something (must never be sent twice)."""
        ...

    async def deadline_left(self) -> float:
        """Seconds left of the deadline this call arrived with (-1 without one)."""
        ...

    async def missing(self) -> str:
        """Always NotFound (a 4xx: never retried)."""
        ...


@dataclass
class EchoService:
    """Implements EchoPort; counts calls; ``failing`` makes every call answer 503."""

    name: str
    hits: dict[str, int] = field(default_factory=dict)
    failing: bool = False
    delay_s: float = 0.0

    async def _hit(self, method: str) -> None:
        self.hits[method] = self.hits.get(method, 0) + 1
        if self.failing:
            raise Unavailable(f"{self.name} is failing")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)

    @property
    def total(self) -> int:
        return sum(self.hits.values())

    async def whoami(self) -> str:
        await self._hit("whoami")
        return self.name

    async def wait(self, seconds: float) -> str:
        self.hits["wait"] = self.hits.get("wait", 0) + 1
        await asyncio.sleep(seconds)
        return self.name

    async def long_wait(self, timeout_s: float) -> str:
        self.hits["long_wait"] = self.hits.get("long_wait", 0) + 1
        await asyncio.sleep(timeout_s)
        return self.name

    async def create(self, name: str) -> str:
        await self._hit("create")
        return f"{self.name}:{name}"

    async def deadline_left(self) -> float:
        await self._hit("deadline_left")
        left = remaining_s()
        return -1.0 if left is None else left

    async def missing(self) -> str:
        await self._hit("missing")
        raise NotFound("nothing here")


class HeaderRecorder:
    """ASGI middleware factory that keeps the headers of the last request."""

    def __init__(self) -> None:
        self.last: dict[str, str] = {}

    def __call__(self, app: Any) -> Any:
        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.last = {k.decode(): v.decode() for k, v in scope["headers"]}
            await app(scope, receive, send)

        return middleware


def echo_app(service: EchoService, recorder: HeaderRecorder | None = None) -> Litestar:
    server = PortServer()
    server.add(port_spec(MODULE, EchoPort), service)
    middleware: list[Any] = [deadline_middleware, traceparent_middleware]
    if recorder is not None:
        middleware.insert(0, recorder)
    return Litestar(route_handlers=[port_router(server)], middleware=middleware, debug=False)


class SocketServer:
    """An ASGI app behind a real TCP socket on 127.0.0.1."""

    def __init__(self, app: Any, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self.port = port or unused_ports()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)

    async def kill(self) -> None:
        """Die like a crashed process: stop listening, reset open connections."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._conns):
            task.cancel()
        for task in list(self._conns):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        self._writers.add(writer)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # killed, or the client went away: the connection just ends
        finally:
            self._conns.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line:
            return False
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: list[tuple[bytes, bytes]] = []
        while True:
            raw = await reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers.append((name.strip().lower().encode(), value.strip().encode("latin-1")))
        length = int(dict(headers).get(b"content-length", b"0"))
        body = await reader.readexactly(length) if length else b""
        path, _, query = target.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "server": (self.host, self.port),
            "client": ("127.0.0.1", 0),
            "state": {},
        }
        sent_body = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect until the connection dies
            return {"type": "http.disconnect"}

        status = 500
        out_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, out_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                out_headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        payload = b"".join(chunks)
        head = [f"HTTP/1.1 {status} X".encode()]
        head += [k + b": " + v for k, v in out_headers]
        head.append(f"content-length: {len(payload)}".encode())
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + payload)
        await writer.drain()
        return True


@dataclass
class Fleet:
    """A few echo instances registered in an in-process registry."""

    registry: InProcessRegistry
    services: list[EchoService]
    servers: list[SocketServer]
    recorders: list[HeaderRecorder]

    def instance(self, i: int) -> Instance:
        return Instance(
            service=MODULE,
            instance_id=self.services[i].name,
            address=self.servers[i].address,
            started_at=0.0,
        )

    def hits(self, method: str) -> list[int]:
        return [s.hits.get(method, 0) for s in self.services]


async def start_fleet(n: int) -> Fleet:
    registry = InProcessRegistry()
    services = [EchoService(name=f"echo-{i}") for i in range(n)]
    recorders = [HeaderRecorder() for _ in range(n)]
    servers = [SocketServer(echo_app(s, r)) for s, r in zip(services, recorders, strict=True)]
    fleet = Fleet(registry=registry, services=services, servers=servers, recorders=recorders)
    for i, server in enumerate(servers):
        await server.start()
        await registry.register(fleet.instance(i))
    return fleet


async def stop_fleet(fleet: Fleet) -> None:
    for server in fleet.servers:
        await server.kill()
