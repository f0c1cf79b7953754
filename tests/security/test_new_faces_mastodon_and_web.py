"""Issue 11's findings re-checked against the faces that came after it: the Mastodon client API
(``/api/v1``, ``/oauth``, its WebSocket and SSE streams) and the web client (forms, ``/live``).

Each test is the attack of a finding (1 availability, 2 path spellings, 3 login throttle by
content type, 4 streams outliving their authority, 9 ids and cursors) aimed at the new routes.
Black-box: the real server where sockets matter (finding 1), otherwise the test client over a
monolith.
"""

from __future__ import annotations

import base64
import json
import queue
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from tests.api.oauth_support import make_admin
from tests.conftest import Api
from tests.security.conftest import MakeClient
from tests.security.test_api1_blocks_reach_counts_and_streams import LfSseStream
from tests.security.test_api4_availability import _connect, _head, _metric, _server
from tests.security.test_api4_rate_limits_by_route import SPELLING_IDS, SPELLINGS, url
from tests.web.conftest import CSRF, PASSWORD, Browser

Client = TestClient[Litestar]
OOB = "urn:ietf:wg:oauth:2.0:oob"
RECHECK = {"stream_recheck_s": 0.3}


# ------------------------------------------------------------------------------ helpers


def _mastodon_app(client: Client | httpx.Client) -> tuple[dict[str, Any], str]:
    """An app registered as Mastodon clients do, and its client-credentials token."""
    app = client.post(
        "/api/v1/apps",
        data={"client_name": "attacker", "redirect_uris": OOB, "scopes": "read write follow"},
    )
    assert app.status_code == 200, app.text
    body = dict(app.json())
    form = {
        "grant_type": "client_credentials",
        "client_id": body["client_id"],
        "client_secret": body["client_secret"],
        "scope": "read write follow",
    }
    token = client.post("/oauth/token", data=form)
    assert token.status_code == 200, token.text
    return body, str(token.json()["access_token"])


def _mastodon_sign_up(client: Client | httpx.Client, handle: str) -> tuple[dict[str, Any], str]:
    """Sign up through ``POST /api/v1/accounts``; the app and the new user's access token."""
    app, app_token = _mastodon_app(client)
    r = client.post(
        "/api/v1/accounts",
        data={
            "username": handle,
            "email": f"{handle}@example.org",
            "password": PASSWORD,
            "agreement": "true",
        },
        headers={"Authorization": f"Bearer {app_token}"},
    )
    assert r.status_code == 200, r.text
    return app, str(r.json()["access_token"])


def _suspend(client: Client, api: Api, victim_id: str) -> None:
    api.user("admin")
    make_admin(client, "admin")
    admin = {"Authorization": f"Bearer {api.login('admin')['access_token']}"}
    r = client.post(f"/api/admin/users/{victim_id}/suspend", headers=admin)
    assert r.status_code == 200, r.text


