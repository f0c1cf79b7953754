"""Live streams with the unmodified Mastodon.py client, over SSE and over the WebSocket.

The scene is set through the native API (accounts, follows, posts); what is checked is what the
client receives: a followed account's post on the user stream (its delay from the write printed
against the one-second target), its
deletion, a notification, public and hashtag streams — on the monolith and on the split.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websocket
from mastodon import Mastodon, StreamListener
from mastodon.errors import MastodonNetworkError

from tests.e2e.harness import Deployment
from tests.mastodon_clients.conftest import Native, NativeUser, Steps

pytestmark = pytest.mark.slow

#: How soon a write should reach an open stream (issue 12's target). The tests print the delay
#: each client saw against it, and fail only when an event does not come within DELIVERY_S: a
#: latency is a figure to report (bench and test output), not a red build on a loaded machine.
LIVE_S = 1.0
DELIVERY_S = 10.0


def report_delay(what: str, since: float) -> None:
    """Print how long ``what`` took to arrive, against the one-second target."""
    took = time.monotonic() - since
    verdict = "within" if took < LIVE_S else "OVER"
    print(f"[mastodon clients] {what}: delivered in {took:.3f} s ({verdict} the {LIVE_S:.0f} s target)")


class Collector(StreamListener):  # type: ignore[misc]
    """Puts every event the client dispatches on a queue: (event name, payload, stream)."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        #: Events taken off the queue while looking for another name, in arrival order: a
        #: later ``next`` for their name gets them. (Dropping them lost the split mention
        #: notification: it often comes on the user stream before the post's ``update``.)
        self.skipped: list[tuple[str, Any, Any]] = []
        self.heartbeats = 0

    def on_any_event(self, name: str, data: Any = None, for_stream: Any = None) -> None:
        self.events.put((name, data, for_stream))

    def handle_heartbeat(self) -> None:
        self.heartbeats += 1

    def on_update(self, status: Any) -> None:
        pass

    def on_delete(self, status_id: Any) -> None:
        pass

    def on_notification(self, notification: Any) -> None:
        pass

    def next(self, name: str, timeout_s: float) -> tuple[Any, Any]:
        """The next event named ``name``, within ``timeout_s``; events of other names that come
        first are kept for a later ``next`` (two feeds of one stream have no order between them)."""
        for i, (got, data, stream) in enumerate(self.skipped):
            if got == name:
                del self.skipped[i]
                return data, stream
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {name!r} event within {timeout_s}s")
            try:
                got, data, stream = self.events.get(timeout=remaining)
            except queue.Empty as exc:
                raise AssertionError(f"no {name!r} event within {timeout_s}s") from exc
            if got == name:
                return data, stream
            self.skipped.append((got, data, stream))

    def update_of(self, tweet_id: str, timeout_s: float) -> Any:
        """The ``update`` event of one status (earlier updates are skipped)."""
        deadline = time.monotonic() + timeout_s
        while True:
            status, _ = self.next("update", max(deadline - time.monotonic(), 0.001))
            if status.id == tweet_id:
                return status

    def wait_connected(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.heartbeats == 0:
            assert time.monotonic() < deadline, "the stream did not open"
            time.sleep(0.02)


def client_for(server: Deployment, user: NativeUser) -> Mastodon:
    return Mastodon(access_token=user.token, api_base_url=server.base_url, request_timeout=15)


@pytest.fixture
def scene(native: Native) -> Iterator[tuple[NativeUser, NativeUser]]:
    """Bob follows Alice."""
    alice, bob = native.user("alice"), native.user("bob")
    native.follow(bob, alice)
    return alice, bob


def test_mastodon_py_sse_streams(server: Deployment, native: Native, scene: Any, steps: Any) -> None:
    s: Steps = steps("Mastodon.py SSE streaming")
    alice, bob = scene
    api = client_for(server, bob)
    s("streaming health", lambda: _true(api.stream_healthy()))

    user_events = Collector()
    user_stream = s("open user stream", lambda: api.stream_user(user_events, run_async=True))
    public_events = Collector()
    public_stream = s("open public stream", lambda: api.stream_public(public_events, run_async=True))
    tag_events = Collector()
    tag_stream = s("open hashtag stream", lambda: api.stream_hashtag("live", tag_events, run_async=True))
    try:
        for c in (user_events, public_events, tag_events):
            c.wait_connected()
        s("a first post arrives (warm-up)", lambda: _warm_up(native, alice, user_events))
        posted_at = time.monotonic()
        tweet = native.post(alice, "hello @" + bob.handle + " from the live side #live")

        def followed_post_arrives() -> None:
            status, _ = user_events.next("update", DELIVERY_S)
            report_delay("SSE user stream, a followed account's post", posted_at)
            assert status.id == tweet
            assert status.account.acct == alice.handle
            assert "#live" not in status.content or "tags/live" in status.content

        s("followed account's post on the user stream (delay printed)", followed_post_arrives)
        s("mention notification on the user stream", lambda: _notified(user_events, tweet, alice))
        s("post on the public stream", lambda: public_events.update_of(tweet, DELIVERY_S))
        s("post on the hashtag stream", lambda: _equal(tag_events.next("update", DELIVERY_S)[0].id, tweet))

        native.delete(alice, tweet)
        s("delete on the user stream", lambda: _equal(str(user_events.next("delete", 3)[0]), tweet))
        s("delete on the public stream", lambda: _equal(str(public_events.next("delete", 3)[0]), tweet))
    finally:
        for handle in (user_stream, public_stream, tag_stream):
            handle.close()
    s.summary(11)


def test_mastodon_py_websocket_multiplexes(
    server: Deployment, native: Native, scene: Any, steps: Any
) -> None:
    s: Steps = steps("Mastodon.py WebSocket streaming")
    alice, bob = scene
    api = client_for(server, bob)
    events = Collector()
    socket = s("open the WebSocket", lambda: api.stream_open_websocket(events))
    try:
        s("subscribe user", lambda: socket.subscribe("user"))
        s("subscribe hashtag", lambda: socket.subscribe("hashtag", tag="sockets"))
        time.sleep(0.5)  # the subscriptions are messages: let the server take them
        s("a first post arrives (warm-up)", lambda: _warm_up(native, alice, events))
        posted_at = time.monotonic()
        tweet = native.post(alice, "over the socket #sockets")

        def followed_post_arrives() -> None:
            status, stream = events.next("update", DELIVERY_S)
            report_delay("WebSocket, a followed account's post", posted_at)
            assert status.id == tweet
            assert stream in (["user"], ["hashtag", "sockets"])

        s("followed account's post (delay printed)", followed_post_arrives)
        s("the same post on the hashtag subscription", lambda: _other_stream_gets(events, tweet))
        s("unsubscribe user", lambda: socket.unsubscribe("user"))
        time.sleep(0.5)
        second = native.post(alice, "only the tag now #sockets")

        def only_hashtag() -> None:
            status, stream = events.next("update", DELIVERY_S)
            assert (status.id, stream) == (second, ["hashtag", "sockets"])
            with pytest.raises(AssertionError):
                events.next("update", 1.0)

        s("after unsubscribing, only the hashtag stream", only_hashtag)
    finally:
        socket.close()
    s.summary(8)


def test_streams_refuse_a_bad_token(server: Deployment, native: Native) -> None:
    api = Mastodon(access_token="not-a-token", api_base_url=server.base_url, version_check_mode="none")
    with pytest.raises(MastodonNetworkError):
        api.stream_user(Collector(), run_async=False)
    r = httpx.get(f"{server.base_url}/api/v1/streaming/user", timeout=5)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/json"
    assert "error" in r.json()
    r = httpx.get(
        f"{server.base_url}/api/v1/streaming/hashtag", headers={"Authorization": "Bearer x"}, timeout=5
    )
    assert r.status_code == 422  # no tag: Mastodon's answer to bad input on its routes
    assert r.json() == {"error": "No tag for stream provided"}


def _warm_up(native: Native, author: NativeUser, events: Collector) -> None:
    """One post through the whole path first: the 1 s is for a stream in use, not for the caches
    and connections a fresh deployment opens on its first event."""
    tweet = native.post(author, "warming up")
    status, _ = events.next("update", 10)
    assert status.id == tweet


def _true(value: Any) -> None:
    assert value is True


def _equal(got: Any, expected: Any) -> None:
    assert got == expected, f"{got!r} != {expected!r}"


def _notified(events: Collector, tweet: str, actor: NativeUser) -> None:
    notification, _ = events.next("notification", DELIVERY_S)
    assert notification.type == "mention"
    assert notification.status.id == tweet
    assert notification.account.acct == actor.handle


def _other_stream_gets(events: Collector, tweet: str) -> None:
    status, _ = events.next("update", DELIVERY_S)
    assert status.id == tweet


def test_websocket_takes_the_token_as_subprotocol_or_query(server: Deployment, native: Native) -> None:
    """Browsers cannot set headers on a WebSocket: the token comes as ``Sec-WebSocket-Protocol``
    (echoed back by the server) or as ``access_token``; the stream as the ``stream`` parameter."""
    alice = native.user("alice")
    ws_base = server.base_url.replace("http://", "ws://")
    by_protocol = websocket.create_connection(
        f"{ws_base}/api/v1/streaming?stream=public:local", subprotocols=[alice.token], timeout=10
    )
    by_query = websocket.create_connection(
        f"{ws_base}/api/v1/streaming?stream=hashtag&tag=Query&access_token={alice.token}", timeout=10
    )
    try:
        assert by_protocol.getsubprotocol() == alice.token.lower()  # echoed (the client lower-cases it)
        time.sleep(0.3)
        tweet = native.post(alice, "both sockets see this #query")
        for socket, stream in ((by_protocol, ["public:local"]), (by_query, ["hashtag", "query"])):
            message = json.loads(socket.recv())
            assert message["stream"] == stream
            assert message["event"] == "update"
            assert json.loads(message["payload"])["id"] == tweet
        by_query.send(json.dumps({"type": "subscribe", "stream": "nonsense"}))
        assert json.loads(by_query.recv()) == {"error": "Unknown stream type", "status": 400}
    finally:
        by_protocol.close()
        by_query.close()
    with pytest.raises(websocket.WebSocketException):
        websocket.create_connection(f"{ws_base}/api/v1/streaming?stream=user&access_token=nope", timeout=10)
