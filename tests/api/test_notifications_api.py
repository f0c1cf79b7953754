"""Notifications through HTTP: made by others' actions, read markers, and the live SSE stream."""

from __future__ import annotations

import asyncio
import json
import queue
import time
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api, User


def post(api: Api, user: User, text: str, **extra: Any) -> dict[str, Any]:
    r = api.client.post("/api/tweets", json={"text": text, **extra}, headers=user.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def notifications(api: Api, user: User) -> list[dict[str, Any]]:
    r = api.client.get("/api/notifications", headers=user.headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def unread(api: Api, user: User) -> int:
    r = api.client.get("/api/notifications/unread-count", headers=user.headers)
    assert r.status_code == 200, r.text
    return int(r.json()["unread"])


class SseStream:
    """Reads an SSE response chunk by chunk as it is sent.

    The test client buffers whole responses, which never end for a stream, so this drives the
    ASGI app directly on the test client's event loop and hands chunks to the test thread.
    """

    def __init__(self, client: TestClient[Litestar], path: str, headers: dict[str, str]) -> None:
        self.client = client
        self.chunks: queue.Queue[bytes] = queue.Queue()
        self.status: int | None = None
        self._buffer = ""
        self._disconnect: asyncio.Event | None = None
        self._portal_cm = client.portal()
        self._portal = self._portal_cm.__enter__()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"testserver.local")]
            + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("testclient", 50000),
            "server": ("testserver.local", 80),
        }
        self._future = self._portal.start_task_soon(self._run, scope)

    async def _run(self, scope: dict[str, Any]) -> None:
        self._disconnect = asyncio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            assert self._disconnect is not None
            await self._disconnect.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
            elif message["type"] == "http.response.body":
                self.chunks.put(message.get("body", b""))

        await self.client.app(scope, receive, send)

    def next_message(self, timeout_s: float) -> dict[str, str]:
        """The next complete SSE message (fields by name; comments under ':'), or AssertionError."""
        deadline = time.monotonic() + timeout_s
        while "\r\n\r\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no SSE message within {timeout_s}s")
            try:
                self._buffer += self.chunks.get(timeout=remaining).decode()
            except queue.Empty:
                raise AssertionError(f"no SSE message within {timeout_s}s") from None
        raw, self._buffer = self._buffer.split("\r\n\r\n", 1)
        fields: dict[str, str] = {}
        for line in raw.split("\r\n"):
            name, _, value = line.partition(":")
            fields[name or ":"] = value.lstrip(" ")
        return fields

    def next_notification(self, timeout_s: float) -> dict[str, str]:
        """Skip comments until an ``event: notification`` message."""
        deadline = time.monotonic() + timeout_s
        while True:
            message = self.next_message(max(0.0, deadline - time.monotonic()))
            if message.get("event") == "notification":
                return message

    def close(self) -> None:
        if self._disconnect is not None:
            self._portal.call(self._disconnect.set)
        try:
            self._future.result(timeout=5)
        finally:
            self._portal_cm.__exit__(None, None, None)


@pytest.fixture
def alice(api: Api) -> User:
    return api.user("alice")


@pytest.fixture
def bob(api: Api) -> User:
    return api.user("bob")


def test_a_mention_reaches_the_stream_within_a_second(
    api: Api, client: TestClient[Litestar], alice: User, bob: User
) -> None:
    stream = SseStream(client, "/api/notifications/stream", bob.headers)
    try:
        hello = stream.next_message(5)
        assert stream.status == 200
        assert hello[":"] == "connected"
        started = time.monotonic()
        tweet = post(api, alice, "hey @bob, look #python")
        message = stream.next_notification(1.0)
        assert time.monotonic() - started < 1.0
        data = json.loads(message["data"])
        assert message["id"] == data["id"]
        assert (data["kind"], data["actor_id"], data["tweet_id"]) == ("mention", alice.id, tweet["id"])
    finally:
        stream.close()


