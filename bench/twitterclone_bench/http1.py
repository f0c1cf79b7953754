"""A lean HTTP/1.1 client for the open-loop generator: keep-alive connections to one origin.

The generator shares the machine's cores with the server it measures, so each CPU-millisecond it
spends is taken from the server. aiohttp does much per request that a load generator does not need
(a task, a request and a response object, header multidicts, cookie jar, tracing hooks, timeouts
as timer handles); this client does what the bench needs and nothing more:

- at most ``connections`` keep-alive connections (opened on demand), each carrying one request at
  a time (no pipelining, as aiohttp); a request finds an idle connection or waits, in order, for
  one, so over the limit the queue time counts in the latency as it did with aiohttp's pool;
- requests are bytes encoded once (bodiless ones cached by method, URL and headers);
- a response is a status line, headers, and a ``Content-Length`` or chunked body
  (``parse_response``); ``Connection: close`` closes the connection after the response;
- completion is a callback (no task per request); a request unanswered ``timeout_s`` after it was
  submitted (queue time included, as aiohttp's total timeout) fails and closes its connection,
  which cannot be reused while a response may still arrive on it.

Outcomes are ``(status, body, error)``: status 0 and an error text when no response came (connect
failure, connection lost mid-request, malformed response, timeout, cancelled at the end of a run).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

#: A response head larger than this is malformed as far as this client is concerned.
MAX_HEAD = 64 * 1024
#: Bodiless requests encoded at most this many distinct ways before the cache starts over.
CACHE_LIMIT = 200_000

#: ``on_done(status, body, error)``; error None when a response (of any status) came.
OnDone = Callable[[int, bytes, "str | None"], None]

_CRLF2 = b"\r\n\r\n"
_BODILESS = frozenset((204, 304))


def parse_response(buf: bytearray) -> tuple[int, int, bytes, bool] | None:
    """``(status, bytes consumed, body, server closes)`` of the first complete response in ``buf``.

    None while incomplete; ValueError when malformed. Handles ``Content-Length`` and chunked bodies,
    and bodiless statuses; a body delimited by the end of the connection is not supported (the
    gateway always sends a length).
    """
    end = buf.find(_CRLF2)
    if end < 0:
        if len(buf) > MAX_HEAD:
            raise ValueError("response head too large")
        return None
    # one lower-cased copy of the head, searched for the three headers that delimit the body (a
    # response carries a dozen; splitting and comparing each line was most of this function's time)
    head = bytes(buf[:end]).lower()
    first = head.find(b"\r\n")
    parts = (head if first < 0 else head[:first]).split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"http/1."):
        raise ValueError(f"not an HTTP/1.x status line: {bytes(buf[: min(end, 80)])!r}")
    status = int(parts[1])
    length_value = _header(head, b"\r\ncontent-length:")
    length = int(length_value) if length_value is not None else None
    chunked = b"chunked" in (_header(head, b"\r\ntransfer-encoding:") or b"")
    connection = _header(head, b"\r\nconnection:") or b""
    close = connection == b"close" or (parts[0] == b"http/1.0" and connection != b"keep-alive")
    start = end + 4
    if chunked:
        body = bytearray()
        at = start
        while True:
            eol = buf.find(b"\r\n", at)
            if eol < 0:
                return None
            size = int(bytes(buf[at:eol]).split(b";", 1)[0].strip(), 16)
            if size == 0:
                at = eol + 2  # trailer lines, if any, up to an empty line
                while True:
                    nl = buf.find(b"\r\n", at)
                    if nl < 0:
                        return None
                    if nl == at:
                        return status, at + 2, bytes(body), close
                    at = nl + 2
            if len(buf) < eol + 2 + size + 2:
                return None
            body += buf[eol + 2 : eol + 2 + size]
            at = eol + 2 + size + 2
    if length is None:
        if status in _BODILESS or 100 <= status < 200:
            length = 0
        else:
            raise ValueError(f"status {status} without a length (bodies up to close are not supported)")
    if len(buf) < start + length:
        return None
    return status, start + length, bytes(buf[start : start + length]), close


def _header(head: bytes, marker: bytes) -> bytes | None:
    """The value of the first header line starting with ``marker`` (``\\r\\nname:``), stripped."""
    at = head.find(marker)
    if at < 0:
        return None
    start = at + len(marker)
    stop = head.find(b"\r\n", start)
    return head[start : stop if stop >= 0 else len(head)].strip()


def request_head(method: str, path: str, host: str, headers: dict[str, str] | None) -> bytes:
    """The request line and headers (without the blank line), in aiohttp's order, less User-Agent."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if headers:
        lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += ["Accept: */*", "Accept-Encoding: gzip, deflate"]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def encode_request(
    method: str, path: str, host: str, headers: dict[str, str] | None = None, body: object = None
) -> bytes:
    """One complete HTTP/1.1 request, byte for byte what the bench's aiohttp session sent for it.

    ``body`` (when not None) is sent as JSON; a bodiless POST, PUT or PATCH carries an empty body.
    """
    head = request_head(method, path, host, headers)
    if body is None:
        if method in ("POST", "PUT", "PATCH"):
            return head + b"Content-Length: 0\r\nContent-Type: application/octet-stream\r\n\r\n"
        return head + b"\r\n"
    data = json.dumps(body).encode()
    return head + b"Content-Length: %d\r\nContent-Type: application/json\r\n\r\n" % len(data) + data


