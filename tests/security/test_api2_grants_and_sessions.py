"""API2 (broken authentication), issue 11 findings 5 and 9: what a user granted they can see and
take back, a password change ends every other session, sessions age out however often they are
refreshed, and a replayed authorization code racing its first exchange still revokes what that
exchange issues.

Black-box through the HTTP API, except where time or a race must be arranged: the session-age
test moves the token issuer's clock, and the race test holds the first exchange between claiming
the code and signing its token while the replay runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

import modules.users.tokens as token_issuer
from boundaries.users.dto import TokenRequest
from boundaries.users.errors import OAuthInvalidGrant
from boundaries.users.port import UsersPort
from tests.api.oauth_support import (
    PASSWORD,
    REDIRECT,
    bearer,
    code_flow,
    code_for,
    pkce,
    refresh_grant,
    register_client,
    token,
)
from tests.conftest import Api
from tests.security.conftest import MakeClient

NEW_PASSWORD = "a different good password"


def me(client: TestClient[Litestar], access_token: str) -> int:
    return client.get("/api/users/me", headers=bearer(access_token)).status_code


# ------------------------------------------------------------------ authorised apps (finding 5)


def test_a_user_sees_and_takes_back_the_apps_they_authorised(client: TestClient[Litestar], api: Api) -> None:
    owner, alice, bob = api.user("owner"), api.user("alice"), api.user("bob")
    app = register_client(client, owner, scopes=["read", "write"])
    granted = code_flow(client, app, "alice", scope="read write")
    assert me(client, granted["access_token"]) == 200

    listed = client.get("/api/oauth/authorized-apps", headers=alice.headers)
    assert listed.status_code == 200, listed.text
    [entry] = listed.json()
    assert entry["client_id"] == app["client_id"]
    assert entry["name"] == "Test app"
    assert entry["scopes"] == ["read", "write"]
    assert entry["authorized_at"]
    assert entry["last_used_at"]
    # Nobody else sees alice's grants, and the app itself may not list or revoke them.
    assert client.get("/api/oauth/authorized-apps", headers=bob.headers).json() == []
    assert (
        client.get("/api/oauth/authorized-apps", headers=bearer(granted["access_token"])).status_code == 403
    )
    path = f"/api/oauth/authorized-apps/{app['client_id']}"
    assert client.delete(path, headers=bearer(granted["access_token"])).status_code == 403
    assert client.delete(path, headers=bob.headers).status_code == 404  # bob never authorised it

    assert client.delete(path, headers=alice.headers).status_code == 204
    # At once: the access token stops working, the refresh token is dead, the list is empty.
    assert me(client, granted["access_token"]) == 401
    r = refresh_grant(client, app, granted["refresh_token"])
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_grant"
    assert client.get("/api/oauth/authorized-apps", headers=alice.headers).json() == []
    assert client.delete(path, headers=alice.headers).status_code == 204  # idempotent
    # Alice's own session is untouched, and she may authorise the app again.
    assert client.get("/api/users/me", headers=alice.headers).status_code == 200
    again = code_flow(client, app, "alice", scope="read")
    assert me(client, again["access_token"]) == 200
    assert [
        a["client_id"] for a in client.get("/api/oauth/authorized-apps", headers=alice.headers).json()
    ] == [app["client_id"]]


def test_revoking_an_app_ends_only_that_apps_tokens(client: TestClient[Litestar], api: Api) -> None:
    owner, alice = api.user("owner"), api.user("alice")
    first = register_client(client, owner, name="First")
    second = register_client(client, owner, name="Second")
    a = code_flow(client, first, "alice")
    b = code_flow(client, second, "alice")
    assert (
        client.delete(f"/api/oauth/authorized-apps/{first['client_id']}", headers=alice.headers).status_code
        == 204
    )
    assert me(client, a["access_token"]) == 401
    assert me(client, b["access_token"]) == 200
    assert refresh_grant(client, second, b["refresh_token"]).status_code == 200


# --------------------------------------------------------------------- password change (finding 5)


def test_a_password_change_ends_every_other_session_and_grant(client: TestClient[Litestar], api: Api) -> None:
    owner, alice = api.user("owner"), api.user("alice")
    other_session = api.login("alice")
    app = register_client(client, owner)
    app_tokens = code_flow(client, app, "alice")

    # The current password is required; a wrong one changes nothing and ends nothing.
    wrong = client.post(
        "/api/auth/password",
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
        headers=alice.headers,
    )
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["type"] == "/problems/wrong-password"
    assert me(client, other_session["access_token"]) == 200
    # An app's token cannot change the password (first-party only).
    r = client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(app_tokens["access_token"]),
    )
    assert r.status_code == 403, r.text

    changed = client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=alice.headers,
    )
    assert changed.status_code == 200, changed.text
    fresh = changed.json()
    assert me(client, fresh["access_token"]) == 200

    # Every other session ends at once: access tokens and refresh families, first-party and OAuth.
    assert me(client, other_session["access_token"]) == 401
    assert me(client, alice.tokens["access_token"]) == 401
    for old in (other_session, alice.tokens):
        r = client.post("/api/auth/refresh", json={"refresh_token": old["refresh_token"]})
        assert r.status_code == 401, r.text
    assert me(client, app_tokens["access_token"]) == 401
    assert refresh_grant(client, app, app_tokens["refresh_token"]).status_code == 400
    assert client.get("/api/oauth/authorized-apps", headers=bearer(fresh["access_token"])).json() == []
    # The new session refreshes; the old password no longer opens the account, the new one does.
    assert client.post("/api/auth/refresh", json={"refresh_token": fresh["refresh_token"]}).status_code == 200
    assert client.post("/api/auth/login", json={"login": "alice", "password": PASSWORD}).status_code == 401
    assert (
        client.post("/api/auth/login", json={"login": "alice", "password": NEW_PASSWORD}).status_code == 200
    )


def test_the_new_password_follows_the_rules(client: TestClient[Litestar], api: Api) -> None:
    alice = api.user("alice")
    r = client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=alice.headers,
    )
    assert r.status_code in (400, 422), r.text
    assert me(client, alice.tokens["access_token"]) == 200


# ------------------------------------------------------------ refresh families age out (finding 5)


def test_a_session_ends_however_often_it_is_refreshed(
    client: TestClient[Litestar], api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each refresh starts the 30-day expiry again, but a family ends 90 days after its login."""
    alice = api.user("alice")
    refresh = alice.tokens["refresh_token"]
    start = datetime.now(UTC)
    for day in (20, 40, 60, 80):
        monkeypatch.setattr(token_issuer, "now", lambda d=day: start + timedelta(days=d))
        r = client.post("/api/auth/refresh", json={"refresh_token": refresh})
        assert r.status_code == 200, (day, r.text)
        refresh = r.json()["refresh_token"]
    monkeypatch.setattr(token_issuer, "now", lambda: start + timedelta(days=91))
    r = client.post("/api/auth/refresh", json={"refresh_token": refresh})
    assert r.status_code == 401, r.text


