"""The OAuth server as Mastodon clients use it (Mastodon.py 2.3.3, toot 0.52.1): apps registered
without an account, the out-of-band code flow without PKCE, the password and client-credentials
grants, JSON or form bodies, revocation answering ``{}``.

Apps are registered through the users port here (the Mastodon adapter's POST /api/v1/apps calls
the same ``register_app``); every other step is HTTP, as the clients send it.
"""

from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from boundaries.users.dto import OOB_REDIRECT_URI, AppRegistration
from boundaries.users.port import UsersPort
from tests.api.oauth_support import PASSWORD, bearer
from tests.conftest import FAST_ARGON2, MONOLITH, Api, migrate_all
from twitterclone.gateway.app import create_app
from twitterclone.manifest import Manifest
from twitterclone.settings import Settings

MASTODON_PY_SCOPES = "read write follow push"


def register_app(
    client: TestClient[Litestar], scopes: str = MASTODON_PY_SCOPES, **extra: Any
) -> dict[str, Any]:
    async def create() -> dict[str, Any]:
        users: UsersPort = await client.app.state.runtime.get(UsersPort)
        app = await users.register_app(
            AppRegistration(client_name="toot", redirect_uris=[OOB_REDIRECT_URI], scopes=scopes, **extra)
        )
        return {"client_id": app.client_id, "client_secret": app.client_secret}

    return client.blocking_portal.call(create)