class Call:
    """One request: its bytes, when it was submitted, and whom to tell how it ended."""

    __slots__ = ("conn", "deadline", "done", "on_done", "payload")

    def __init__(self, payload: bytes, on_done: OnDone, deadline: float) -> None:
        self.payload = payload
        self.on_done = on_done
        self.deadline = deadline
        self.conn: _Conn | None = None
        self.done = False


class _Conn(asyncio.Protocol):
    __slots__ = ("buf", "call", "client", "transport")

    def __init__(self, client: Http1Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.call: Call | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self.client._on_data(self)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._on_lost(self, exc)


class Http1Client:
    """Keep-alive HTTP/1.1 to the origin of ``base_url`` (http only); see the module docstring."""

    def __init__(self, base_url: str, connections: int = 256, timeout_s: float = 10.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the lean client speaks plain http to one origin, not {base_url!r}")
        self.base = base_url.rstrip("/")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.host_header = parts.netloc
        self.limit = connections
        self.timeout_s = timeout_s
        self.loop = asyncio.get_running_loop()
        self.idle: list[_Conn] = []
        self.open = 0  # connections open or being opened
        self.queue: deque[Call] = deque()  # waiting for a connection
        self.by_age: deque[Call] = deque()  # every unfinished call, oldest first (for timeouts)
        self.outstanding = 0
        self.connects = 0
        self._cache: dict[tuple[object, ...], bytes] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._closed = False

    # -- requests -----------------------------------------------------------------------------

    def encode(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: object = None
    ) -> bytes:
        """The bytes of a request to ``url`` (absolute, on this origin, or a path)."""
        path = url[len(self.base) :] if url.startswith(self.base) else url
        if body is not None:
            return encode_request(method, path, self.host_header, headers, body)
        key = (method, path, *headers.items()) if headers else (method, path)
        payload = self._cache.get(key)
        if payload is None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            payload = self._cache[key] = encode_request(method, path, self.host_header, headers)
        return payload

    def submit(self, payload: bytes, on_done: OnDone) -> Call:
        """Send ``payload`` on a free connection (or when one frees up); ``on_done`` gets the outcome."""
        call = Call(payload, on_done, self.loop.time() + self.timeout_s)
        self.outstanding += 1
        self.by_age.append(call)
        if self._sweeper is None:
            self._sweeper = self.loop.call_later(0.05, self._sweep)
        while self.idle:
            conn = self.idle.pop()
            # the server may have closed it (an idle keep-alive timeout) a moment before we learn of it
            if conn.transport is not None and not conn.transport.is_closing():
                self._send(conn, call)
                return call
        self.queue.append(call)
        if self.open < self.limit:
            self._connect()
        return call

    async def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: object = None
    ) -> tuple[int, bytes, str | None]:
        """Await one request's ``(status, body, error)``."""
        fut: asyncio.Future[tuple[int, bytes, str | None]] = self.loop.create_future()

        def done(status: int, data: bytes, error: str | None) -> None:
            if not fut.done():
                fut.set_result((status, data, error))

        self.submit(self.encode(method, url, headers, body), done)
        return await fut

    async def drained(self, timeout_s: float) -> bool:
        """Wait until no request is outstanding, at most ``timeout_s``; whether none is."""
        if self.outstanding == 0:
            return True
        fut: asyncio.Future[None] = self.loop.create_future()
        self._idle_waiters.append(fut)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        return self.outstanding == 0

    def cancel_all(self, why: str = "cancelled") -> None:
        """Fail every outstanding request with ``why`` (their connections are closed)."""
        for call in list(self.by_age):
            self._fail(call, why)
        self.by_age.clear()

    def close(self) -> None:
        """Fail what is outstanding and close every connection."""
        self._closed = True
        self.cancel_all("client closed")
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    async def __aenter__(self) -> Http1Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _send(self, conn: _Conn, call: Call) -> None:
        conn.call = call
        call.conn = conn
        assert conn.transport is not None
        conn.transport.write(call.payload)

    def _finish(self, call: Call, status: int, body: bytes, error: str | None) -> None:
        if call.done:
            return
        call.done = True
        call.conn = None
        self.outstanding -= 1
        if self.outstanding == 0 and self._idle_waiters:
            for fut in self._idle_waiters:
                if not fut.done():
                    fut.set_result(None)
            self._idle_waiters.clear()
        call.on_done(status, body, error)

    def _fail(self, call: Call, error: str) -> None:
        if call.done:
            return
        conn = call.conn
        if conn is not None:  # on the wire: the connection cannot carry another request
            conn.call = None
            self._discard(conn)
        self._finish(call, 0, b"", error)

    def _discard(self, conn: _Conn) -> None:
        if conn.transport is not None and not conn.transport.is_closing():
            conn.transport.abort()  # _on_lost does the accounting

    def _connect(self) -> None:
        self.open += 1
        self.connects += 1
        conn = _Conn(self)

        async def go() -> None:
            try:
                await self.loop.create_connection(lambda: conn, self.host, self.port)
            except OSError as exc:
                self.open -= 1
                # the oldest waiter learns why; the others keep waiting (or time out)
                while self.queue:
                    call = self.queue.popleft()
                    if not call.done:
                        self._finish(call, 0, b"", f"connect failed: {exc}"[:120])
                        break
                if self.queue and self.open < self.limit and not self._closed:
                    self._connect()  # the next waiter tries its own connection, as with aiohttp
                return
            self._release(conn)

        self.loop.create_task(go())

    def _release(self, conn: _Conn) -> None:
        """A connection is free: give it the next waiting request, or keep it idle."""
        while self.queue:
            call = self.queue.popleft()
            if not call.done:
                self._send(conn, call)
                return
        if self._closed:
            self._discard(conn)
        else:
            self.idle.append(conn)

    def _on_data(self, conn: _Conn) -> None:
        try:
            parsed = parse_response(conn.buf)
        except ValueError as exc:
            call, conn.call = conn.call, None
            self._discard(conn)
            if call is not None:
                self._finish(call, 0, b"", f"malformed response: {exc}"[:120])
            return
        if parsed is None:
            return
        status, used, body, close = parsed
        del conn.buf[:used]
        call, conn.call = conn.call, None
        if call is None or conn.buf:  # a response nobody asked for (or to a request that timed out)
            self._discard(conn)
            if call is not None:
                self._finish(call, 0, b"", "unsolicited bytes after the response")
            return
        if close:
            self._discard(conn)
        self._finish(call, status, body, None)
        if not close:
            self._release(conn)

    def _on_lost(self, conn: _Conn, exc: Exception | None) -> None:
        self.open -= 1
        if conn in self.idle:
            self.idle.remove(conn)
        call, conn.call = conn.call, None
        if call is not None:
            self._finish(call, 0, b"", "connection closed mid-request")
        if self.queue and self.open < self.limit and not self._closed:
            self._connect()

    def _sweep(self) -> None:
        self._sweeper = None
        now = self.loop.time()
        ages = self.by_age
        while ages and (ages[0].done or ages[0].deadline <= now):
            call = ages.popleft()
            if not call.done:
                self._fail(call, "timeout")
        if ages:
            self._sweeper = self.loop.call_later(0.05, self._sweep)
