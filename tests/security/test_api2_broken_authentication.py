"""OWASP API2:2023 Broken Authentication.

Every forged token differs from one the gateway accepts in exactly one property, and the
control (the same claims, properly signed) is accepted, so each refusal is about that property:
alg none, algorithm confusion (HS256 keyed with the public key), a stranger's key, an unknown
kid, wrong iss or aud, expiry, a refresh token or an internal service token used as an access
token, and the token of a suspended account. Logins are throttled per account across addresses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar import Litestar
from litestar.testing import TestClient

from modules.users.keys import SigningKeys
from tests.api.oauth_support import make_admin
from tests.conftest import Api, User
from tests.security.conftest import MakeClient
from twitterclone.identity import ServiceIdentity
from twitterclone.settings import Settings


def me(client: TestClient[Litestar], token: str) -> Any:
    return client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})


def signing_key(client: TestClient[Litestar]) -> tuple[str, Ed25519PrivateKey]:
    """The gateway's current signing key, read from the users store (white box)."""

    async def current() -> tuple[str, Ed25519PrivateKey]:
        return await SigningKeys(client.app.state.runtime.kernel.store("users")).current()

    return client.blocking_portal.call(current)


def claims_for(user: User, settings: Settings, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user.id,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "scope": "read write follow",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


Forge = Callable[[dict[str, Any], str, Ed25519PrivateKey], str]


def _sign(claims: dict[str, Any], kid: str, key: Ed25519PrivateKey, typ: str = "at+jwt") -> str:
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid, "typ": typ})


def _alg_none(claims: dict[str, Any], kid: str, key: Ed25519PrivateKey) -> str:
    return jwt.encode(claims, "", algorithm="none", headers={"kid": kid, "typ": "at+jwt"})


def _hs256_with_public_key(claims: dict[str, Any], kid: str, key: Ed25519PrivateKey) -> str:
    # Algorithm confusion: HMAC keyed with the public key that anyone can read from the JWKS
    # (built by hand: pyjwt itself refuses to HMAC with an asymmetric key).
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    secret = base64.urlsafe_b64encode(raw).rstrip(b"=")

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    header = b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "at+jwt"}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = b64(hmac.new(secret, header + b"." + payload, hashlib.sha256).digest())
    return (header + b"." + payload + b"." + signature).decode()


