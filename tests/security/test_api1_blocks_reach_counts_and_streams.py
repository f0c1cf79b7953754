"""OWASP API1:2023: a block or a mute silences its target in the unread count and every stream.

The notification list already leaves out notifications from an account the recipient has blocked,
been blocked by or muted since they were made (issue 11, finding 6). The unread count beside it,
and the streams that deliver notifications (the native SSE stream resumed with ``Last-Event-ID``,
the Mastodon streams, the web client's ``/live``) read the same store without that filter, so
they went on counting and delivering what the list hides. Black-box, through a monolith.
"""

from __future__ import annotations

import json
import time
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from tests.api.test_notifications_api import SseStream
from tests.conftest import Api, User
from tests.web.conftest import Browser

Client = TestClient[Litestar]


class LfSseStream(SseStream):
    """An SSE reader for streams whose lines end with a bare LF (Mastodon's), taking a query."""

    async def _run(self, scope: dict[str, Any]) -> None:
        path, _, query = scope["path"].partition("?")
        scope.update(path=path, raw_path=path.encode(), query_string=query.encode())
        await super()._run(scope)

    def next_message(self, timeout_s: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout_s
        while "\n\n" not in self._buffer.replace("\r\n", "\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no SSE message within {timeout_s}s")
            try:
                self._buffer += self.chunks.get(timeout=remaining).decode()
            except Exception:
                raise AssertionError(f"no SSE message within {timeout_s}s") from None
        raw, self._buffer = self._buffer.replace("\r\n", "\n").split("\n\n", 1)
        fields: dict[str, str] = {}
        for line in raw.split("\n"):
            name, _, value = line.partition(":")
            fields[name or ":"] = value.lstrip(" ")
        return fields


def _mention(client: Client, author: User, target: User) -> None:
    r = client.post("/api/tweets", json={"text": f"hey @{target.handle}"}, headers=author.headers)
    assert r.status_code == 201, r.text


def _listed(client: Client, user: User) -> list[str]:
    r = client.get("/api/notifications", headers=user.headers)
    assert r.status_code == 200, r.text
    return [n["actor_id"] for n in r.json()["items"]]


def _unread(client: Client, user: User) -> int:
    r = client.get("/api/notifications/unread-count", headers=user.headers)
    assert r.status_code == 200, r.text
    return int(r.json()["unread"])


def _silence(client: Client, api: Api, alice: User, *, newest: str = "carol") -> tuple[User, User, User]:
    """Bob, Mallory and Carol each mention Alice (``newest`` last); then Alice blocks Bob and
    mutes Mallory."""
    bob, mallory, carol = api.user("bob"), api.user("mallory"), api.user("carol")
    authors = {"bob": bob, "mallory": mallory, "carol": carol}
    for name in sorted(authors, key=lambda n: n == newest):
        _mention(client, authors[name], alice)
    api.eventually(lambda: len(_listed(client, alice)) == 3, timeout_s=5)
    assert client.put(f"/api/users/me/blocking/{bob.id}", headers=alice.headers).status_code == 200
    assert client.put(f"/api/users/me/muting/{mallory.id}", headers=alice.headers).status_code == 200
    assert _listed(client, alice) == [carol.id]  # the list already hides them
    return bob, mallory, carol


def test_the_unread_count_leaves_out_blocked_and_muted_accounts(client: Client, api: Api) -> None:
    alice = api.user("alice")
    _silence(client, api, alice)
    assert _unread(client, alice) == 1  # Carol's only: counted as the list shows
    r = client.post("/api/notifications/read", json={}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["unread"] == 0


def test_a_resumed_native_stream_delivers_nothing_from_blocked_or_muted_accounts(
    client: Client, api: Api
) -> None:
    alice = api.user("alice")
    _, _, carol = _silence(client, api, alice)
    # A client resuming from long ago (any id it ever saw, or a made-up one) gets what it missed.
    stream = SseStream(client, "/api/notifications/stream", {**alice.headers, "Last-Event-ID": "1"})
    try:
        delivered: list[str] = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                message = stream.next_notification(max(0.0, deadline - time.monotonic()))
            except AssertionError:
                break
            delivered.append(json.loads(message["data"])["actor_id"])
        assert delivered == [carol.id], "a resumed stream replayed notifications the list hides"
    finally:
        stream.close()


def test_a_mastodon_stream_delivers_nothing_from_blocked_or_muted_accounts(client: Client, api: Api) -> None:
    alice = api.user("alice")
    bob, mallory, _ = _silence(client, api, alice, newest="bob")
    # Bob's mention is Alice's newest notification: the stream must start after it all the same,
    # not replay Carol's older one (nor, of course, Bob's).
    _mention(client, mallory, alice)  # muted: never made
    stream = LfSseStream(client, "/api/v1/streaming/user/notification", alice.headers)
    try:
        assert stream.next_message(5).get(":") == ")"
        assert stream.status == 200
        _mention(client, bob, alice)  # blocked: never made
        carol = api.user("carol2")
        _mention(client, carol, alice)
        accounts: list[str] = []
        deadline = time.monotonic() + 5
        while carol.id not in accounts:
            message = stream.next_message(max(0.0, deadline - time.monotonic()))
            if message.get("event") == "notification":
                accounts.append(json.loads(message["data"])["account"]["id"])
        assert accounts == [carol.id], "the stream delivered old or silenced notifications"
    finally:
        stream.close()


def test_the_web_live_stream_counts_no_blocked_or_muted_account(client: Client, api: Api) -> None:
    alice = api.user("alice")
    _silence(client, api, alice)
    browser = Browser(client)
    assert browser.sign_in("alice").status_code == 303
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    stream = SseStream(client, "/live", {"Cookie": cookie})
    try:
        message = stream.next_message(5)
        assert message.get("event") == "unread", message
        assert message["data"] == "1"
    finally:
        stream.close()


def _stream_status_authors(stream: LfSseStream, until: str, timeout_s: float = 5) -> list[str]:
    """The authors of the statuses a stream delivers, until one by ``until`` arrives."""
    authors: list[str] = []
    deadline = time.monotonic() + timeout_s
    while until not in authors:
        message = stream.next_message(max(0.0, deadline - time.monotonic()))
        if message.get("event") == "update":
            authors.append(json.loads(message["data"])["account"]["id"])
    return authors


def test_mastodon_public_and_tag_streams_honour_blocks_and_mutes(client: Client, api: Api) -> None:
    alice, bob, mallory, carol = api.user("alice"), api.user("bob"), api.user("mallory"), api.user("carol")
    assert client.post(f"/api/v1/accounts/{bob.id}/block", headers=alice.headers).status_code == 200
    assert client.post(f"/api/v1/accounts/{mallory.id}/mute", headers=alice.headers).status_code == 200
    for path in ("/api/v1/streaming/public", "/api/v1/streaming/hashtag?tag=cats"):
        streams = {who.handle: LfSseStream(client, path, who.headers) for who in (alice, bob)}
        try:
            for stream in streams.values():
                assert stream.next_message(5).get(":") == ")"
            for author in (alice, bob, mallory, carol):
                r = client.post("/api/v1/statuses", json={"status": "#cats"}, headers=author.headers)
                assert r.status_code == 200, r.text
            # Alice hears neither whom she blocks nor whom she mutes; Bob does not see Alice.
            assert _stream_status_authors(streams["alice"], carol.id) == [alice.id, carol.id]
            assert _stream_status_authors(streams["bob"], carol.id) == [bob.id, mallory.id, carol.id]
        finally:
            for stream in streams.values():
                stream.close()


def test_mastodon_timelines_search_and_context_honour_blocks_and_mutes(client: Client, api: Api) -> None:
    alice, bob, mallory, carol = api.user("alice"), api.user("bob"), api.user("mallory"), api.user("carol")
    root = client.post("/api/v1/statuses", json={"status": "root #cats"}, headers=carol.headers).json()
    posted = {}
    for author in (alice, bob, mallory):
        body = {"status": f"zebra #cats by {author.handle}", "in_reply_to_id": root["id"]}
        r = client.post("/api/v1/statuses", json=body, headers=author.headers)
        assert r.status_code == 200, r.text
        posted[author.handle] = r.json()["id"]
    assert client.post(f"/api/v1/accounts/{bob.id}/block", headers=alice.headers).status_code == 200
    assert client.post(f"/api/v1/accounts/{mallory.id}/mute", headers=alice.headers).status_code == 200

    def seen(user: User, path: str, **params: str) -> set[str]:
        r = client.get(path, params=params, headers=user.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        items = body if isinstance(body, list) else body.get("statuses", body.get("descendants", []))
        return {s["id"] for s in items} & set(posted.values())

    everyone = set(posted.values())
    # A mute silences the muter's feeds (home, public and tag timelines), not what she opens or
    # searches for: a thread's replies, search (docs/visibility.md, as the native API does);
    # a block hides both ways everywhere.
    for path, params, muted_shown in (
        ("/api/v1/timelines/public", {}, False),
        ("/api/v1/timelines/tag/cats", {}, False),
        ("/api/v2/search", {"q": "zebra", "type": "statuses"}, True),
        (f"/api/v1/statuses/{root['id']}/context", {}, True),
    ):
        expected = {posted["alice"], *([posted["mallory"]] if muted_shown else [])}
        assert seen(alice, path, **params) == expected, path  # never Bob
        assert seen(bob, path, **params) == everyone - {posted["alice"]}, path  # not Alice
        assert seen(carol, path, **params) == everyone, path
    r = client.get(f"/api/v1/statuses/{posted['alice']}", headers=bob.headers)
    assert r.status_code == 404
    assert set(r.json()) == {"error"}