# ------------------------------------------------------ a replayed code racing its exchange (finding 9)


def test_a_code_replayed_while_its_first_exchange_runs_still_revokes_it(
    client: TestClient[Litestar], api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = api.user("owner")
    api.user("alice")
    app = register_client(client, owner)
    verifier, challenge = pkce()
    code = code_for(client, app["client_id"], challenge, "alice")
    form = {
        "grant_type": "authorization_code",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    users: Any = client.blocking_portal.call(client.app.state.runtime.get, UsersPort)
    issuer = users.issuer
    sign = issuer.issue_access
    replay: list[str] = []

    async def sign_after_a_replay(*args: Any, **kwargs: Any) -> Any:
        # The first exchange has claimed the code and not yet recorded what it issues: the
        # attacker's copy of the code arrives now.
        if not replay:
            replay.append("sent")
            try:
                await users.exchange_token(TokenRequest(**form))
            except OAuthInvalidGrant:
                replay.append("refused")
        return await sign(*args, **kwargs)

    monkeypatch.setattr(issuer, "issue_access", sign_after_a_replay)
    first = token(client, **form)
    monkeypatch.setattr(issuer, "issue_access", sign)
    assert replay == ["sent", "refused"]
    # Whichever finished first, nothing issued from the code may work afterwards.
    if first.status_code == 200:
        tokens = first.json()
        assert me(client, tokens["access_token"]) == 401
        assert refresh_grant(client, app, tokens["refresh_token"]).status_code == 400
    else:
        assert first.status_code == 400, first.text
        assert first.json()["error"] == "invalid_grant"


# ---------------------------------------------------------- a taken email address (finding 9, kept)


def test_the_taken_email_answer_is_bounded_as_documented(make_client: MakeClient) -> None:
    """SECURITY.md keeps ``email-taken`` (no mail delivery to hide it behind); this pins its bounds:
    only a registration that would otherwise succeed hears it, and every probe spends the
    address's registration budget. (A guard of the documented decision: it passes on main too.)"""
    client = make_client(rate_register_address="4/3600")
    api = Api(client)
    api.register("alice")

    def register(handle: str, email: str, password: str = PASSWORD) -> Any:
        return client.post(
            "/api/auth/register", json={"handle": handle, "email": email, "password": password}
        )

    taken_handle = register("alice", "alice@example.org")
    assert taken_handle.status_code == 409
    assert taken_handle.json()["type"] == "/problems/handle-taken"  # the handle is public anyway
    short_password = register("mallory", "alice@example.org", "short")
    assert short_password.status_code in (400, 422)
    assert "email" not in short_password.json()["type"]
    probe = register("mallory", "alice@example.org")
    assert probe.status_code == 409
    assert probe.json()["type"] == "/problems/email-taken"
    # The address's registration budget (4 here, 30 an hour by default) is spent: more probes wait.
    assert register("mallory2", "bob@example.org").status_code == 429