def _me(client: Client, token: str) -> str:
    r = client.get("/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


# ------------------------------------------------- finding 1: streams take no slot, are capped


def _web_cookie(base_url: str, handle: str) -> str:
    """Sign in through the web client's form; the Cookie header of the signed-in browser."""
    with httpx.Client(base_url=base_url, timeout=30.0) as web:
        page = web.get("/signin")
        found = CSRF.search(page.text)
        assert found, page.text
        r = web.post("/signin", data={"csrf": found.group(1), "login": handle, "password": PASSWORD})
        assert r.status_code == 303, r.text
        return "; ".join(f"{k}={v}" for k, v in web.cookies.items())


def _open(server: Any, request: str) -> tuple[socket.socket, int, bytes]:
    sock = _connect(server)
    sock.sendall(request.encode())
    status, _, rest = _head(sock)
    return sock, status, rest


def _sse(path: str, token: str) -> str:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"


def _ws(token: str) -> str:
    key = base64.b64encode(b"0123456789abcdef").decode()
    return (
        f"GET /api/v1/streaming?stream=user&access_token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )


def _live(cookie: str) -> str:
    return f"GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n"


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def test_mastodon_and_web_streams_take_no_slot_and_share_the_stream_caps(
    sockets: list[socket.socket],
) -> None:
    env = {"admission_max_active": "2", "streams_per_user": "3", "streams_max": "6"}
    with _server(**env) as server, httpx.Client(base_url=server.url, timeout=30.0) as http:
        _, alice = _mastodon_sign_up(http, "alice")
        _, bob = _mastodon_sign_up(http, "bob")
        _, carol = _mastodon_sign_up(http, "carol")
        bob_cookie = _web_cookie(server.url, "bob")
        opened = [
            (_sse("/api/v1/streaming/user", alice), 200),
            (_sse("/api/v1/streaming/public", alice), 200),
            (_ws(alice), 101),
            (_live(bob_cookie), 200),
            (_ws(bob), 101),
            (_sse("/api/v1/streaming/user/notification", bob), 200),
        ]
        for request, expected in opened:  # three times as many streams as slots
            sock, status, _ = _open(server, request)
            sockets.append(sock)
            assert status == expected, request
        # Every slot is free for ordinary requests.
        home = {"authorization": f"Bearer {carol}"}
        assert [http.get("/api/v1/timelines/home", headers=home).status_code for _ in range(5)] == [200] * 5
        assert _metric(server, "twitterclone_streams_open") == 6

        for request in (_sse("/api/v1/streaming/user", alice), _live(bob_cookie)):  # past a user's cap
            sock, status, body = _open(server, request)
            sockets.append(sock)
            assert status == 429, request
            assert b"streams" in body  # {"error"} on Mastodon routes, a page in the web client
        sock, status, _ = _open(server, _ws(alice))  # a WebSocket past the cap is not accepted
        sockets.append(sock)
        assert status != 101
        sock, status, _ = _open(server, _sse("/api/v1/streaming/user", carol))  # past the process's cap
        sockets.append(sock)
        assert status == 503


def test_slow_bodies_on_mastodon_and_web_routes_take_no_slot(sockets: list[socket.socket]) -> None:
    with _server(admission_max_active="2", body_read_timeout_s="3") as server:
        with httpx.Client(base_url=server.url, timeout=30.0) as http:
            _, token = _mastodon_sign_up(http, "alice")
        stalled = {
            "/api/v1/statuses": "application/json",
            "/oauth/token": "application/x-www-form-urlencoded",
            "/api/v1/accounts": "application/x-www-form-urlencoded",
            "/signin": "application/x-www-form-urlencoded",
            "/compose": "application/x-www-form-urlencoded",
        }
        for path, content_type in stalled.items():  # more stalled bodies than slots
            for _ in range(2):
                sock = _connect(server)
                sock.sendall(
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                    f"Content-Type: {content_type}\r\nContent-Length: 100\r\n\r\n{{".encode()
                )
                sockets.append(sock)
        time.sleep(0.5)
        with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {token}"}) as client:
            answers = [client.get("/api/v1/timelines/home").status_code for _ in range(10)]
        assert answers == [200] * 10, "stalled bodies must not hold the slots others need"
        paths = [path for path in stalled for _ in range(2)]
        for path, sock in zip(paths, sockets, strict=True):  # each answered when its time is up
            status, headers, rest = _head(sock)
            assert status == 408, path
            assert headers["x-content-type-options"] == "nosniff"
            if path.startswith("/api/v1"):  # in Mastodon's shape on Mastodon's routes
                assert headers["content-type"].startswith("application/json"), path
                assert b'"error"' in rest, rest


# ------------------------------------------- finding 2: the rules hold whatever the spelling


def assert_rate_limited(r: Any) -> None:
    """A 429 in the face's own shape (``{"error"}`` on Mastodon routes, a page in the web
    client) with ``Retry-After``."""
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1
    if r.headers["content-type"].startswith("application/json"):
        assert set(r.json()) == {"error"}, r.text
    else:
        assert r.headers["content-type"].startswith(("text/html", "application/problem+json")), r.headers


@pytest.mark.parametrize("spell", SPELLINGS, ids=SPELLING_IDS)
def test_mastodon_sign_up_and_password_grant_are_limited_whatever_the_spelling(
    make_client: MakeClient, spell: Any
) -> None:
    client = make_client(
        rate_register_address="3/3600", rate_login_account="2/300", rate_login_address="100/60"
    )
    app, app_token = _mastodon_app(client)  # registering the app takes one of the three
    headers = {"Authorization": f"Bearer {app_token}"}

    def sign_up(i: int) -> Any:
        form = {
            "username": f"farm{i}",
            "email": f"farm{i}@example.org",
            "password": PASSWORD,
            "agreement": "1",
        }
        return client.post(url(spell("/api/v1/accounts")), data=form, headers=headers)

    assert [sign_up(i).status_code for i in range(2)] == [200, 200]
    assert_rate_limited(sign_up(2))

    def guess(password: str) -> Any:
        form = {
            "grant_type": "password",
            "username": "farm0",
            "password": password,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": "read",
        }
        return client.post(url(spell("/oauth/token")), data=form)

    for _ in range(2):
        assert guess("guess guess").status_code in {400, 401, 403}
    refused = guess(PASSWORD)
    assert_rate_limited(refused)
    assert "access_token" not in refused.text


@pytest.mark.parametrize("spell", SPELLINGS, ids=SPELLING_IDS)
def test_mastodon_posting_and_following_are_limited_whatever_the_spelling(
    make_client: MakeClient, spell: Any
) -> None:
    client = make_client(rate_post_user="2/60", rate_follow_user="2/60")
    api = Api(client)
    alice = api.user("alice")
    others = [api.user(f"bob{i}") for i in range(3)]
    status = client.post(url(spell("/api/v1/statuses")), json={"status": "one"}, headers=alice.headers)
    assert status.status_code == 200, status.text
    reblog = client.post(url(spell(f"/api/v1/statuses/{status.json()['id']}/reblog")), headers=alice.headers)
    assert reblog.status_code == 200, reblog.text
    assert_rate_limited(
        client.post(url(spell("/api/v1/statuses")), json={"status": "x"}, headers=alice.headers)
    )
    for other in others[:2]:
        r = client.post(url(spell(f"/api/v1/accounts/{other.id}/follow")), headers=alice.headers)
        assert r.status_code == 200, r.text
    assert_rate_limited(
        client.post(url(spell(f"/api/v1/accounts/{others[2].id}/follow")), headers=alice.headers)
    )


@pytest.mark.parametrize("spell", SPELLINGS, ids=SPELLING_IDS)
def test_web_forms_are_limited_whatever_the_spelling(make_client: MakeClient, spell: Any) -> None:
    client = make_client(rate_login_address="2/60", rate_register_address="1/3600", rate_post_user="1/60")
    browser = Browser(client)

    def submit(path: str, data: dict[str, str], page: str) -> Any:
        return browser.request("POST", url(spell(path)), data={"csrf": browser.csrf(page), **data})

    signup = {"handle": "mia", "email": "mia@example.org", "password": PASSWORD}
    assert submit("/signup", signup, "/signup").status_code == 303
    browser.cookies = httpx.Cookies()  # another visitor from the same address
    assert_rate_limited(submit("/signup", {**signup, "handle": "mib", "email": "mib@example.org"}, "/signup"))

    for _ in range(2):
        assert submit("/signin", {"login": "mia", "password": "guess guess"}, "/signin").status_code == 401
    assert_rate_limited(submit("/signin", {"login": "mia", "password": PASSWORD}, "/signin"))


def test_websocket_handshakes_are_charged_like_requests(make_client: MakeClient) -> None:
    # The limiter let every WebSocket scope through: Mastodon's streaming socket (a token check,
    # feeds opened) could be hammered without end from one address.
    client = make_client(rate_address="4/60")
    _, token = _mastodon_sign_up(client, "mia")  # app, its token, the sign-up: 3 of the 4
    with client.websocket_connect(f"/api/v1/streaming?access_token={token}") as ws:
        ws.close()
    refused = _refused(client, f"/api/v1/streaming?access_token={token}")  # the budget is spent
    assert refused.code == 1013
    assert_rate_limited(client.get("/api/v1/timelines/public"))


def _refused(client: Client, path: str) -> WebSocketDisconnect:
    """The refusal of a WebSocket handshake; AssertionError when it is accepted."""
    try:
        with client.websocket_connect(path):
            pass
    except WebSocketDisconnect as refused:
        return refused
    raise AssertionError(f"the WebSocket handshake to {path} was accepted")


def test_a_websocket_flooding_messages_is_closed(make_client: MakeClient) -> None:
    # Subscribe and unsubscribe messages pass neither the limiter nor admission, and each
    # subscribe starts feeds and reads a baseline: without a budget one socket keeps a core busy.
    client = make_client()
    _, token = _mastodon_sign_up(client, "mia")
    with client.websocket_connect(f"/api/v1/streaming?access_token={token}") as ws:
        for i in range(200):
            kind = "subscribe" if i % 2 == 0 else "unsubscribe"
            try:
                ws.send_text(json.dumps({"type": kind, "stream": "user:notification"}))
            except Exception:  # the server may already have closed it
                break
        assert _closed_code(ws, 10) == 1008


# --------------------------------- finding 3: the login throttle reads what the handler reads


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "application/json", "text/plain", "multipart/form-data"],
)
def test_the_password_grant_is_throttled_whatever_the_content_type(
    make_client: MakeClient, content_type: str
) -> None:
    client = make_client(rate_login_account="2/300", rate_login_address="100/60", rate_trusted_proxy_hops=1)
    app, _ = _mastodon_app(client)
    Api(client).register("alice")
    fields = {
        "grant_type": "password",
        "username": "alice",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "scope": "read",
    }

    def attempt(password: str, i: int) -> Any:
        forwarded = {"X-Forwarded-For": f"198.51.100.{i}"}  # every guess from another address
        body = {**fields, "password": password}
        if content_type == "application/json":
            return client.post(
                "/oauth/token", content=json.dumps(body), headers={**forwarded, "Content-Type": content_type}
            )
        if content_type == "multipart/form-data":
            return client.post(
                "/oauth/token", files={k: (None, v) for k, v in body.items()}, headers=forwarded
            )
        encoded = httpx.QueryParams(body).__str__()
        return client.post(
            "/oauth/token", content=encoded, headers={**forwarded, "Content-Type": content_type}
        )

    answers = [attempt("guess guess", i).status_code for i in range(2)]
    assert all(a in {400, 401, 403, 415} for a in answers), answers
    if set(answers) <= {400, 415}:  # this content type is refused before any password is read
        return
    refused = attempt(PASSWORD, 9)
    assert_rate_limited(refused)
    assert "access_token" not in refused.text


