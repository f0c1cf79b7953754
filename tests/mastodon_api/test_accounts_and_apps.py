"""Apps, sign-up, accounts and the follow graph through the Mastodon routes."""

from __future__ import annotations

import io

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from tests.conftest import User
from tests.mastodon_api.conftest import Masto, next_link

OOB = "urn:ietf:wg:oauth:2.0:oob"


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def alice(masto: Masto) -> User:
    return masto.user("alice")


@pytest.fixture
def bob(masto: Masto) -> User:
    return masto.user("bob")


def app_token(client: TestClient[Litestar], scopes: str = "read write follow") -> tuple[dict[str, str], str]:
    """Register an app as Mastodon.py does (a form), then get its client-credentials token."""
    app = client.post(
        "/api/v1/apps", data={"client_name": "pytest", "redirect_uris": OOB, "scopes": scopes, "website": ""}
    )
    assert app.status_code == 200, app.text
    body = app.json()
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": body["client_id"],
            "client_secret": body["client_secret"],
            "scope": scopes,
        },
    )
    assert token.status_code == 200, token.text
    return body, token.json()["access_token"]


def test_register_an_app_and_sign_up_through_its_token(client: TestClient[Litestar]) -> None:
    app, token = app_token(client)
    assert app["name"] == "pytest"
    assert app["redirect_uris"] == [OOB]
    assert app["scopes"] == ["read", "write", "follow"]
    assert app["client_secret"]
    assert app["client_secret_expires_at"] == 0
    verified = client.get("/api/v1/apps/verify_credentials", headers={"Authorization": f"Bearer {token}"})
    assert verified.status_code == 200, verified.text
    assert verified.json()["name"] == "pytest"
    assert "client_secret" not in verified.json()

    headers = {"Authorization": f"Bearer {token}"}
    signup = {
        "username": "carol",
        "email": "carol@example.org",
        "password": "correct horse battery",
        "agreement": "true",
    }
    r = client.post("/api/v1/accounts", data=signup, headers=headers)
    assert r.status_code == 200, r.text
    user_token = r.json()["access_token"]
    assert r.json()["token_type"] == "Bearer"
    me = client.get("/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {user_token}"})
    assert me.status_code == 200
    assert me.json()["acct"] == "carol"

    again = client.post("/api/v1/accounts", json={**signup, "agreement": True}, headers=headers)
    assert again.status_code == 422
    assert "error" in again.json()
    for bad in ({**signup, "username": "x y"}, {**signup, "username": "dave", "agreement": "false"}):
        assert client.post("/api/v1/accounts", data=bad, headers=headers).status_code == 422
    assert client.post("/api/v1/accounts", data=signup).status_code == 401


def test_bad_app_registrations_answer_422(client: TestClient[Litestar]) -> None:
    for body in (
        {"client_name": "", "redirect_uris": OOB},
        {"client_name": "x"},
        {"client_name": "x", "redirect_uris": OOB, "scopes": "nope"},
    ):
        r = client.post("/api/v1/apps", json=body)
        assert r.status_code == 422, (body, r.text)
        assert "error" in r.json()


