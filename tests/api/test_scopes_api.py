"""Scopes at the gateway: reads need read, writes need write, the follow graph needs follow."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from tests.api.oauth_support import REDIRECT, bearer, code_for, pkce, register_client, token
from tests.conftest import Api, User


def scoped_token(
    client: TestClient[Litestar], api: Api, scope: str, handle: str = "reader"
) -> tuple[User, str]:
    owner = api.user("appowner")
    reader = api.user(handle)
    app = register_client(client, owner, confidential=False, scopes=["read", "write", "follow"])
    verifier, challenge = pkce()
    code = code_for(client, app["client_id"], challenge, handle, scope=scope)
    r = token(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=app["client_id"],
        code_verifier=verifier,
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == scope
    return reader, r.json()["access_token"]


def insufficient(r: Any, scope: str) -> None:
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["type"] == "/problems/insufficient-scope"
    assert scope in body["detail"]


def test_a_read_only_token_reads_but_cannot_write(client: TestClient[Litestar], api: Api) -> None:
    reader, access = scoped_token(client, api, "read")
    headers = bearer(access)
    assert client.get("/api/users/me", headers=headers).status_code == 200
    assert client.get("/api/timeline/home", headers=headers).status_code == 200
    assert client.get("/api/notifications", headers=headers).status_code == 200
    insufficient(client.post("/api/tweets", json={"text": "not allowed"}, headers=headers), "write")
    insufficient(client.patch("/api/users/me", json={"bio": "x"}, headers=headers), "write")
    owner_id = client.get("/api/users/by-handle/appowner").json()["id"]
    insufficient(client.put(f"/api/users/me/following/{owner_id}", headers=headers), "follow")
    insufficient(client.put(f"/api/users/me/blocking/{owner_id}", headers=headers), "follow")
    # Nothing was written.
    assert client.get(f"/api/users/{reader.id}/tweets").json()["items"] == []


def test_a_write_only_token_cannot_read_or_follow(client: TestClient[Litestar], api: Api) -> None:
    _, access = scoped_token(client, api, "write", handle="writer")
    headers = bearer(access)
    posted = client.post("/api/tweets", json={"text": "hello"}, headers=headers)
    assert posted.status_code == 201, posted.text
    insufficient(client.get("/api/users/me", headers=headers), "read")
    insufficient(client.get(f"/api/tweets/{posted.json()['id']}", headers=headers), "read")
    # Anonymous reads of public data stay open.
    assert client.get(f"/api/tweets/{posted.json()['id']}").status_code == 200


def test_follow_scope_allows_the_follow_graph(client: TestClient[Litestar], api: Api) -> None:
    _, access = scoped_token(client, api, "follow", handle="follower")
    owner_id = client.get("/api/users/by-handle/appowner").json()["id"]
    r = client.put(f"/api/users/me/following/{owner_id}", headers=bearer(access))
    assert r.status_code == 200
    assert r.json()["following"] is True
    insufficient(client.post("/api/tweets", json={"text": "no"}, headers=bearer(access)), "write")


def test_first_party_login_tokens_carry_every_scope(client: TestClient[Litestar], api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    assert client.post("/api/tweets", json={"text": "hi"}, headers=alice.headers).status_code == 201
    assert client.put(f"/api/users/me/following/{bob.id}", headers=alice.headers).status_code == 200
    assert client.get("/api/timeline/home", headers=alice.headers).status_code == 200


def test_a_bad_token_on_an_optional_route_is_still_401(client: TestClient[Litestar], api: Api) -> None:
    r = client.get("/api/tweets/search", params={"q": "x"}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