# ------------------------------------------- finding 4: streams end with their authority


def _drain_until_closed(stream: LfSseStream, timeout_s: float) -> None:
    """Read until the response ends (its empty last chunk); AssertionError if it keeps going."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("the stream outlived its authority")
        try:
            chunk = stream.chunks.get(timeout=remaining)
        except Exception:
            raise AssertionError("the stream outlived its authority") from None
        if chunk == b"":
            return


def _lapse(client: Client, api: Api, how: str, app: dict[str, Any], token: str) -> None:
    if how == "revoked":
        form = {"client_id": app["client_id"], "client_secret": app["client_secret"], "token": token}
        assert client.post("/oauth/revoke", data=form).status_code == 200
    else:
        _suspend(client, api, _me(client, token))


@pytest.mark.parametrize("how", ["revoked", "suspended"])
@pytest.mark.parametrize(
    "path", ["/api/v1/streaming/user", "/api/v1/streaming/public", "/api/v1/streaming/hashtag"]
)
def test_a_mastodon_sse_stream_ends_with_its_token_or_account(
    make_client: MakeClient, how: str, path: str
) -> None:
    client = make_client(**RECHECK)
    api = Api(client)
    app, token = _mastodon_sign_up(client, "mia")
    full = path + ("?tag=cats" if path.endswith("hashtag") else "")
    stream = LfSseStream(client, full, {"Authorization": f"Bearer {token}"})
    try:
        assert stream.next_message(5).get(":") == ")"
        assert stream.status == 200
        _lapse(client, api, how, app, token)
        _drain_until_closed(stream, 5)
    finally:
        stream.close()


@pytest.mark.parametrize("how", ["revoked", "suspended"])
def test_a_mastodon_websocket_closes_with_its_token_or_account(make_client: MakeClient, how: str) -> None:
    client = make_client(**RECHECK)
    api = Api(client)
    app, token = _mastodon_sign_up(client, "mia")
    with client.websocket_connect(f"/api/v1/streaming?stream=user&access_token={token}") as ws:
        ws.send_text(json.dumps({"type": "subscribe", "stream": "public"}))
        _lapse(client, api, how, app, token)
        assert _closed_code(ws, 5) == 1008


def _closed_code(ws: Any, timeout_s: float) -> int:
    """The close code the server sends (events before it are skipped); AssertionError if none."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        except WebSocketDisconnect as closed:
            return int(closed.code)
        except queue.Empty:
            break
    raise AssertionError("the server did not close the WebSocket")


