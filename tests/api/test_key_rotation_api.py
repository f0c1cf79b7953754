"""Signing keys rotate: old tokens verify until their key is retired, and fail after."""

from __future__ import annotations

import jwt
from litestar import Litestar
from litestar.testing import TestClient

from tests.api.oauth_support import make_admin
from tests.conftest import Api


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_rotation_keeps_old_tokens_until_retirement(client: TestClient[Litestar], api: Api) -> None:
    admin = api.user("root")
    make_admin(client, "root")
    alice = api.user("alice")
    key1 = kid(alice.tokens["access_token"])

    r = client.post("/api/admin/keys/rotate", headers=admin.headers)
    assert r.status_code == 201, r.text
    key2 = r.json()["kid"]
    assert key2 != key1
    assert r.json()["current"] is True

    jwks = {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
    assert jwks == {key1, key2}
    # A token signed with key1 still verifies; new tokens are signed with key2.
    assert client.get("/api/users/me", headers=alice.headers).status_code == 200
    fresh = api.login("alice")
    assert kid(fresh["access_token"]) == key2

    keys = {k["kid"]: k for k in client.get("/api/admin/keys", headers=admin.headers).json()}
    assert keys[key1]["rotated_at"]
    assert not keys[key1]["retired_at"]
    assert not keys[key1]["current"]

    # The current key cannot be retired; the rotated one can.
    r = client.post(f"/api/admin/keys/{key2}/retire", headers=admin.headers)
    assert r.status_code == 409
    assert r.json()["type"] == "/problems/signing-key-in-use"
    assert client.post("/api/admin/keys/nosuchkey/retire", headers=admin.headers).status_code == 404
    # (admin.headers hold a key1 token too: use a fresh key2 token for the retirement.)
    admin_fresh = {"Authorization": f"Bearer {api.login('root')['access_token']}"}
    r = client.post(f"/api/admin/keys/{key1}/retire", headers=admin_fresh)
    assert r.status_code == 200
    assert r.json()["retired_at"]

    assert {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]} == {key2}
    r = client.get("/api/users/me", headers=alice.headers)
    assert r.status_code == 401
    assert r.json()["type"] == "/problems/invalid-token"
    assert (
        client.get("/api/users/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code
        == 200
    )