def oob_code(client: TestClient[Litestar], app: dict[str, Any], scope: str, login: str = "alice") -> str:
    """toot's browser login: open the authorize URL (with its trailing slash), log in, copy the code."""
    query = {
        "response_type": "code",
        "redirect_uri": OOB_REDIRECT_URI,
        "scope": scope,
        "client_id": app["client_id"],
    }
    page = client.get("/oauth/authorize/", params=query)
    assert page.status_code == 200, page.text
    assert "code to copy" in page.text
    form = {**query, "state": "", "code_challenge": "", "code_challenge_method": "", "login": login}
    answer = client.post(
        "/oauth/authorize", data={**form, "password": PASSWORD, "consent": "allow"}, follow_redirects=False
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    match = re.search(r"value='([^']+)'", answer.text)
    assert match is not None, answer.text
    return html.unescape(match.group(1))


def test_toot_signs_in_with_the_out_of_band_code(client: TestClient[Litestar], api: Api) -> None:
    api.user("alice")
    app = register_app(client, "read write follow")
    code = oob_code(client, app, "read write follow")
    # toot exchanges it with a JSON body, no PKCE (its secret authenticates it).
    r = client.post(
        "/oauth/token",
        json={
            "grant_type": "authorization_code",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "code": code,
            "redirect_uri": OOB_REDIRECT_URI,
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"] == "read write follow"
    assert body["token_type"] == "Bearer"
    assert isinstance(body["created_at"], int)
    assert (
        client.get("/api/users/me", headers=bearer(body["access_token"])).json()["profile"]["handle"]
        == "alice"
    )
    # The code works once.
    again = client.post(
        "/oauth/token",
        json={
            "grant_type": "authorization_code",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "code": code,
            "redirect_uri": OOB_REDIRECT_URI,
        },
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_an_out_of_band_error_is_a_page_not_a_redirect(client: TestClient[Litestar], api: Api) -> None:
    api.user("alice")
    app = register_app(client)
    query = {"response_type": "code", "redirect_uri": OOB_REDIRECT_URI, "client_id": app["client_id"]}
    denied = client.post(
        "/oauth/authorize", data={**query, "scope": "read", "consent": "deny"}, follow_redirects=False
    )
    assert denied.status_code == 400
    assert "denied" in denied.text
    assert "location" not in denied.headers
    bad_scope = client.get(
        "/oauth/authorize", params={**query, "scope": "admin:read"}, follow_redirects=False
    )
    assert bad_scope.status_code == 400
    assert "location" not in bad_scope.headers


def test_mastodon_py_logs_in_with_the_password_grant(client: TestClient[Litestar], api: Api) -> None:
    api.user("alice")
    app = register_app(client)
    form = {
        "grant_type": "password",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "username": "alice@example.org",
        "password": PASSWORD,
        "scope": MASTODON_PY_SCOPES,
    }
    r = client.post("/oauth/token", data=form)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == MASTODON_PY_SCOPES  # every scope asked, spelled as asked
    refreshed = client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "refresh_token": r.json()["refresh_token"],
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    wrong = client.post("/oauth/token", data={**form, "password": "not the password"})
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"


def test_the_password_grant_is_switched_off_by_a_setting(tmp_path: Path, manifest: Manifest) -> None:
    settings = Settings(
        data_dir=str(tmp_path / "off"), manifest=str(MONOLITH), oauth_password_grant=False, **FAST_ARGON2
    )
    asyncio.run(migrate_all(manifest, settings))
    with TestClient(create_app(settings, manifest)) as client:
        _password_grant_is_off(client)


def _password_grant_is_off(client: TestClient[Litestar]) -> None:
    Api(client).user("alice")
    app = register_app(client)
    r = client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "username": "alice",
            "password": PASSWORD,
        },
    )
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


def test_an_app_token_stands_for_the_app_not_an_account(client: TestClient[Litestar], api: Api) -> None:
    app = register_app(client)
    r = client.post(
        "/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": OOB_REDIRECT_URI,  # toot sends it; it is ignored
            "scope": "read write",
        },
    )
    assert r.status_code == 200, r.text
    assert "refresh_token" not in r.json()
    me = client.get("/api/users/me", headers=bearer(r.json()["access_token"]))
    assert me.status_code == 403
    assert me.json()["type"] == "/problems/user-token-required"


def test_token_and_revoke_take_json_or_forms_and_answer_oauth_errors(
    client: TestClient[Litestar], api: Api
) -> None:
    api.user("alice")
    app = register_app(client)
    creds = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    for body in ([1, 2], {"grant_type": "password", "username": 5}, {"grant_type": "magic", **creds}):
        r = client.post("/oauth/token", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"] in {"invalid_request", "unsupported_grant_type"}, body
    r = client.post("/oauth/token", json={"grant_type": "client_credentials", "client_id": app["client_id"]})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"

    granted = client.post(
        "/oauth/token", json={"grant_type": "password", "username": "alice", "password": PASSWORD, **creds}
    ).json()
    assert client.get("/api/users/me", headers=bearer(granted["access_token"])).status_code == 200
    # Mastodon.py also sends the token it revokes as its bearer token: that is not client auth.
    revoked = client.post(
        "/oauth/revoke",
        json={"token": granted["access_token"], **creds},
        headers=bearer(granted["access_token"]),
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {}
    assert client.get("/api/users/me", headers=bearer(granted["access_token"])).status_code == 401
    by_form = client.post("/oauth/revoke", data={"token": granted["refresh_token"], **creds})
    assert by_form.status_code == 200
    assert by_form.json() == {}


def test_granular_scopes_are_mastodons_and_never_widen(client: TestClient[Litestar], api: Api) -> None:
    api.user("alice")
    app = register_app(client, "read write")
    creds = {"client_id": app["client_id"], "client_secret": app["client_secret"]}

    def password_grant(scope: str) -> Any:
        return client.post(
            "/oauth/token",
            data={
                "grant_type": "password",
                "username": "alice",
                "password": PASSWORD,
                "scope": scope,
                **creds,
            },
        )

    narrow = password_grant("read:statuses write:media")
    assert narrow.status_code == 200, narrow.text
    assert narrow.json()["scope"] == "read:statuses write:media"
    # A granular token does not reach the native API's broad routes; the broad scope does.
    r = client.get("/api/users/me", headers=bearer(narrow.json()["access_token"]))
    assert r.status_code == 403
    assert r.json()["type"] == "/problems/insufficient-scope"
    broad = password_grant("read")
    assert client.get("/api/users/me", headers=bearer(broad.json()["access_token"])).status_code == 200
    # Beyond the app's scopes, or not a scope at all: invalid_scope.
    for scope in ("follow", "write:follows read admin:read", "everything"):
        r = password_grant(scope)
        assert r.status_code == 400, scope
        assert r.json()["error"] == "invalid_scope", scope
