"""Admission control: slots, a FIFO queue with a bounded wait, and the fast 503 past capacity."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from twitterclone.gateway.admission import (
    Admission,
    BodyLimits,
    _exempt,
    admission_middleware,
    allotted_s,
    hold_as_stream,
)

BODY = BodyLimits(max_bytes=1000, timeout_s=0.2, min_rate_bytes_s=1000)


async def test_requests_within_capacity_start_at_once() -> None:
    gate = Admission(max_active=2, max_wait_s=0.01, max_queue=10)
    assert await gate.acquire()
    assert await gate.acquire()
    assert gate.active == 2
    gate.release()
    gate.release()
    assert gate.active == 0


async def test_waiters_get_slots_in_arrival_order() -> None:
    gate = Admission(max_active=1, max_wait_s=1.0, max_queue=10)
    assert await gate.acquire()
    order: list[int] = []

    async def wait(n: int) -> None:
        assert await gate.acquire()
        order.append(n)

    waiters = [asyncio.create_task(wait(n)) for n in range(3)]
    await asyncio.sleep(0.01)
    assert order == []  # all queued behind the running request
    for _ in range(3):
        gate.release()
        await asyncio.sleep(0.01)
    await asyncio.gather(*waiters)
    assert order == [0, 1, 2]
    assert gate.active == 1  # the last one still holds its slot
    gate.release()
    assert gate.active == 0


async def test_a_request_that_waits_too_long_is_refused() -> None:
    gate = Admission(max_active=1, max_wait_s=0.02, max_queue=10)
    assert await gate.acquire()
    assert not await gate.acquire()
    assert gate.shed == 1
    gate.release()
    assert gate.active == 0
    assert await gate.acquire()  # the slot was not lost to the refused waiter


async def test_a_full_queue_refuses_without_waiting() -> None:
    gate = Admission(max_active=1, max_wait_s=10.0, max_queue=1)
    assert await gate.acquire()
    queued = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert not await gate.acquire()
    assert loop.time() - started < 0.5
    gate.release()
    assert await queued


async def test_a_cancelled_waiter_does_not_leak_its_slot() -> None:
    gate = Admission(max_active=1, max_wait_s=10.0, max_queue=10)
    assert await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.release()
    assert gate.active == 0


def test_only_the_probes_and_metrics_are_exempt() -> None:
    assert all(_exempt(path) for path in ("/livez", "/readyz", "/metrics"))
    for path in ("/livez/", "/livezz", "/metrics/x", "/api/livez", "/", "/api/timeline/home"):
        assert not _exempt(path), path


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_active"):
        Admission(max_active=0, max_wait_s=0.1, max_queue=1)


async def _call(app: Any, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app({"type": "http", "path": path, "method": "GET", "headers": []}, receive, send)
    start = messages[0]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], dict(start["headers"]), body


async def test_the_middleware_answers_503_past_capacity_and_never_queues_probes() -> None:
    release = asyncio.Event()

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/slow":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    gate = Admission(max_active=1, max_wait_s=0.02, max_queue=10)
    app = admission_middleware(slow_app, gate, request_timeout_s=5, body=BODY)
    running = asyncio.create_task(_call(app, "/slow"))
    await asyncio.sleep(0.01)

    status, headers, body = await _call(app, "/api/timeline/home")
    assert status == 503
    assert headers[b"retry-after"] == b"1"
    assert headers[b"content-type"] == b"application/problem+json"
    problem = json.loads(body)
    assert problem["type"] == "/problems/overloaded"
    assert "at capacity" in problem["detail"]
    assert (await _call(app, "/livez"))[0] == 200  # probes pass even when full
    # /_port is no exemption: the public app serves no port call, so it waits like any other path
    assert (await _call(app, "/_port/users/profile"))[0] == 503

    release.set()
    assert (await running)[0] == 200
    assert (await _call(app, "/api/timeline/home"))[0] == 200


def _ok_app(wait: asyncio.Event | None = None) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        if wait is not None:
            await wait.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": message.get("body", b"")})

    return app


async def test_a_body_that_never_comes_holds_no_slot_and_gets_408() -> None:
    gate = Admission(max_active=1, max_wait_s=0.0, max_queue=0)
    app = admission_middleware(_ok_app(), gate, request_timeout_s=5, body=BODY)
    messages: list[dict[str, Any]] = []
    stalled = asyncio.Event()

    async def never(_: Any = None) -> dict[str, Any]:
        await stalled.wait()
        raise AssertionError("unreachable")

    scope = {"type": "http", "path": "/api/tweets", "method": "POST", "headers": [(b"content-length", b"10")]}
    waiting = asyncio.create_task(app(scope, never, lambda m: _append(messages, m)))
    await asyncio.sleep(0.05)
    assert gate.active == 0  # reading the body takes no slot
    assert (await _call(app, "/api/timeline/home"))[0] == 200  # so others are served meanwhile
    await waiting
    assert messages[0]["status"] == 408
    assert json.loads(messages[1]["body"])["type"] == "/problems/request-timeout"


async def test_a_body_larger_than_any_route_accepts_goes_to_the_route_without_waiting_for_the_rest() -> None:
    seen: list[dict[str, Any]] = []

    async def refusing(scope: Any, receive: Any, send: Any) -> None:
        seen.append(await receive())  # a route sees the size and refuses at once (its own 413)
        await send({"type": "http.response.start", "status": 413, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    gate = Admission(max_active=1, max_wait_s=0.0, max_queue=0)
    app = admission_middleware(refusing, gate, request_timeout_s=5, body=BODY)
    chunks = [b"x" * 600, b"x" * 600]

    async def receive() -> dict[str, Any]:
        if not chunks:
            await asyncio.Event().wait()  # the rest never comes: nobody may wait for it
        return {"type": "http.request", "body": chunks.pop(0), "more_body": True}

    messages: list[dict[str, Any]] = []
    scope = {"type": "http", "path": "/api/media", "method": "POST", "headers": []}
    await asyncio.wait_for(app(scope, receive, lambda m: _append(messages, m)), 1)
    assert messages[0]["status"] == 413
    assert len(seen[0]["body"]) == 1200
    assert seen[0]["more_body"] is True
    assert gate.active == 0


async def test_the_body_is_handed_to_the_app_whole() -> None:
    app = admission_middleware(_ok_app(), Admission(1, 0.0, 0), request_timeout_s=5, body=BODY)
    chunks = [b"ab", b"cd", b"ef"]
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    scope = {"type": "http", "path": "/api/tweets", "method": "POST", "headers": []}
    await app(scope, receive, lambda m: _append(messages, m))
    assert messages[1]["body"] == b"abcdef"


async def test_a_request_past_its_deadline_is_cancelled_with_504() -> None:
    cancelled = False

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        nonlocal cancelled
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled = True
            raise

    gate = Admission(max_active=1, max_wait_s=0.0, max_queue=0)
    app = admission_middleware(slow, gate, request_timeout_s=0.1, body=BODY)
    status, headers, body = await _call(app, "/api/timeline/home")
    assert status == 504
    assert headers[b"retry-after"] == b"1"
    assert json.loads(body)["type"] == "/problems/deadline-exceeded"
    assert cancelled
    assert gate.active == 0


async def test_a_stream_gives_its_slot_back_and_outlives_the_deadline() -> None:
    ended: list[bool] = []

    async def stream(scope: Any, receive: Any, send: Any) -> None:
        hold_as_stream(scope, lambda: ended.append(True))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.3)  # longer than the request deadline
        await send({"type": "http.response.body", "body": b"events"})

    gate = Admission(max_active=1, max_wait_s=0.0, max_queue=0)
    app = admission_middleware(stream, gate, request_timeout_s=0.1, body=BODY)
    running = asyncio.create_task(_call(app, "/api/notifications/stream"))
    await asyncio.sleep(0.05)
    assert gate.active == 0
    assert not ended
    assert await running == (200, {}, b"events")
    assert ended == [True]


async def _append(messages: list[dict[str, Any]], message: dict[str, Any]) -> None:
    messages.append(message)


def test_body_times_are_spread_so_stalled_bodies_do_not_time_out_together() -> None:
    # Slow bodies started together must not all be answered 408 in one burst (slowloris waves).
    limits = BodyLimits(max_bytes=1000, timeout_s=10.0, min_rate_bytes_s=1000, jitter=0.2)
    draws = [allotted_s(limits) for _ in range(500)]
    assert all(8.0 <= d <= 10.0 for d in draws)  # never more than the documented time
    assert max(draws) - min(draws) > 1.0  # spread over most of the window
    assert allotted_s(BodyLimits(max_bytes=1, timeout_s=3.0, min_rate_bytes_s=1, jitter=0.0)) == 3.0
