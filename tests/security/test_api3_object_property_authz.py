"""OWASP API3:2023 Broken Object Property Level Authorization.

Mass assignment: a profile update or a registration cannot set role, verified, counters or ids
(unknown fields are refused whole, nothing is half-applied). Excessive data exposure: no response
ever carries a password hash, a private key or a secret, and public views carry no email.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api

FORBIDDEN_FIELDS = [
    {"role": "admin"},
    {"verified": True},
    {"is_admin": True},
    {"followers_count": 1_000_000},
    {"following_count": 0},
    {"id": "1"},
    {"handle": "someone_else"},
    {"email": "attacker@example.org"},
    {"password_hash": "$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB"},
    {"suspended": False},
    {"created_at": "2000-01-01T00:00:00Z"},
]

#: What must never leave the server, in any response.
SECRET_PATTERNS = [
    re.compile(r"\$argon2(id|i|d)\$"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(
        r'"(password|password_hash|private_key|private_key_pem|client_secret_hash|secret_hash|d)"\s*:'
    ),
]


@pytest.mark.parametrize("extra", FORBIDDEN_FIELDS, ids=lambda e: next(iter(e)))
def test_profile_update_cannot_set_protected_properties(
    client: TestClient[Litestar], api: Api, extra: dict[str, Any]
) -> None:
    alice = api.user("alice")
    before = client.get("/api/users/me", headers=alice.headers).json()
    r = client.patch("/api/users/me", json={"bio": "new bio", **extra}, headers=alice.headers)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    after = client.get("/api/users/me", headers=alice.headers).json()
    assert after == before  # nothing half-applied, not even the allowed bio
    assert client.get("/api/admin/keys", headers=alice.headers).status_code in {401, 403}


@pytest.mark.parametrize("extra", FORBIDDEN_FIELDS[:6], ids=lambda e: next(iter(e)))
def test_registration_cannot_set_protected_properties(
    client: TestClient[Litestar], api: Api, extra: dict[str, Any]
) -> None:
    body = {"handle": "mallory", "email": "mallory@example.org", "password": "correct horse battery", **extra}
    r = client.post("/api/auth/register", json=body)
    assert r.status_code == 400, r.text
    assert client.get("/api/users/by-handle/mallory").status_code == 404


def _no_secrets(response: Any) -> None:
    text = response.text
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(text), (response.request.url, pattern.pattern, text[:300])


def test_no_response_carries_a_password_hash_or_secret(client: TestClient[Litestar], api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    tweet = client.post("/api/tweets", json={"text": "hello @bob #secure"}, headers=alice.headers).json()
    client.put(f"/api/users/me/following/{alice.id}", headers=bob.headers)
    client.put(f"/api/tweets/{tweet['id']}/like", headers=bob.headers)
    app = client.post(
        "/api/oauth/clients",
        json={"name": "App", "redirect_uris": ["http://127.0.0.1:9/cb"], "confidential": True},
        headers=alice.headers,
    )
    responses = [
        app,
        client.get("/api/users/me", headers=alice.headers),
        client.get(f"/api/users/{alice.id}"),
        client.get("/api/users/by-handle/alice"),
        client.get("/api/users/search", params={"q": "a"}),
        client.get(f"/api/users/{alice.id}/followers"),
        client.get(f"/api/users/{bob.id}/following"),
        client.get(f"/api/tweets/{tweet['id']}"),
        client.get("/api/tweets/search", params={"q": "hello"}),
        client.get("/api/timeline/home", headers=bob.headers),
        client.get(f"/api/users/{alice.id}/tweets"),
        client.get("/api/notifications", headers=alice.headers),
        client.get("/.well-known/jwks.json"),
        client.post("/api/auth/login", json={"login": "alice", "password": "wrong password"}),
        client.post("/api/auth/register", json={"handle": "alice", "email": "a@b.c", "password": "x" * 9}),
    ]
    for response in responses:
        _no_secrets(response)
    jwks = client.get("/.well-known/jwks.json").json()
    assert all(set(k) <= {"kty", "kid", "alg", "use", "crv", "x", "y"} for k in jwks["keys"])


def test_public_views_do_not_show_email(client: TestClient[Litestar], api: Api) -> None:
    alice = api.user("alice")
    for path in (f"/api/users/{alice.id}", "/api/users/by-handle/alice"):
        body = client.get(path).json()
        assert "email" not in body
        assert "alice@example.org" not in client.get(path).text
    assert "alice@example.org" not in client.get("/api/users/search", params={"q": "ali"}).text
    # Only the owner sees it.
    assert client.get("/api/users/me", headers=alice.headers).json()["email"] == "alice@example.org"


def test_no_response_schema_has_a_secret_property(client: TestClient[Litestar]) -> None:
    """Every schema reachable from a response of the OpenAPI document (what the API can send)."""
    doc = client.get("/schema/openapi.json").json()
    schemas = doc["components"]["schemas"]
    seen: set[str] = set()
    properties: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in seen:
                    seen.add(name)
                    walk(schemas[name])
            props = node.get("properties")
            if isinstance(props, dict):
                properties.update(props)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for item in doc["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                walk(operation.get("responses", {}))
    assert "Profile" in seen  # the walk reaches response bodies
    assert not properties & {"password", "password_hash", "private_key", "private_key_pem", "secret_hash"}
