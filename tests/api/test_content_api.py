"""The content features through the native API: content warnings, bookmarks, pins, likers and
retweeters, context, alt text and focus, avatars and headers (monolith, real modules)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from tests.conftest import Api, User


def tweet(client: TestClient[Litestar], user: User, text: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/api/tweets", json={"text": text, **extra}, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (10, 20, 200)).save(out, "PNG")
    return out.getvalue()


def upload(client: TestClient[Litestar], user: User, **form: str) -> dict[str, Any]:
    r = client.post(
        "/api/media", files={"file": ("a.png", png(), "image/png")}, data=form, headers=user.headers
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def problem_type(r: Any) -> str:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return str(r.json()["type"])


@pytest.fixture
def alice(api: Api) -> User:
    return api.user("alice")


@pytest.fixture
def bob(api: Api) -> User:
    return api.user("bob")


def test_content_warning_sensitive_and_language(client: TestClient[Litestar], alice: User) -> None:
    posted = tweet(client, alice, "the twist", spoiler_text="spoilers!", language="fr")
    assert (posted["spoiler_text"], posted["sensitive"], posted["language"]) == ("spoilers!", True, "fr")
    got = client.get(f"/api/tweets/{posted['id']}").json()
    assert (got["spoiler_text"], got["sensitive"], got["language"], got["pinned"]) == (
        "spoilers!",
        True,
        "fr",
        False,
    )
    r = client.post("/api/tweets", json={"text": "x", "language": "xx"}, headers=alice.headers)
    assert (r.status_code, problem_type(r)) == (422, "/problems/invalid-language")
    r = client.post("/api/tweets", json={"text": "x", "language": "english"}, headers=alice.headers)
    assert r.status_code in (400, 422)
    r = client.post("/api/tweets", json={"text": "x", "spoiler_text": "w" * 281}, headers=alice.headers)
    assert (r.status_code, problem_type(r)) == (422, "/problems/spoiler-too-long")


def test_bookmarks_through_http(client: TestClient[Litestar], alice: User, bob: User) -> None:
    first = tweet(client, alice, "one")
    second = tweet(client, alice, "two")
    for t in (first, second, first):
        r = client.put(f"/api/tweets/{t['id']}/bookmark", headers=bob.headers)
        assert r.status_code == 200, r.text
        assert r.json()["viewer"]["bookmarked"] is True
    page = client.get("/api/users/me/bookmarks", params={"limit": 1}, headers=bob.headers).json()
    assert [t["id"] for t in page["items"]] == [second["id"]]
    rest = client.get(
        "/api/users/me/bookmarks", params={"cursor": page["next_cursor"]}, headers=bob.headers
    ).json()
    assert ([t["id"] for t in rest["items"]], rest["next_cursor"]) == ([first["id"]], None)
    assert client.get(f"/api/tweets/{first['id']}", headers=bob.headers).json()["viewer"]["bookmarked"]
    assert client.get("/api/users/me/bookmarks", headers=alice.headers).json()["items"] == []
    r = client.delete(f"/api/tweets/{first['id']}/bookmark", headers=bob.headers)
    assert (r.status_code, r.json()["viewer"]["bookmarked"]) == (200, False)
    assert client.get("/api/users/me/bookmarks").status_code == 401
    r = client.put("/api/tweets/123/bookmark", headers=bob.headers)
    assert (r.status_code, problem_type(r)) == (404, "/problems/tweet-not-found")


def test_pins_and_the_pinned_filter(client: TestClient[Litestar], alice: User, bob: User) -> None:
    tweets = [tweet(client, alice, f"pin {i}") for i in range(6)]
    for t in tweets[:5]:
        r = client.put(f"/api/tweets/{t['id']}/pin", headers=alice.headers)
        assert (r.status_code, r.json()["pinned"]) == (200, True)
    r = client.put(f"/api/tweets/{tweets[5]['id']}/pin", headers=alice.headers)
    assert (r.status_code, problem_type(r)) == (422, "/problems/too-many-pins")
    assert "5" in r.json()["detail"]
    r = client.put(f"/api/tweets/{tweets[0]['id']}/pin", headers=bob.headers)
    assert (r.status_code, problem_type(r)) == (422, "/problems/not-pinnable")
    pinned = client.get(f"/api/users/{alice.id}/tweets", params={"pinned": "true"}).json()
    assert [t["id"] for t in pinned["items"]] == [t["id"] for t in reversed(tweets[:5])]
    r = client.delete(f"/api/tweets/{tweets[0]['id']}/pin", headers=alice.headers)
    assert (r.status_code, r.json()["pinned"]) == (200, False)
    pinned = client.get(f"/api/users/{alice.id}/tweets", params={"pinned": "true"}).json()
    assert len(pinned["items"]) == 4


def test_user_tweets_filters(client: TestClient[Litestar], alice: User, bob: User) -> None:
    other = tweet(client, bob, "bob")
    plain = tweet(client, alice, "plain")
    reply = tweet(client, alice, "re", reply_to_id=other["id"])
    picture = upload(client, alice)
    with_media = tweet(client, alice, "pic", media_ids=[picture["id"]])

    def ids(**flags: str) -> list[str]:
        r = client.get(f"/api/users/{alice.id}/tweets", params=flags)
        assert r.status_code == 200, r.text
        return [t["id"] for t in r.json()["items"]]

    assert ids() == [with_media["id"], reply["id"], plain["id"]]
    assert ids(exclude_replies="true") == [with_media["id"], plain["id"]]
    assert ids(only_media="true") == [with_media["id"]]
    assert client.get(f"/api/users/{alice.id}/tweets", params={"only_media": "maybe"}).status_code == 400


def test_likers_retweeters_likes_and_context(
    client: TestClient[Litestar], api: Api, alice: User, bob: User
) -> None:
    carol = api.user("carol")
    root = tweet(client, alice, "root")
    reply = tweet(client, bob, "reply", reply_to_id=root["id"])
    deeper = tweet(client, carol, "deeper", reply_to_id=reply["id"])
    for user in (bob, carol):
        assert client.put(f"/api/tweets/{root['id']}/like", headers=user.headers).status_code == 200
    assert client.put(f"/api/tweets/{root['id']}/retweet", headers=carol.headers).status_code == 200

    likers = client.get(f"/api/tweets/{root['id']}/liked-by").json()
    assert [p["handle"] for p in likers["items"]] == ["carol", "bob"]
    retweeters = client.get(f"/api/tweets/{root['id']}/retweeted-by").json()
    assert [p["handle"] for p in retweeters["items"]] == ["carol"]
    liked = client.get("/api/users/me/likes", headers=bob.headers).json()
    assert [t["id"] for t in liked["items"]] == [root["id"]]
    r = client.get(f"/api/tweets/{root['id']}/liked-by", params={"cursor": "garbage!"})
    assert (r.status_code, problem_type(r)) == (400, "/problems/invalid-cursor")

    context = client.get(f"/api/tweets/{reply['id']}/context").json()
    assert [t["id"] for t in context["ancestors"]] == [root["id"]]
    assert [t["id"] for t in context["descendants"]] == [deeper["id"]]
    assert client.get("/api/tweets/123/context").status_code == 404


def test_alt_text_focus_and_the_owners_update(client: TestClient[Litestar], alice: User, bob: User) -> None:
    media = upload(client, alice, description="a blue box", focus_x="0.5", focus_y="-0.25")
    assert (media["description"], media["focus"]) == ("a blue box", {"x": 0.5, "y": -0.25})
    r = client.patch(f"/api/media/{media['id']}", json={"description": "a box"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["description"], r.json()["focus"]) == ("a box", {"x": 0.5, "y": -0.25})
    got = client.get(f"/api/media/{media['id']}", headers=alice.headers).json()
    assert got["description"] == "a box"
    r = client.patch(f"/api/media/{media['id']}", json={"description": "mine"}, headers=bob.headers)
    assert (r.status_code, problem_type(r)) == (403, "/problems/not-media-owner")
    r = client.patch(f"/api/media/{media['id']}", json={"focus": {"x": 2, "y": 0}}, headers=alice.headers)
    assert r.status_code == 400
    r = client.patch(f"/api/media/{media['id']}", json={"description": "d" * 1501}, headers=alice.headers)
    assert r.status_code == 400
    r = client.post(
        "/api/media",
        files={"file": ("a.png", png(), "image/png")},
        data={"focus_x": "0.5"},
        headers=alice.headers,
    )
    assert (r.status_code, problem_type(r)) == (422, "/problems/invalid-input")


def test_avatar_and_header_on_the_profile(client: TestClient[Litestar], alice: User, bob: User) -> None:
    face = upload(client, alice)
    banner = upload(client, alice)
    r = client.patch(
        "/api/users/me", json={"avatar_id": face["id"], "header_id": banner["id"]}, headers=alice.headers
    )
    assert r.status_code == 200, r.text
    assert (r.json()["profile"]["avatar_id"], r.json()["profile"]["header_id"]) == (face["id"], banner["id"])
    profile = client.get(f"/api/users/{alice.id}").json()
    assert (profile["avatar_id"], profile["header_id"]) == (face["id"], banner["id"])
    # The avatar is public now (it was the owner's draft), cacheable like a tweet's media.
    shown = client.get(f"/api/media/{face['id']}/thumb")
    assert shown.status_code == 200
    assert "immutable" in shown.headers["cache-control"]

    bobs = upload(client, bob)
    r = client.patch("/api/users/me", json={"avatar_id": bobs["id"]}, headers=alice.headers)
    assert (r.status_code, problem_type(r)) == (403, "/problems/not-media-owner")
    r = client.patch("/api/users/me", json={"avatar_id": "777"}, headers=alice.headers)
    assert (r.status_code, problem_type(r)) == (404, "/problems/media-not-found")
    r = client.patch("/api/users/me", json={"avatar_id": "not-an-id"}, headers=alice.headers)
    assert r.status_code == 400
    r = client.patch("/api/users/me", json={"header_id": ""}, headers=alice.headers)
    assert r.json()["profile"]["header_id"] is None
    assert client.get(f"/api/media/{banner['id']}/thumb").status_code == 404  # a draft again
