"""OWASP API5:2023 Broken Function Level Authorization.

Every admin route (taken from the OpenAPI document, so a new one is covered the day it exists)
refuses anonymous callers (401), ordinary users (403) and tokens an admin gave to an OAuth
client (403), and serves an admin — so the refusals are about the caller, not a broken route.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from tests.api.oauth_support import make_admin
from tests.conftest import Api, User

EXPECTED_ADMIN_ROUTES = {
    ("POST", "/api/admin/users/{user_id}/suspend"),
    ("DELETE", "/api/admin/tweets/{tweet_id}"),
    ("POST", "/api/admin/keys/rotate"),
}


def admin_routes(client: TestClient[Litestar]) -> list[tuple[str, str]]:
    doc = client.get("/schema/openapi.json").json()
    return sorted(
        (method.upper(), path)
        for path, item in doc["paths"].items()
        if path.startswith("/api/admin")
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    )


def concrete(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "1"), path)


def call(client: TestClient[Litestar], method: str, path: str, headers: dict[str, str] | None = None) -> Any:
    return client.request(method, path, headers=headers or {})


def test_admin_routes_refuse_everyone_but_admins(client: TestClient[Litestar], api: Api) -> None:
    routes = admin_routes(client)
    assert set(routes) >= EXPECTED_ADMIN_ROUTES
    admin, bob = api.user("admin"), api.user("bob")
    tweet = client.post("/api/tweets", json={"text": "admins may remove this"}, headers=bob.headers).json()
    ids = {"user_id": bob.id, "tweet_id": tweet["id"], "kid": "no-such-kid"}
    for method, template in routes:
        path = concrete(template, ids)
        anonymous = call(client, method, path)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        user = call(client, method, path, bob.headers)
        assert user.status_code == 403, (method, path, user.text)
        assert user.headers["content-type"].startswith("application/problem+json")
    # Nothing happened: bob is not suspended and his tweet is there.
    assert client.get("/api/users/me", headers=bob.headers).status_code == 200
    assert client.get(f"/api/tweets/{tweet['id']}").status_code == 200

    make_admin(client, "admin")
    headers = {"Authorization": f"Bearer {api.login('admin')['access_token']}"}
    assert call(client, "GET", f"/api/admin/users/{bob.id}", headers).status_code == 200
    assert call(client, "DELETE", f"/api/admin/tweets/{tweet['id']}", headers).status_code in {200, 204}
    assert client.get(f"/api/tweets/{tweet['id']}").status_code == 404
    assert call(client, "POST", "/api/admin/keys/rotate", headers).status_code in {200, 201}
    assert admin.id != bob.id


def test_a_users_own_token_cannot_grant_itself_admin(client: TestClient[Litestar], api: Api) -> None:
    bob = api.user("bob")
    for path in ("/api/users/me", "/api/admin/users/" + bob.id):
        client.patch(path, json={"role": "admin"}, headers=bob.headers)
    assert call(client, "POST", "/api/admin/keys/rotate", bob.headers).status_code == 403


def test_admin_powers_need_a_first_party_token(client: TestClient[Litestar], api: Api) -> None:
    """An admin's token issued to a third-party OAuth app cannot use admin routes."""
    from tests.api.oauth_support import code_for, pkce, register_client, token

    admin = api.user("admin")
    make_admin(client, "admin")
    admin = User(admin.id, "admin", {"Authorization": f"Bearer {api.login('admin')['access_token']}"}, {})
    app = register_client(client, admin, confidential=False, scopes=["read", "write", "follow"])
    verifier, challenge = pkce()
    code = code_for(client, app["client_id"], challenge, "admin", scope="read write follow")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "client_id": app["client_id"],
        "code_verifier": verifier,
    }
    issued = token(client, **form)
    assert issued.status_code == 200, issued.text
    third_party = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    assert client.get("/api/users/me", headers=third_party).status_code == 200
    assert call(client, "POST", "/api/admin/keys/rotate", third_party).status_code == 403
    assert call(client, "POST", "/api/admin/keys/rotate", admin.headers).status_code in {200, 201}
