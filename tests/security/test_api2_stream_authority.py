"""OWASP API2:2023 Broken Authentication: a live stream must not outlive the token that opened it.

A notification stream is authorised once, when it opens, and may then last for hours. It
re-checks its token on a short period (``TWITTERCLONE_STREAM_RECHECK_S``) through the same
verifier every request uses, and ends with ``event: unauthorized`` once the token has expired
or been revoked, or its account is suspended; meanwhile new notifications are not delivered.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.api.oauth_support import bearer, code_flow, make_admin, register_client
from tests.api.test_notifications_api import SseStream
from tests.conftest import Api, User
from tests.security.conftest import MakeClient

#: Re-check often, so the test does not wait for the default period.
RECHECK = {"stream_recheck_s": 0.3}


def _stream_until_lapsed(stream: SseStream, timeout_s: float) -> list[dict[str, str]]:
    """Messages until the stream's ``unauthorized`` event; AssertionError if it keeps going."""
    seen: list[dict[str, str]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        message = stream.next_message(max(0.0, deadline - time.monotonic()))
        seen.append(message)
        if message.get("event") == "unauthorized":
            return seen


def _assert_closed(stream: SseStream) -> None:
    """The response ends: its last body chunk (empty, ``more_body`` false) follows the event."""
    assert stream.chunks.get(timeout=2) == b"", "the stream stayed open after its unauthorized event"


def _mention(client: TestClient[Litestar], author: User, target: User) -> None:
    r = client.post("/api/tweets", json={"text": f"hey @{target.handle}"}, headers=author.headers)
    assert r.status_code == 201, r.text


def _suspend(client: TestClient[Litestar], api: Api, victim: User) -> None:
    api.user("admin")
    make_admin(client, "admin")
    admin = {"Authorization": f"Bearer {api.login('admin')['access_token']}"}
    r = client.post(f"/api/admin/users/{victim.id}/suspend", headers=admin)
    assert r.status_code == 200, r.text


def _delete_client(client: TestClient[Litestar], owner: User, client_id: str) -> None:
    r = client.delete(f"/api/oauth/clients/{client_id}", headers=owner.headers)
    assert r.status_code == 204, r.text


@pytest.mark.parametrize("lapse", ["suspended", "revoked"])
def test_a_stream_ends_when_its_account_is_suspended_or_its_token_revoked(
    make_client: MakeClient, lapse: str
) -> None:
    client = make_client(**RECHECK)
    api = Api(client)
    carol = api.user("carol")
    mia = api.user("mia")
    headers = mia.headers
    revoke: Callable[[], None] = lambda: _suspend(client, api, mia)  # noqa: E731
    if lapse == "revoked":  # a token issued to a third-party app, taken back by deleting the app
        owner = api.user("appowner")
        app = register_client(client, owner, scopes=["read", "write"])
        headers = bearer(code_flow(client, app, "mia", scope="read")["access_token"])
        revoke = lambda: _delete_client(client, owner, app["client_id"])  # noqa: E731

    stream = SseStream(client, "/api/notifications/stream", headers)
    try:
        assert stream.next_message(5).get(":") == "connected"
        assert stream.status == 200
        _mention(client, carol, mia)
        assert stream.next_notification(2)["event"] == "notification"  # it works while authorised

        revoke()
        _stream_until_lapsed(stream, 5)
        _assert_closed(stream)
        _mention(client, carol, mia)
        with pytest.raises(AssertionError, match="no SSE message"):
            stream.next_message(1)  # nothing more is delivered
    finally:
        stream.close()


def test_a_stream_ends_when_its_token_expires(make_client: MakeClient) -> None:
    # Tokens live 1 s; the verifier allows 5 s of clock skew past ``exp``.
    client = make_client(access_token_ttl_s=1, **RECHECK)
    mia = Api(client).user("mia")
    stream = SseStream(client, "/api/notifications/stream", mia.headers)
    try:
        assert stream.next_message(5).get(":") == "connected"
        assert stream.status == 200
        _stream_until_lapsed(stream, 12)
        _assert_closed(stream)
    finally:
        stream.close()
