"""OWASP API1:2023 Broken Object Level Authorization: drafts and id spellings.

An upload not yet shown in a tweet is a draft: only its owner may see its metadata or bytes.
An id has one spelling: ``0123`` is not ``123``, so a user cannot reach themselves (follow,
block, mute) or anyone else through a second name for the same id.
"""

from __future__ import annotations

import io

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from tests.conftest import Api, User


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 10)).save(out, "PNG")
    return out.getvalue()


def upload(client: TestClient[Litestar], user: User) -> str:
    r = client.post("/api/media", files={"file": ("a.png", png(), "image/png")}, headers=user.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_an_unattached_upload_is_seen_by_its_owner_only(client: TestClient[Litestar], api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    media_id = upload(client, alice)
    urls = [
        f"/api/media/{media_id}",
        *(f"/api/media/{media_id}/{v}" for v in ("original", "display", "thumb")),
    ]

    for url in urls:
        for headers in (bob.headers, {}):
            r = client.get(url, headers=headers)
            assert r.status_code == 404, (url, r.text)
            assert r.json()["type"] == "/problems/media-not-found"
        mine = client.get(url, headers=alice.headers)
        assert mine.status_code == 200, (url, mine.text)
        if not url.endswith(media_id):  # the bytes of a draft: no shared cache may keep them
            assert "private" in mine.headers["cache-control"]
            assert "public" not in mine.headers["cache-control"]

    # Once shown in a tweet, the image is as public as the tweet.
    posted = client.post("/api/tweets", json={"text": "look", "media_ids": [media_id]}, headers=alice.headers)
    assert posted.status_code == 201, posted.text
    api.eventually(lambda: client.get(f"/api/media/{media_id}", headers=bob.headers).status_code == 200, 3.0)
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert client.get(urls[1]).headers["cache-control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/users/me/following/{id}"),
        ("PUT", "/api/users/me/blocking/{id}"),
        ("PUT", "/api/users/me/muting/{id}"),
    ],
)
def test_one_cannot_reach_oneself_through_a_leading_zero(
    client: TestClient[Litestar], api: Api, method: str, path: str
) -> None:
    alice = api.user("alice")
    for spelling in (f"0{alice.id}", f"00{alice.id}"):
        r = client.request(method, path.format(id=spelling), headers=alice.headers)
        assert r.status_code in (404, 422), r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    relation = client.get(f"/api/users/{alice.id}/relationship", headers=alice.headers)
    assert relation.status_code in (200, 422), relation.text
    if relation.status_code == 200:
        assert not any(relation.json()[k] for k in ("following", "blocking", "muting"))
    me = client.get("/api/users/me", headers=alice.headers).json()["profile"]
    assert me["following_count"] == 0
    assert me["followers_count"] == 0


def test_ids_have_one_spelling_everywhere(client: TestClient[Litestar], api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    tweet = client.post("/api/tweets", json={"text": "hello"}, headers=alice.headers).json()
    media_id = upload(client, alice)
    # The canonical spellings work...
    assert client.get(f"/api/users/{alice.id}").status_code == 200
    assert client.get(f"/api/tweets/{tweet['id']}").status_code == 200
    assert client.get(f"/api/media/{media_id}", headers=alice.headers).status_code == 200
    # ...a second name for the same object does not.
    for url in (
        f"/api/users/0{alice.id}",
        f"/api/users/0{alice.id}/followers",
        f"/api/tweets/0{tweet['id']}",
        f"/api/tweets/0{tweet['id']}/replies",
        f"/api/media/0{media_id}",
        f"/api/media/0{media_id}/thumb",
    ):
        r = client.get(url, headers=alice.headers)
        assert r.status_code in (400, 404, 422), (url, r.status_code)
    r = client.put(f"/api/tweets/0{tweet['id']}/like", headers=bob.headers)
    assert r.status_code in (400, 404, 422), r.text
    reply = client.post(
        "/api/tweets", json={"text": "re", "reply_to_id": f"0{tweet['id']}"}, headers=bob.headers
    )
    assert reply.status_code in (400, 404, 422), reply.text
    assert client.get(f"/api/tweets/{tweet['id']}").json()["counts"]["likes"] == 0
