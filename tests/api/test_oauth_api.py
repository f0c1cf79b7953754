"""The OAuth 2.0 authorization server through HTTP: code + PKCE, refresh, client credentials,
the password grant, revocation, and client registration."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.api.oauth_support import (
    PASSWORD,
    REDIRECT,
    authorize,
    bearer,
    code_flow,
    code_for,
    exchange_code,
    make_admin,
    pkce,
    redirect_params,
    refresh_grant,
    register_client,
    token,
)
from tests.conftest import FAST_ARGON2, MONOLITH, Api, migrate_all
from twitterclone.gateway.app import create_app
from twitterclone.manifest import Manifest
from twitterclone.settings import Settings


def oauth_error(r: object, status: int, error: str) -> None:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert body["error"] == error, body
    assert "error_description" in body


# ------------------------------------------------------------- authorization code with PKCE


def test_full_authorization_code_flow_with_pkce(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    alice = api.user("alice")
    app = register_client(client, owner, confidential=False, scopes=["read", "write"])
    assert "client_secret" not in app
    verifier, challenge = pkce()
    query = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT,
        "scope": "read",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = client.get("/oauth/authorize", params=query)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Test app" in page.text
    assert "<form" in page.text
    assert "password" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "http" not in page.text.split("<body>")[1].replace(REDIRECT, "").replace("127.0.0.1:8765", "")

    code = code_for(client, app["client_id"], challenge, "alice")
    r = exchange_code(client, app, code, verifier)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read"
    assert body["refresh_token"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == app["client_id"]
    assert claims["sub"] == alice.id

    me = client.get("/api/users/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["profile"]["handle"] == "alice"


def test_wrong_verifier_is_refused_and_spends_the_code(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    api.user("bob")
    app = register_client(client, owner, confidential=False)
    verifier, challenge = pkce()
    code = code_for(client, app["client_id"], challenge, "bob")
    oauth_error(exchange_code(client, app, code, pkce()[0]), 400, "invalid_grant")
    oauth_error(exchange_code(client, app, code, verifier), 400, "invalid_grant")


def test_plain_pkce_and_missing_pkce_are_refused_by_redirect(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    app = register_client(client, owner, confidential=False)
    verifier, _ = pkce()
    for method, challenge in (("plain", verifier[:43]), ("", "")):
        r = client.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": app["client_id"],
                "redirect_uri": REDIRECT,
                "state": "s1",
                "code_challenge": challenge,
                "code_challenge_method": method,
            },
            follow_redirects=False,
        )
        params = redirect_params(r)
        assert params["error"] == "invalid_request"
        assert params["state"] == "s1"
        assert "code" not in params


def test_mismatched_redirect_uri_is_never_redirected_to(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    api.user("carol")
    app = register_client(client, owner, confidential=False)
    verifier, challenge = pkce()
    evil = "https://evil.example/cb"
    r = client.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": app["client_id"],
            "redirect_uri": evil,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        follow_redirects=False,
    )
    assert r.status_code == 400
    assert "evil.example" not in r.headers.get("location", "")
    assert "not one this client registered" in r.text
    r = authorize(client, app["client_id"], challenge, login="carol", redirect_uri=evil)
    assert r.status_code == 400
    assert "location" not in r.headers
    # At the token endpoint, the redirect URI must be the one the code was issued for.
    code = code_for(client, app["client_id"], challenge, "carol")
    oauth_error(
        exchange_code(client, app, code, verifier, redirect_uri=REDIRECT + "/other"), 400, "invalid_grant"
    )


def test_reused_code_is_refused_and_revokes_what_it_issued(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    api.user("dave")
    app = register_client(client, owner, confidential=False)
    verifier, challenge = pkce()
    code = code_for(client, app["client_id"], challenge, "dave")
    first = exchange_code(client, app, code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    assert client.get("/api/users/me", headers=bearer(tokens["access_token"])).status_code == 200
    oauth_error(exchange_code(client, app, code, verifier), 400, "invalid_grant")
    # Both tokens issued from the code are dead now (the access token once the gateway's status
    # cache, at most access_status_cache_s = 1 s old, expires).
    api.eventually(
        lambda: client.get("/api/users/me", headers=bearer(tokens["access_token"])).status_code == 401, 2.5
    )
    oauth_error(refresh_grant(client, app, tokens["refresh_token"]), 400, "invalid_grant")


def test_wrong_password_on_the_consent_page_shows_the_page_again(
    client: TestClient[Litestar], api: Api
) -> None:
    owner = api.user("appowner")
    api.user("erin")
    app = register_client(client, owner, confidential=False)
    _, challenge = pkce()
    r = authorize(client, app["client_id"], challenge, login="erin", password="wrong password!")
    assert r.status_code == 401
    assert "location" not in r.headers
    assert "wrong" in r.text
    assert "<form" in r.text
    denied = client.post(
        "/oauth/authorize",
        data={
            "response_type": "code",
            "client_id": app["client_id"],
            "redirect_uri": REDIRECT,
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "consent": "deny",
        },
        follow_redirects=False,
    )
    assert redirect_params(denied)["error"] == "access_denied"


def test_confidential_client_must_authenticate(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    api.user("frank")
    app = register_client(client, owner, confidential=True)
    verifier, challenge = pkce()
    code = code_for(client, app["client_id"], challenge, "frank")
    r = exchange_code(client, {**app, "client_secret": "not the secret"}, code, verifier, basic=True)
    oauth_error(r, 401, "invalid_client")
    assert r.headers["www-authenticate"].startswith("Basic")
    # client_secret_basic works (the failed attempt did not spend the code: the client was refused first)
    ok = exchange_code(client, app, code, verifier, basic=True)
    assert ok.status_code == 200, ok.text


# -------------------------------------------------------------------------- refresh tokens


def test_refresh_rotation_and_reuse_detection(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    api.user("gina")
    app = register_client(client, owner, confidential=True, scopes=["read", "write"])
    first = code_flow(client, app, "gina", scope="read write")
    second = refresh_grant(client, app, first["refresh_token"])
    assert second.status_code == 200, second.text
    second_body = second.json()
    assert second_body["refresh_token"] != first["refresh_token"]
    assert second_body["scope"] == "read write"
    narrowed = refresh_grant(client, app, second_body["refresh_token"], scope="read")
    assert narrowed.json()["scope"] == "read"
    wider = refresh_grant(client, app, narrowed.json()["refresh_token"], scope="follow")
    oauth_error(wider, 400, "invalid_scope")

    # Reusing a rotated token revokes the family: the newest token is dead too.
    oauth_error(refresh_grant(client, app, first["refresh_token"]), 400, "invalid_grant")
    oauth_error(refresh_grant(client, app, narrowed.json()["refresh_token"]), 400, "invalid_grant")


def test_refresh_tokens_do_not_cross_between_first_party_and_clients(
    client: TestClient[Litestar], api: Api
) -> None:
    owner = api.user("appowner")
    app = register_client(client, owner, confidential=True)
    oauth_error(refresh_grant(client, app, owner.tokens["refresh_token"]), 400, "invalid_grant")
    # ...and the first-party token was not spent by that attempt.
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": owner.tokens["refresh_token"]}).status_code
        == 200
    )


# --------------------------------------------------------------------- client credentials


def test_client_credentials_are_limited_to_the_clients_scopes(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    app = register_client(client, owner, redirect_uris=[], scopes=["read"], grants=["client_credentials"])
    auth = (app["client_id"], app["client_secret"])
    r = token(client, auth=auth, grant_type="client_credentials")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"] == "read"
    assert "refresh_token" not in body
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == f"client:{app['client_id']}"
    oauth_error(
        token(client, auth=auth, grant_type="client_credentials", scope="read write"), 400, "invalid_scope"
    )
    # A service token reads public data but cannot write.
    assert client.get(f"/api/users/{owner.id}", headers=bearer(body["access_token"])).status_code == 200
    r = client.post("/api/tweets", json={"text": "hi"}, headers=bearer(body["access_token"]))
    assert r.status_code == 403
    assert r.json()["type"] == "/problems/insufficient-scope"
    # It stands for a client, not an account: nothing to show as "one's own" home timeline.
    r = client.get("/api/timeline/home", headers=bearer(body["access_token"]))
    assert r.status_code == 403, r.text
    assert r.json()["type"] == "/problems/user-token-required"
    # A grant the client was not registered for is refused.
    oauth_error(
        token(client, auth=auth, grant_type="authorization_code", code="x"), 400, "unauthorized_client"
    )


def test_bot_account_client_acts_as_its_owner(client: TestClient[Litestar], api: Api) -> None:
    bot = api.user("weatherbot")
    app = register_client(
        client,
        bot,
        redirect_uris=[],
        scopes=["read", "write"],
        grants=["client_credentials"],
        bot_account=True,
    )
    r = token(
        client,
        grant_type="client_credentials",
        client_id=app["client_id"],
        client_secret=app["client_secret"],
    )
    access = r.json()["access_token"]
    posted = client.post("/api/tweets", json={"text": "Sunny today"}, headers=bearer(access))
    assert posted.status_code == 201, posted.text
    assert posted.json()["author"]["id"] == bot.id


def test_public_clients_cannot_use_client_credentials(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    r = client.post(
        "/api/oauth/clients",
        json={"name": "x", "confidential": False, "grants": ["client_credentials"]},
        headers=owner.headers,
    )
    assert r.status_code == 422, r.text


# -------------------------------------------------------------------------- password grant


def test_password_grant_needs_an_admin_registered_client(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    r = client.post(
        "/api/oauth/clients",
        json={"name": "x", "redirect_uris": [], "grants": ["password", "refresh_token"]},
        headers=owner.headers,
    )
    assert r.status_code == 403, r.text
    make_admin(client, "appowner")
    app = register_client(
        client, owner, redirect_uris=[], grants=["password", "refresh_token"], scopes=["read"]
    )
    api.user("henry")
    creds = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    r = token(client, grant_type="password", username="henry", password=PASSWORD, **creds)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "read"
    assert r.json()["refresh_token"]
    oauth_error(
        token(client, grant_type="password", username="henry", password="nope nope", **creds),
        400,
        "invalid_grant",
    )


@pytest.fixture
def no_password_client(tmp_path: Path, manifest: Manifest) -> Iterator[TestClient[Litestar]]:
    settings = Settings(
        data_dir=str(tmp_path / "data2"),
        manifest=str(MONOLITH),
        oauth_password_grant=False,
        **FAST_ARGON2,
    )
    asyncio.run(migrate_all(manifest, settings))
    with TestClient(create_app(settings, manifest)) as c:
        yield c


def test_password_grant_can_be_switched_off(no_password_client: TestClient[Litestar]) -> None:
    client = no_password_client
    api = Api(client)
    owner = api.user("appowner")
    make_admin(client, "appowner")
    app = register_client(client, owner, redirect_uris=[], grants=["password"])
    r = token(
        client,
        grant_type="password",
        username="appowner",
        password=PASSWORD,
        client_id=app["client_id"],
        client_secret=app["client_secret"],
    )
    oauth_error(r, 400, "unsupported_grant_type")


def test_unknown_grant_type_and_unknown_client(client: TestClient[Litestar], api: Api) -> None:
    oauth_error(token(client, grant_type="implicit", client_id="nope"), 400, "unsupported_grant_type")
    oauth_error(
        token(client, grant_type="client_credentials", client_id="nope", client_secret="x"),
        401,
        "invalid_client",
    )


# ------------------------------------------------------------------------------ revocation


def test_revocation_of_refresh_and_access_tokens(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    api.user("ivy")
    app = register_client(client, owner, confidential=False)
    tokens = code_flow(client, app, "ivy")
    # Unknown tokens: 200, as RFC 7009 asks.
    assert (
        client.post(
            "/oauth/revoke", data={"token": "no-such-token", "client_id": app["client_id"]}
        ).status_code
        == 200
    )
    # Another client may not revoke it.
    other = register_client(client, owner, confidential=False)
    r = client.post("/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": other["client_id"]})
    oauth_error(r, 400, "unauthorized_client")

    assert client.get("/api/users/me", headers=bearer(tokens["access_token"])).status_code == 200
    r = client.post(
        "/oauth/revoke",
        data={
            "token": tokens["access_token"],
            "token_type_hint": "access_token",
            "client_id": app["client_id"],
        },
    )
    assert r.status_code == 200
    assert client.get("/api/users/me", headers=bearer(tokens["access_token"])).status_code == 401

    r = client.post("/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": app["client_id"]})
    assert r.status_code == 200
    oauth_error(refresh_grant(client, app, tokens["refresh_token"]), 400, "invalid_grant")


def test_first_party_tokens_are_revocable_without_a_client(client: TestClient[Litestar], api: Api) -> None:
    user = api.user("jack")
    assert client.post("/oauth/revoke", data={"token": user.tokens["access_token"]}).status_code == 200
    assert client.get("/api/users/me", headers=user.headers).status_code == 401


# --------------------------------------------------------------------- client registration


def test_client_registration_rules(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    for uri in ("http://example.com/cb", "https://example.com/cb#frag", "javascript:alert(1)", "ftp://x/y"):
        r = client.post(
            "/api/oauth/clients", json={"name": "x", "redirect_uris": [uri]}, headers=owner.headers
        )
        assert r.status_code == 422, (uri, r.text)
    r = client.post("/api/oauth/clients", json={"name": "x", "scopes": ["admin"]}, headers=owner.headers)
    assert r.status_code == 400
    assert (
        client.post("/api/oauth/clients", json={"name": "x", "redirect_uris": [REDIRECT]}).status_code == 401
    )
    ok = register_client(client, owner, redirect_uris=["https://app.example/cb", "http://localhost:3000/cb"])
    assert ok["confidential"] is True
    assert len(ok["client_secret"]) >= 40
    assert ok["scopes"] == ["read"]
    assert ok["grants"] == ["authorization_code", "refresh_token"]


def test_owners_list_their_clients_and_never_see_a_secret(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    first = register_client(client, owner, name="First")
    second = register_client(client, owner, name="Second", confidential=False)
    r = client.get("/api/oauth/clients", headers=owner.headers)
    assert r.status_code == 200, r.text
    listed = r.json()
    assert [c["client_id"] for c in listed] == [second["client_id"], first["client_id"]]
    assert [c["name"] for c in listed] == ["Second", "First"]
    assert all("client_secret" not in c for c in listed)
    assert first["client_secret"] not in r.text
    assert client.get("/api/oauth/clients", headers=api.user("stranger").headers).json() == []
    assert client.get("/api/oauth/clients").status_code == 401


def test_deleting_a_client_stops_every_token_it_holds(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    api.user("mia")
    app = register_client(client, owner, scopes=["read", "write"])
    tokens = code_flow(client, app, "mia", scope="read write")
    service = register_client(client, owner, redirect_uris=[], grants=["client_credentials"])
    service_token = token(
        client, auth=(service["client_id"], service["client_secret"]), grant_type="client_credentials"
    ).json()["access_token"]
    assert client.get("/api/users/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert client.get(f"/api/users/{owner.id}", headers=bearer(service_token)).status_code == 200

    for doomed in (app, service):
        r = client.delete(f"/api/oauth/clients/{doomed['client_id']}", headers=owner.headers)
        assert r.status_code == 204, r.text
    # At once (this process forgets its cached token statuses): the access tokens are refused...
    assert client.get("/api/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert client.get(f"/api/users/{owner.id}", headers=bearer(service_token)).status_code == 401
    # ...the refresh token and the client's credentials no longer work...
    oauth_error(refresh_grant(client, app, tokens["refresh_token"]), 401, "invalid_client")
    oauth_error(
        token(client, auth=(service["client_id"], service["client_secret"]), grant_type="client_credentials"),
        401,
        "invalid_client",
    )
    # ...nobody can be sent to authorize it again, and it is gone from the list.
    _, challenge = pkce()
    page = authorize(client, app["client_id"], challenge, login="mia")
    assert page.status_code == 400
    assert "location" not in page.headers
    assert client.get("/api/oauth/clients", headers=owner.headers).json() == []
    # The user's own session is untouched, and deleting again is no error.
    assert client.get("/api/users/me", headers=owner.headers).status_code == 200
    assert client.delete(f"/api/oauth/clients/{app['client_id']}", headers=owner.headers).status_code == 204


def test_client_management_takes_first_party_tokens_only(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    api.user("nina")
    app = register_client(client, owner, confidential=False, scopes=["read", "write", "follow"])
    access = code_flow(client, app, "nina", scope="read write follow")["access_token"]
    for r in (
        client.get("/api/oauth/clients", headers=bearer(access)),
        client.delete(f"/api/oauth/clients/{app['client_id']}", headers=bearer(access)),
    ):
        assert r.status_code == 403, r.text
        assert r.json()["type"] == "/problems/first-party-only"
    assert client.delete(f"/api/oauth/clients/{app['client_id']}").status_code == 401
    r = client.delete("/api/oauth/clients/not.an.id", headers=owner.headers)
    assert r.status_code == 400, r.text
    r = client.delete("/api/oauth/clients/no-such-client", headers=owner.headers)
    assert r.status_code == 404, r.text
    assert r.json()["type"] == "/problems/oauth-client-not-found"
    # The app was not touched by any of that.
    assert [c["client_id"] for c in client.get("/api/oauth/clients", headers=owner.headers).json()] == [
        app["client_id"]
    ]


def test_malformed_authorization_requests_get_an_error_page(client: TestClient[Litestar]) -> None:
    for r in (
        client.get("/oauth/authorize", params={"state": "s" * 600}, follow_redirects=False),
        client.post("/oauth/authorize", data={"redirect_uri": "x" * 600}, follow_redirects=False),
    ):
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert "location" not in r.headers
        assert "cannot go on" in r.text


def test_oauth_client_tokens_cannot_register_clients(client: TestClient[Litestar], api: Api) -> None:
    owner = api.user("appowner")
    api.user("kim")
    app = register_client(client, owner, confidential=False, scopes=["read", "write", "follow"])
    access = code_flow(client, app, "kim", scope="read write follow")["access_token"]
    r = client.post("/api/oauth/clients", json={"name": "escalate"}, headers=bearer(access))
    assert r.status_code == 403
    assert r.json()["type"] == "/problems/first-party-only"


def test_logs_never_carry_secrets(
    client: TestClient[Litestar], api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    owner = api.user("appowner")
    api.user("leo")
    app = register_client(client, owner, confidential=True)
    verifier, challenge = pkce()
    code = code_for(client, app["client_id"], challenge, "leo")
    body = exchange_code(client, app, code, verifier, basic=True).json()
    exchange_code(client, app, code, verifier, basic=True)  # a replay is logged: without the code
    logged = caplog.text + "".join(str(getattr(r, "__dict__", "")) for r in caplog.records)
    for secret in (
        app["client_secret"],
        code,
        verifier,
        body["access_token"],
        body["refresh_token"],
        PASSWORD,
    ):
        assert secret not in logged