FORGERIES: dict[str, tuple[dict[str, Any], Forge]] = {
    "alg none": ({}, _alg_none),
    "HS256 keyed with the public key": ({}, _hs256_with_public_key),
    "a stranger's Ed25519 key": ({}, lambda c, kid, _: _sign(c, kid, Ed25519PrivateKey.generate())),
    "an unknown kid": ({}, lambda c, _, key: _sign(c, "no-such-kid", key)),
    "wrong issuer": ({"iss": "https://evil.example"}, lambda c, kid, key: _sign(c, kid, key)),
    "wrong audience": ({"aud": "another-api"}, lambda c, kid, key: _sign(c, kid, key)),
    "expired": ({"exp": int(time.time()) - 3600}, lambda c, kid, key: _sign(c, kid, key)),
    "no expiry": ({"exp": None}, lambda c, kid, key: _sign(c, kid, key)),
    "an internal service type": ({}, lambda c, kid, key: _sign(c, kid, key, typ="svc+jwt")),
    "no type": ({}, lambda c, kid, key: jwt.encode(c, key, algorithm="EdDSA", headers={"kid": kid})),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_tokens_are_refused(
    client: TestClient[Litestar], api: Api, settings: Settings, forgery: str
) -> None:
    user = api.user("victim")
    kid, key = signing_key(client)
    control = _sign(claims_for(user, settings), kid, key)
    assert me(client, control).status_code == 200  # the forgery below differs in one property only
    changes, forge = FORGERIES[forgery]
    r = me(client, forge(claims_for(user, settings, **changes), kid, key))
    assert r.status_code == 401, r.text
    assert r.json()["type"] == "/problems/invalid-token"
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_refresh_token_is_not_an_access_token(client: TestClient[Litestar], api: Api) -> None:
    user = api.user("alice")
    assert me(client, user.tokens["refresh_token"]).status_code == 401
    r = client.post("/api/auth/refresh", json={"refresh_token": user.tokens["access_token"]})
    assert r.status_code in {400, 401}


def test_an_internal_service_token_is_not_an_access_token(
    client: TestClient[Litestar], api: Api, tmp_path: Any
) -> None:
    user = api.user("alice")
    identity = ServiceIdentity(Ed25519PrivateKey.generate(), caller="gateway")
    for module in ("users", "tweets"):
        assert me(client, identity.token_for(module)).status_code == 401
    # Even minted with the gateway's own signing key, with valid claims, the type decides.
    kid, key = signing_key(client)
    now = int(time.time())
    svc = _sign(
        {"iss": "gateway", "sub": user.id, "aud": "twitterclone:users", "iat": now, "exp": now + 60},
        kid,
        key,
        typ="svc+jwt",
    )
    assert me(client, svc).status_code == 401


def test_a_suspended_accounts_tokens_stop_working(client: TestClient[Litestar], api: Api) -> None:
    admin, bob = api.user("admin"), api.user("bob")
    make_admin(client, "admin")
    admin = User(
        admin.id, admin.handle, {"Authorization": f"Bearer {api.login('admin')['access_token']}"}, {}
    )
    assert client.get("/api/users/me", headers=bob.headers).status_code == 200
    r = client.post(f"/api/admin/users/{bob.id}/suspend", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert client.get("/api/users/me", headers=bob.headers).status_code == 401
    r = client.post("/api/tweets", json={"text": "still here"}, headers=bob.headers)
    assert r.status_code == 401
    assert client.post(
        "/api/auth/refresh", json={"refresh_token": bob.tokens["refresh_token"]}
    ).status_code in {
        401,
        403,
    }
    login = client.post("/api/auth/login", json={"login": "bob", "password": "correct horse battery"})
    assert login.status_code in {401, 403}
    assert "access_token" not in login.text


def test_unknown_account_and_wrong_password_look_the_same(client: TestClient[Litestar], api: Api) -> None:
    api.user("alice")
    wrong = client.post("/api/auth/login", json={"login": "alice", "password": "not the password"})
    unknown = client.post("/api/auth/login", json={"login": "nobody", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert {k: v for k, v in wrong.json().items() if k != "request_id"} == {
        k: v for k, v in unknown.json().items() if k != "request_id"
    }


def test_logins_to_one_account_are_throttled_across_addresses(make_client: MakeClient) -> None:
    client = make_client(rate_login_account="3/300", rate_login_address="100/60", rate_trusted_proxy_hops=1)
    Api(client).register("alice")
    Api(client).register("bob")

    def attempt(login: str, address: str, password: str = "guess guess") -> Any:
        return client.post(
            "/api/auth/login",
            json={"login": login, "password": password},
            headers={"X-Forwarded-For": address},
        )

    # Three guesses from three addresses spend the account's budget ...
    for i in range(3):
        assert attempt("alice", f"198.51.100.{i}").status_code == 401
    # ... so a fourth address, another spelling of the handle, or even the right password waits.
    for login, password in (
        ("alice", "guess guess"),
        ("ALICE", "guess guess"),
        ("alice", "correct horse battery"),
    ):
        refused = attempt(login, "203.0.113.9", password)
        assert refused.status_code == 429, refused.text
        assert refused.json()["type"] == "/problems/rate-limited"
        assert int(refused.headers["retry-after"]) >= 90
        assert "access_token" not in refused.text
    # Another account is not affected.
    assert attempt("bob", "203.0.113.9", "correct horse battery").status_code == 200
