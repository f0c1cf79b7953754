"""Moderation: admins suspend accounts (tokens stop at once) and remove any tweet; others are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import TestClient

from tests.api.oauth_support import PASSWORD, make_admin
from tests.conftest import Api, User
from twitterclone.cli import main
from twitterclone.settings import Settings


@pytest.fixture
def admin(client: TestClient[Litestar], api: Api) -> User:
    user = api.user("moderator")
    make_admin(client, "moderator")
    return user


def test_cli_grants_the_admin_role(client: TestClient[Litestar], api: Api, settings: Settings) -> None:
    boss = api.user("boss")
    target = api.user("target")
    assert client.post(f"/api/admin/users/{target.id}/suspend", headers=boss.headers).status_code == 403
    env = {"TWITTERCLONE_DATA_DIR": settings.data_dir, "TWITTERCLONE_MANIFEST": settings.manifest}
    result = CliRunner().invoke(main, ["admin", "grant", "@boss"], env=env)
    assert result.exit_code == 0, result.output
    assert "administrator" in result.output
    assert client.post(f"/api/admin/users/{target.id}/suspend", headers=boss.headers).status_code == 200
    missing = CliRunner().invoke(main, ["admin", "grant", "nobody"], env=env)
    assert missing.exit_code != 0
    assert "nobody" in missing.output


def test_suspension_stops_tokens_at_once_and_refuses_login(
    client: TestClient[Litestar], api: Api, admin: User
) -> None:
    eve = api.user("eve")
    assert client.get("/api/users/me", headers=eve.headers).status_code == 200  # warms the status cache

    r = client.post(f"/api/admin/users/{eve.id}/suspend", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["suspended"] is True

    r = client.get("/api/users/me", headers=eve.headers)
    assert r.status_code == 401, r.text
    assert client.post("/api/tweets", json={"text": "still here?"}, headers=eve.headers).status_code == 401
    r = client.post("/api/auth/login", json={"login": "eve", "password": PASSWORD})
    assert r.status_code == 403
    assert r.json()["type"] == "/problems/account-suspended"
    # A wrong password does not reveal the suspension.
    r = client.post("/api/auth/login", json={"login": "eve", "password": "wrong password"})
    assert r.status_code == 401
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": eve.tokens["refresh_token"]}).status_code
        == 401
    )

    r = client.post(f"/api/admin/users/{eve.id}/unsuspend", headers=admin.headers)
    assert r.status_code == 200
    assert r.json()["suspended"] is False
    assert client.post("/api/auth/login", json={"login": "eve", "password": PASSWORD}).status_code == 200


def test_admin_removes_anothers_tweet(client: TestClient[Litestar], api: Api, admin: User) -> None:
    author = api.user("author")
    tweet = client.post("/api/tweets", json={"text": "something rude"}, headers=author.headers).json()
    r = client.delete(f"/api/admin/tweets/{tweet['id']}", headers=admin.headers)
    assert r.status_code == 204, r.text
    assert client.get(f"/api/tweets/{tweet['id']}").status_code == 404
    assert client.delete(f"/api/admin/tweets/{tweet['id']}", headers=admin.headers).status_code == 404
    # The author's timeline drops it too (TweetDeleted went out like a normal delete).
    api.eventually(lambda: client.get(f"/api/users/{author.id}/tweets").json()["items"] == [], 2.0)


ADMIN_ROUTES = [
    ("get", "/api/admin/users/{id}"),
    ("post", "/api/admin/users/{id}/suspend"),
    ("post", "/api/admin/users/{id}/unsuspend"),
    ("delete", "/api/admin/tweets/{tweet}"),
    ("get", "/api/admin/keys"),
    ("post", "/api/admin/keys/rotate"),
    ("post", "/api/admin/keys/{kid}/retire"),
]


def test_every_admin_route_refuses_ordinary_users_and_anonymous(
    client: TestClient[Litestar], api: Api, tmp_path: Path
) -> None:
    mallory, victim = api.user("mallory"), api.user("victim")
    tweet = client.post("/api/tweets", json={"text": "keep me"}, headers=victim.headers).json()
    kid = client.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
    for method, template in ADMIN_ROUTES:
        path = template.format(id=victim.id, tweet=tweet["id"], kid=kid)
        r = client.request(method.upper(), path, headers=mallory.headers)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["type"] == "/problems/admin-only"
        assert client.request(method.upper(), path).status_code == 401, path
    # Nothing happened.
    assert client.get(f"/api/tweets/{tweet['id']}").status_code == 200
    assert client.get("/api/users/me", headers=victim.headers).status_code == 200
    assert [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]] == [kid]


def test_a_demoted_or_suspended_admin_is_refused(client: TestClient[Litestar], api: Api, admin: User) -> None:
    other = api.user("otheradmin")
    make_admin(client, "otheradmin")
    assert client.post(f"/api/admin/users/{other.id}/suspend", headers=admin.headers).status_code == 200
    # The suspended admin's token is refused outright.
    assert client.get("/api/admin/keys", headers=other.headers).status_code == 401
    # An admin cannot suspend themself (and lock everyone out).
    assert client.post(f"/api/admin/users/{admin.id}/suspend", headers=admin.headers).status_code == 422
