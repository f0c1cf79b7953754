"""The bench's lean HTTP/1.1 client against a real TCP server that misbehaves on request.

The server is a few lines of asyncio streams, so each path can do what a gateway may do to a
client: answer with a length or chunked, say ``Connection: close``, drop the connection without
an answer, never answer, or answer garbage. The client must count each outcome as what it is.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from twitterclone_bench.http1 import Http1Client
from twitterclone_bench.load import Request, new_session, open_loop


@dataclass
class Server:
    url: str
    connections: int = 0
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)  # method, path, body
    heads: list[bytes] = field(default_factory=list)  # each request's bytes, the port of Host left out


def _response(status: int, body: bytes, *extra: str) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@asynccontextmanager
async def scripted_server() -> AsyncIterator[Server]:
    info = Server(url="")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        info.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ")
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                info.requests.append((method, path, body))
                info.heads.append(head.replace(info.url.removeprefix("http://").encode(), b"HOST") + body)
                path = path.split("?", 1)[0]
                if path == "/ok":
                    writer.write(_response(200, b'{"id":"1"}'))
                elif path == "/missing":
                    writer.write(_response(404, b"no"))
                elif path == "/echo":
                    writer.write(_response(201, body))
                elif path == "/chunked":
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    writer.write(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
                elif path == "/close":
                    writer.write(_response(503, b"bye", "Connection: close"))
                    await writer.drain()
                    return
                elif path == "/idle-close":  # answered, then closed as an idle keep-alive timeout would
                    writer.write(_response(200, b"ok"))
                    await writer.drain()
                    return
                elif path == "/drop":
                    return  # no answer at all
                elif path == "/stall":
                    await asyncio.sleep(3600)
                elif path == "/garbage":
                    writer.write(b"SSH-2.0-nope\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    info.url = f"http://127.0.0.1:{port}"
    try:
        yield info
    finally:
        server.close()


def test_statuses_bodies_and_keep_alive() -> None:
    async def go() -> None:
        async with scripted_server() as srv, Http1Client(srv.url, connections=4) as client:
            assert await client.request("GET", srv.url + "/ok") == (200, b'{"id":"1"}', None)
            assert await client.request("GET", "/missing") == (404, b"no", None)
            assert await client.request("GET", "/chunked") == (200, b"abcde", None)
            status, body, error = await client.request("POST", "/echo", {"A": "b"}, {"text": "hé"})
            assert (status, json.loads(body), error) == (201, {"text": "hé"}, None)
            assert srv.connections == 1  # one after another: the same keep-alive connection
            assert client.connects == 1
            assert [r[:2] for r in srv.requests] == [
                ("GET", "/ok"),
                ("GET", "/missing"),
                ("GET", "/chunked"),
                ("POST", "/echo"),
            ]

    asyncio.run(go())


def test_connection_close_dropped_connections_garbage_and_timeouts_are_counted() -> None:
    async def go() -> None:
        async with scripted_server() as srv, Http1Client(srv.url, connections=2, timeout_s=0.3) as client:
            assert await client.request("GET", "/close") == (503, b"bye", None)
            assert await client.request("GET", "/ok") == (200, b'{"id":"1"}', None)
            assert await client.request("GET", "/drop") == (0, b"", "connection closed mid-request")
            assert await client.request("GET", "/ok") == (200, b'{"id":"1"}', None)
            status, _, error = await client.request("GET", "/garbage")
            assert status == 0
            assert error is not None
            assert error.startswith("malformed response")
            assert await client.request("GET", "/stall") == (0, b"", "timeout")
            assert await client.request("GET", "/ok") == (200, b'{"id":"1"}', None)
            assert client.outstanding == 0
            # each failure cost its connection: close, drop, garbage and the timeout, plus the first
            assert srv.connections == 5

    asyncio.run(go())


def test_a_keep_alive_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def go() -> None:
        async with scripted_server() as srv, Http1Client(srv.url, connections=1) as client:
            assert await client.request("GET", "/idle-close") == (200, b"ok", None)
            for _ in range(500):  # until the client has seen the close (no time limit asserted)
                if client.open == 0:
                    break
                await asyncio.sleep(0.01)
            assert client.open == 0
            assert not client.idle
            assert await client.request("GET", "/ok") == (200, b'{"id":"1"}', None)
            assert srv.connections == 2

    asyncio.run(go())


def test_more_requests_than_connections_wait_their_turn() -> None:
    async def go() -> None:
        async with scripted_server() as srv, Http1Client(srv.url, connections=3) as client:
            results = await asyncio.gather(*(client.request("GET", "/ok") for _ in range(40)))
            assert results == [(200, b'{"id":"1"}', None)] * 40
            assert srv.connections == 3

    asyncio.run(go())


def test_a_refused_connection_is_an_error_not_a_hang() -> None:
    async def go() -> None:
        async with scripted_server() as srv:
            url = srv.url
        async with Http1Client(url, timeout_s=5.0) as client:
            status, _, error = await client.request("GET", "/ok")
            assert status == 0
            assert error is not None
            assert error.startswith("connect failed")

    asyncio.run(go())


def test_open_loop_on_the_lean_client_records_every_scheduled_request_with_its_outcome() -> None:
    paths = ["/ok", "/missing", "/drop", "/ok"]

    def next_request(i: int) -> Request:
        return Request(paths[i % 4].strip("/"), "GET", paths[i % 4])

    async def go() -> None:
        async with scripted_server() as srv, Http1Client(srv.url, connections=8) as client:
            res = await open_loop(client, next_request, rate=200.0, duration_s=0.2, drain_s=5.0)
            statuses = sorted((s.route, s.status) for s in res.samples)
            assert statuses == sorted([("ok", 200)] * 20 + [("missing", 404)] * 10 + [("drop", 0)] * 10)
            assert all(s.latency >= 0 for s in res.samples)
            assert res.cpu["requests"] == 40

    asyncio.run(go())


def test_requests_are_encoded_as_aiohttp_sends_them_and_reused() -> None:
    async def go() -> None:
        async with scripted_server() as srv:
            auth = {"Authorization": "Bearer t"}
            shapes = [("GET", "/ok?limit=20", None), ("PUT", "/ok", None), ("POST", "/ok", {"text": "hé #x"})]
            async with new_session(2, 5.0) as session:
                for method, path, body in shapes:
                    async with session.request(method, srv.url + path, headers=auth, json=body) as resp:
                        await resp.read()
            async with Http1Client(srv.url) as client:
                for method, path, body in shapes:
                    assert (await client.request(method, srv.url + path, auth, body))[0] == 200
            # the server saw the same bytes from both clients: what is measured did not change
            assert srv.heads[:3] == srv.heads[3:]
            first = client.encode("GET", srv.url + "/api/timeline/home", {"Authorization": "Bearer a"})
            assert client.encode("GET", "/api/timeline/home", {"Authorization": "Bearer a"}) is first
            assert b"Bearer b" in client.encode("GET", "/api/timeline/home", {"Authorization": "Bearer b"})

    asyncio.run(go())