def test_the_stream_resumes_after_last_event_id(
    api: Api, client: TestClient[Litestar], alice: User, bob: User
) -> None:
    post(api, alice, "one @bob")
    post(api, alice, "two @bob")
    api.eventually(lambda: len(notifications(api, bob)) == 2)
    older, newer = reversed(notifications(api, bob))
    stream = SseStream(client, "/api/notifications/stream", {**bob.headers, "Last-Event-ID": older["id"]})
    try:
        message = stream.next_notification(2)
        assert message["id"] == newer["id"]
    finally:
        stream.close()


def test_the_stream_needs_a_token(client: TestClient[Litestar]) -> None:
    assert client.get("/api/notifications/stream").status_code == 401


def test_likes_retweets_replies_and_follows_notify_the_author(api: Api, alice: User, bob: User) -> None:
    tweet = post(api, alice, "hello world")
    assert api.client.put(f"/api/tweets/{tweet['id']}/like", headers=bob.headers).status_code == 200
    assert api.client.put(f"/api/tweets/{tweet['id']}/retweet", headers=bob.headers).status_code in (200, 201)
    post(api, bob, "@alice indeed", reply_to_id=tweet["id"])
    assert api.client.put(f"/api/users/me/following/{alice.id}", headers=bob.headers).status_code == 200
    api.eventually(lambda: len(notifications(api, alice)) == 4, timeout_s=3)
    kinds = sorted(n["kind"] for n in notifications(api, alice))
    assert kinds == ["follow", "like", "reply", "retweet"]  # the reply that mentions her is one
    assert all(n["actor_id"] == bob.id for n in notifications(api, alice))


def test_own_actions_never_notify(api: Api, alice: User, bob: User) -> None:
    tweet = post(api, alice, "talking to myself @alice")
    api.client.put(f"/api/tweets/{tweet['id']}/like", headers=alice.headers)
    post(api, alice, "and replying", reply_to_id=tweet["id"])
    # A marker event after them: once bob's mention shows, alice's own actions were processed too.
    post(api, alice, "hi @bob")
    api.eventually(lambda: len(notifications(api, bob)) == 1, timeout_s=3)
    assert notifications(api, alice) == []
    assert unread(api, alice) == 0


@pytest.mark.parametrize("relation", ["blocking", "muting"])
def test_blocked_or_muted_actor_does_not_notify(api: Api, alice: User, bob: User, relation: str) -> None:
    carol = api.user("carol")
    r = api.client.put(f"/api/users/me/{relation}/{alice.id}", headers=bob.headers)
    assert r.status_code == 200, r.text
    post(api, alice, "hey @bob and @carol")
    api.eventually(lambda: len(notifications(api, carol)) == 1, timeout_s=3)
    assert notifications(api, bob) == []


def test_mark_read(api: Api, alice: User, bob: User) -> None:
    for i in range(3):
        post(api, alice, f"ping {i} @bob")
    api.eventually(lambda: unread(api, bob) == 3, timeout_s=3)
    items = notifications(api, bob)
    r = api.client.post("/api/notifications/read", json={"up_to_id": items[1]["id"]}, headers=bob.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"unread": 1}
    assert [n["read"] for n in notifications(api, bob)] == [False, True, True]
    r = api.client.post("/api/notifications/read", json={}, headers=bob.headers)
    assert r.json() == {"unread": 0}
    assert unread(api, bob) == 0
    bad = api.client.post("/api/notifications/read", json={"up_to": "1"}, headers=bob.headers)
    assert bad.status_code == 400


def test_pages_of_notifications(api: Api, alice: User, bob: User) -> None:
    for i in range(3):
        post(api, alice, f"ping {i} @bob")
    api.eventually(lambda: unread(api, bob) == 3, timeout_s=3)
    first = api.client.get("/api/notifications?limit=2", headers=bob.headers).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = api.client.get(
        f"/api/notifications?limit=2&cursor={first['next_cursor']}", headers=bob.headers
    ).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    assert api.client.get("/api/notifications?limit=101", headers=bob.headers).status_code == 400
