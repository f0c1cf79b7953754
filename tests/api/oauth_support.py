"""Helpers for the OAuth, scope, admin and key-rotation API tests.

``register_client`` registers an app through the API; ``code_flow`` runs the whole authorization
code flow with PKCE for a user and returns the token response; ``exchange_code`` is its last
step, for tests that need the code itself (replays, wrong verifiers).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from litestar import Litestar
from litestar.testing import TestClient

from boundaries.users.port import UsersPort
from tests.conftest import User

REDIRECT = "http://127.0.0.1:8765/callback"
PASSWORD = "correct horse battery"


def pkce() -> tuple[str, str]:
    """A code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def make_admin(client: TestClient[Litestar], handle: str) -> None:
    """Grant the admin role through the users port (the CLI does the same)."""

    async def grant() -> None:
        users: UsersPort = await client.app.state.runtime.get(UsersPort)
        await users.grant_admin(handle)

    client.blocking_portal.call(grant)


def register_client(client: TestClient[Litestar], owner: User, **body: Any) -> dict[str, Any]:
    payload = {"name": "Test app", "redirect_uris": [REDIRECT], **body}
    r = client.post("/api/oauth/clients", json=payload, headers=owner.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def consent_form(
    client_id: str,
    challenge: str,
    *,
    login: str,
    password: str = PASSWORD,
    scope: str = "read",
    state: str = "xyz",
    redirect_uri: str = REDIRECT,
) -> dict[str, str]:
    """The consent form a browser posts to /oauth/authorize: the request echoed back, the user's answer."""
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login": login,
        "password": password,
        "consent": "allow",
    }


def authorize(
    client: TestClient[Litestar], client_id: str, challenge: str, *, login: str, **answers: str
) -> Any:
    """POST the consent form as a browser would (after GET showed the page); see consent_form."""
    form = consent_form(client_id, challenge, login=login, **answers)
    return client.post("/oauth/authorize", data=form, follow_redirects=False)


def redirect_params(response: Any) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def code_for(
    client: TestClient[Litestar], client_id: str, challenge: str, login: str, scope: str = "read"
) -> str:
    params = redirect_params(authorize(client, client_id, challenge, login=login, scope=scope))
    assert params["state"] == "xyz"
    return params["code"]


def token(client: TestClient[Litestar], auth: tuple[str, str] | None = None, **form: str) -> Any:
    headers = {}
    if auth is not None:
        raw = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {raw}"
    return client.post("/oauth/token", data=form, headers=headers)


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def exchange_code(
    client: TestClient[Litestar],
    app: dict[str, Any],
    code: str,
    verifier: str,
    *,
    basic: bool = False,
    **form: str,
) -> Any:
    """Exchange a code at the token endpoint as ``app``; a confidential app authenticates with its
    secret in the form, or with HTTP Basic when ``basic``."""
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **form,
    }
    secret = app.get("client_secret")
    if secret and basic:
        return token(client, auth=(app["client_id"], secret), **fields)
    credentials = {"client_id": app["client_id"], **({"client_secret": secret} if secret else {})}
    return token(client, **credentials, **fields)


def code_flow(
    client: TestClient[Litestar], app: dict[str, Any], login: str, scope: str = "read"
) -> dict[str, Any]:
    """The whole authorization code flow with PKCE for ``login``: the token response (asserted 200)."""
    verifier, challenge = pkce()
    r = exchange_code(
        client, app, code_for(client, app["client_id"], challenge, login, scope=scope), verifier
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def refresh_grant(client: TestClient[Litestar], app: dict[str, Any], refresh_token: str, **form: str) -> Any:
    """Use a refresh token at the token endpoint as ``app`` (secret in the form when it has one)."""
    secret = app.get("client_secret")
    credentials = {"client_id": app["client_id"], **({"client_secret": secret} if secret else {})}
    return token(client, grant_type="refresh_token", refresh_token=refresh_token, **credentials, **form)