@pytest.mark.parametrize("how", ["signed-out", "suspended", "password-changed"])
def test_the_web_live_stream_ends_with_its_session(make_client: MakeClient, how: str) -> None:
    client = make_client(**RECHECK)
    api = Api(client)
    mia = api.user("mia")
    browser = Browser(client)
    assert browser.sign_in("mia").status_code == 303
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    stream = LfSseStream(client, "/live", {"Cookie": cookie})
    try:
        assert stream.next_message(5).get("event") == "unread"
        if how == "signed-out":
            assert browser.submit("/signout", {}).status_code == 303
        elif how == "suspended":
            _suspend(client, api, mia.id)
        else:  # from another device: every other session ends
            r = client.post(
                "/api/auth/password",
                json={"current_password": PASSWORD, "new_password": "another horse battery"},
                headers=mia.headers,
            )
            assert r.status_code in {200, 204}, r.text
        _drain_until_closed(stream, 5)
    finally:
        stream.close()


# ------------------------------------------------- finding 9: ids and cursors never 500

BAD_IDS = ["18446744073709551615", "9223372036854775808", "0123", "abc", "-1", "1e3", ""]
PAGED = [
    "/api/v1/timelines/home",
    "/api/v1/timelines/public",
    "/api/v1/timelines/tag/cats",
    "/api/v1/notifications",
    "/api/v1/favourites",
    "/api/v1/bookmarks",
    "/api/v1/blocks",
    "/api/v1/mutes",
    "/api/v1/accounts/{me}/statuses",
    "/api/v1/accounts/{me}/followers",
    "/api/v1/accounts/{me}/following",
]
BY_ID = [
    "/api/v1/statuses/{id}",
    "/api/v1/statuses/{id}/context",
    "/api/v1/statuses/{id}/favourited_by",
    "/api/v1/accounts/{id}",
    "/api/v1/accounts/{id}/statuses",
    "/api/v1/notifications/{id}",
]


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda v: v or "empty")
def test_mastodon_ids_and_cursors_are_validated(client: Client, api: Api, bad: str) -> None:
    mia = api.user("mia")
    answers: list[tuple[str, int]] = []
    for path in PAGED:
        for param in ("max_id", "since_id", "min_id", "limit"):
            r = client.get(path.format(me=mia.id), params={param: bad}, headers=mia.headers)
            answers.append((f"{path}?{param}", r.status_code))
            assert r.status_code < 500, r.text
            if r.status_code >= 400:
                assert "error" in r.json(), r.text
    for path in BY_ID:
        r = client.get(path.format(id=bad or "%20"), headers=mia.headers)
        answers.append((path, r.status_code))
        assert r.status_code in {404, 422}, (path, r.text)
        assert set(r.json()) == {"error"}, r.text
    r = client.get("/api/v2/search", params={"q": "x", "offset": bad, "limit": bad}, headers=mia.headers)
    assert r.status_code < 500, r.text
    # A huge id is a 400/404/422, never a traceback: the cursor ones above are the heart of it.
    assert not [a for a in answers if a[1] >= 500]
