"""Registration, login, refresh, logout, the JWKS, and what the gateway accepts as a token."""

from __future__ import annotations

import time
from typing import Any

import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api
from twitterclone.gateway.app import create_app
from twitterclone.manifest import Manifest
from twitterclone.settings import Settings

PASSWORD = "correct horse battery"


def problem(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    if code is not None:
        assert body["type"] == f"/problems/{code}"
    assert "Traceback" not in r.text
    return body


def register(client: TestClient[Litestar], **body: Any) -> Any:
    return client.post("/api/auth/register", json=body)


# ------------------------------------------------------------ registration


def test_register_returns_the_account(client: TestClient[Litestar]) -> None:
    r = register(client, handle="Alice_1", email="Alice@Example.org", password=PASSWORD, display_name="Alice")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["email"] == "alice@example.org"
    assert body["profile"]["handle"] == "Alice_1"
    assert body["profile"]["display_name"] == "Alice"
    assert body["profile"]["followers_count"] == 0
    assert body["profile"]["id"].isdigit()


def test_handle_differing_only_in_case_is_taken(client: TestClient[Litestar], api: Api) -> None:
    api.register("bob")
    r = register(client, handle="BOB", email="other@example.org", password=PASSWORD)
    problem(r, 409, "handle-taken")
    r = register(client, handle="bob2", email="BOB@example.org", password=PASSWORD)
    problem(r, 409, "email-taken")


def test_bad_registrations_are_400_and_write_nothing(client: TestClient[Litestar]) -> None:
    bad: list[dict[str, Any]] = [
        {"handle": "no-dashes", "email": "a@example.org", "password": PASSWORD},
        {"handle": "h" * 16, "email": "a@example.org", "password": PASSWORD},
        {"handle": "ok_handle", "email": "a@example.org", "password": "short"},
        {"handle": "ok_handle", "email": "a@example.org", "password": PASSWORD, "admin": True},
        {"handle": "ok_handle", "email": "a@example.org", "password": PASSWORD, "display_name": "n" * 51},
    ]
    for body in bad:
        problem(register(client, **body), 400, "invalid-request")
    # None of them half-happened: the handle is still free, the login still unknown.
    assert client.get("/api/users/by-handle/ok_handle").status_code == 404
    assert register(client, handle="ok_handle", email="a@example.org", password=PASSWORD).status_code == 201
    assert register(client, handle="h" * 15, email="b@example.org", password=PASSWORD).status_code == 201


# ------------------------------------------------------------------- login


def test_login_by_handle_or_email(client: TestClient[Litestar], api: Api) -> None:
    account = api.register("Carol")
    for login in ("Carol", "carol", "carol@example.org"):
        r = client.post("/api/auth/login", json={"login": login, "password": PASSWORD})
        assert r.status_code == 200, r.text
        tokens = r.json()
        assert tokens["user_id"] == account["profile"]["id"]
        assert tokens["token_type"] == "Bearer"
        assert tokens["expires_in"] == 900
        me = client.get("/api/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.json()["profile"]["id"] == account["profile"]["id"]


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient[Litestar], api: Api) -> None:
    api.register("dave")
    wrong = problem(client.post("/api/auth/login", json={"login": "dave", "password": "wrong-pass"}), 401)
    unknown = problem(client.post("/api/auth/login", json={"login": "nobody", "password": "wrong-pass"}), 401)
    assert wrong["type"] == unknown["type"] == "/problems/invalid-credentials"
    assert wrong["detail"] == unknown["detail"]


# ------------------------------------------------------- refresh and logout


def refresh(client: TestClient[Litestar], token: str) -> Any:
    return client.post("/api/auth/refresh", json={"refresh_token": token})


def test_refresh_rotates_the_pair(client: TestClient[Litestar], api: Api) -> None:
    user = api.user("erin")
    r = refresh(client, user.tokens["refresh_token"])
    assert r.status_code == 200, r.text
    pair = r.json()
    assert pair["refresh_token"] != user.tokens["refresh_token"]
    assert pair["user_id"] == user.id
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200


def test_reuse_of_a_rotated_token_revokes_the_family(client: TestClient[Litestar], api: Api) -> None:
    user = api.user("frank")
    old = user.tokens["refresh_token"]
    newest = refresh(client, old).json()["refresh_token"]
    problem(refresh(client, old), 401, "invalid-refresh-token")
    problem(refresh(client, newest), 401, "invalid-refresh-token")


def test_logout_revokes_and_is_quiet_about_unknown_tokens(client: TestClient[Litestar], api: Api) -> None:
    user = api.user("gina")
    r = client.post("/api/auth/logout", json={"refresh_token": user.tokens["refresh_token"]})
    assert r.status_code == 204
    problem(refresh(client, user.tokens["refresh_token"]), 401, "invalid-refresh-token")
    assert client.post("/api/auth/logout", json={"refresh_token": "never-issued"}).status_code == 204
    problem(client.post("/api/auth/logout", json={}), 400)


# -------------------------------------------------------------------- JWKS


def test_jwks_publishes_the_ed25519_key_tokens_are_signed_with(
    client: TestClient[Litestar], api: Api
) -> None:
    user = api.user("hank")
    r = client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    [key] = r.json()["keys"]
    assert key["kty"] == "OKP"
    assert key["crv"] == "Ed25519"
    assert key["alg"] == "EdDSA"
    assert key.get("use", "sig") == "sig"  # "sig" is the default, omitted on the wire
    assert "d" not in key  # never the private part
    header = jwt.get_unverified_header(user.tokens["access_token"])
    assert header["kid"] == key["kid"]
    assert header["typ"] == "at+jwt"
    jwt.decode(user.tokens["access_token"], jwt.PyJWK(key), algorithms=["EdDSA"], audience="twitterclone-api")


# ----------------------------------------------- tokens the gateway refuses


def me(client: TestClient[Litestar], token: str | None, scheme: str = "Bearer") -> Any:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return client.get("/api/users/me", headers=headers)


def token_from_sibling(settings: Settings, manifest: Manifest, handle: str, **overrides: Any) -> str:
    """Log in through a second gateway on the same data (same signing key) but other settings."""
    sibling = create_app(msgspec.structs.replace(settings, **overrides), manifest)
    with TestClient(sibling) as c:
        r = c.post("/api/auth/login", json={"login": handle, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


def test_users_me_needs_a_valid_token(client: TestClient[Litestar], api: Api) -> None:
    user = api.user("ivy")
    assert me(client, user.tokens["access_token"]).status_code == 200
    problem(me(client, None), 401, "invalid-token")
    problem(me(client, "not.a.jwt"), 401, "invalid-token")
    problem(me(client, user.tokens["access_token"], scheme="Basic"), 401, "invalid-token")
    assert me(client, None).headers["www-authenticate"].startswith("Bearer")


def test_expired_and_wrong_audience_tokens_are_refused(
    client: TestClient[Litestar], api: Api, settings: Settings, manifest: Manifest
) -> None:
    api.user("jack")
    expired = token_from_sibling(settings, manifest, "jack", access_token_ttl_s=-60)
    body = problem(me(client, expired), 401, "invalid-token")
    assert "expired" in body["detail"]
    elsewhere = token_from_sibling(settings, manifest, "jack", jwt_audience="another-api")
    problem(me(client, elsewhere), 401, "invalid-token")
    # The same sibling with the right settings issues a token this gateway accepts.
    assert me(client, token_from_sibling(settings, manifest, "jack")).status_code == 200


def test_forged_and_unsigned_tokens_are_refused(client: TestClient[Litestar], api: Api) -> None:
    user = api.user("kim")
    kid = jwt.get_unverified_header(user.tokens["access_token"])["kid"]
    claims = jwt.decode(user.tokens["access_token"], options={"verify_signature": False})
    claims["exp"] = int(time.time()) + 600
    forged = jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"typ": "at+jwt", "kid": kid}
    )
    problem(me(client, forged), 401, "invalid-token")
    unknown_kid = jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"typ": "at+jwt", "kid": "made-up"}
    )
    problem(me(client, unknown_kid), 401, "invalid-token")
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"typ": "at+jwt", "kid": kid})
    problem(me(client, unsigned), 401, "invalid-token")
    # A refresh token is not an access token.
    problem(me(client, user.tokens["refresh_token"]), 401, "invalid-token")