def test_credentials_lookup_and_profile_update(
    client: TestClient[Litestar], masto: Masto, alice: User
) -> None:
    me = masto.get("/api/v1/accounts/verify_credentials", alice)
    assert (me["acct"], me["source"]["privacy"], me["statuses_count"]) == ("alice", "public", 0)
    r = client.patch(
        "/api/v1/accounts/update_credentials",
        data={"display_name": "Alice A.", "note": "likes <b>#cats</b>"},
        files={"avatar": ("a.png", png(), "image/png")},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["display_name"] == "Alice A."
    assert updated["source"]["note"] == "likes <b>#cats</b>"
    assert "&lt;b&gt;" in updated["note"]
    assert "/api/media/" in updated["avatar"]
    assert client.get(updated["avatar"]).status_code == 200  # the avatar is public
    too_long = client.patch(
        "/api/v1/accounts/update_credentials", json={"note": "x" * 161}, headers=alice.headers
    )
    assert too_long.status_code == 422
    assert masto.get("/api/v1/accounts/lookup", acct="@alice")["id"] == alice.id
    assert masto.get(f"/api/v1/accounts/{alice.id}")["display_name"] == "Alice A."
    assert client.get("/api/v1/accounts/lookup", params={"acct": "nobody"}).status_code == 404
    assert (
        client.get("/api/v1/accounts/lookup", params={"acct": "alice@elsewhere.example"}).status_code == 404
    )
    assert [a["acct"] for a in masto.get("/api/v1/accounts/search", q="ali")] == ["alice"]


def test_follow_block_mute_and_relationships(
    client: TestClient[Litestar], masto: Masto, alice: User, bob: User
) -> None:
    followed = masto.follow(bob, alice)
    assert followed["id"] == alice.id
    assert followed["following"] is True
    rels = masto.get("/api/v1/accounts/relationships", bob, **{"id[]": [alice.id, "4242"]})
    assert [(r["id"], r["following"]) for r in rels] == [(alice.id, True)]
    followers = client.get(f"/api/v1/accounts/{alice.id}/followers", params={"limit": 1})
    assert [a["acct"] for a in followers.json()] == ["bob"]
    assert next_link(followers) is None
    assert [a["acct"] for a in masto.get(f"/api/v1/accounts/{bob.id}/following")] == ["alice"]

    muted = client.post(
        f"/api/v1/accounts/{alice.id}/mute", json={"notifications": True}, headers=bob.headers
    )
    assert muted.json()["muting"] is True
    assert client.post(f"/api/v1/accounts/{alice.id}/unmute", headers=bob.headers).json()["muting"] is False
    blocked = client.post(f"/api/v1/accounts/{bob.id}/block", headers=alice.headers)
    assert (blocked.json()["blocking"], blocked.json()["followed_by"]) == (True, False)
    refused = client.post(f"/api/v1/accounts/{alice.id}/follow", headers=bob.headers)
    assert refused.status_code == 403
    assert "error" in refused.json()
    assert (
        client.post(f"/api/v1/accounts/{bob.id}/unblock", headers=alice.headers).json()["blocking"] is False
    )
    unfollowed = client.post(f"/api/v1/accounts/{alice.id}/unfollow", headers=bob.headers)
    assert unfollowed.json()["following"] is False
    self_follow = client.post(f"/api/v1/accounts/{bob.id}/follow", headers=bob.headers)
    assert self_follow.status_code == 422
    assert client.post("/api/v1/accounts/4242/follow", headers=bob.headers).status_code == 404


def test_a_read_only_token_cannot_write(client: TestClient[Litestar], alice: User) -> None:
    _, token = app_token(client, scopes="read")
    r = client.post("/api/v1/accounts", json={}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert "error" in r.json()


def test_account_counts_are_real(client: TestClient[Litestar], masto: Masto, alice: User, bob: User) -> None:
    masto.post(alice, "one")
    masto.post(alice, "two", visibility="private")
    masto.post(alice, "@bob a message", visibility="direct")
    masto.follow(bob, alice)
    me = masto.get("/api/v1/accounts/verify_credentials", alice)
    assert (me["statuses_count"], me["followers_count"], me["following_count"]) == (2, 1, 0)
    assert len(me["last_status_at"]) == 10
    assert me["last_status_at"].count("-") == 2
    assert me["created_at"] <= me["last_status_at"] + "T99"
    seen = masto.get(f"/api/v1/accounts/{alice.id}", bob)
    assert (seen["statuses_count"], seen["last_status_at"]) == (2, me["last_status_at"])
    assert masto.get(f"/api/v1/accounts/{bob.id}")["last_status_at"] is None
    followers = masto.get(f"/api/v1/accounts/{alice.id}/followers")
    assert [(a["acct"], a["following_count"], a["statuses_count"]) for a in followers] == [("bob", 1, 0)]
    following = masto.get(f"/api/v1/accounts/{bob.id}/following")
    assert [(a["acct"], a["statuses_count"], a["followers_count"]) for a in following] == [("alice", 2, 1)]
    # as embedded in a status
    status = masto.get(f"/api/v1/accounts/{alice.id}/statuses", bob)[0]
    assert status["account"]["statuses_count"] == 2
    native = client.get(f"/api/users/{alice.id}/activity")
    assert native.status_code == 200, native.text
    assert native.json()["statuses_count"] == 2
    assert client.get("/api/users/4242/activity").status_code == 404


def test_default_avatar_and_header_are_images_we_serve(
    client: TestClient[Litestar], masto: Masto, alice: User
) -> None:
    me = masto.get("/api/v1/accounts/verify_credentials", alice)
    for field, size in (("avatar", (400, 400)), ("header", (1500, 500))):
        for url in (me[field], me[f"{field}_static"]):
            assert url.startswith(str(client.base_url))  # our own origin
            r = client.get(url)
            assert r.status_code == 200, (field, url, r.status_code)
            assert r.headers["content-type"] == "image/png"
            with Image.open(io.BytesIO(r.content)) as image:
                assert (image.format, image.size) == ("PNG", size)
    assert masto.get(f"/api/v1/accounts/{alice.id}")["avatar"] == me["avatar"]
