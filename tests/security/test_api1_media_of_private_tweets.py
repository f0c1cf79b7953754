"""OWASP API1:2023 Broken Object Level Authorization: the images of followers-only and direct tweets.

An image shown in a tweet is seen by whoever may see the tweet, and by no one else: the tweets
module's audience rule (``modules/tweets/audience.py``) decides, for the metadata and for every
rendition's bytes, on the native routes and through the Mastodon API alike. Such bytes are
never stored by a shared cache (the audience can change: an unfollow ends a follower's access).
A draft stays its owner's.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api, User
from tests.security.test_api1_drafts_and_canonical_ids import upload

VARIANTS = ("original", "display", "thumb")


def urls(media_id: str) -> list[str]:
    return [f"/api/media/{media_id}", *(f"/api/media/{media_id}/{v}" for v in VARIANTS)]


def post(client: TestClient[Litestar], user: User, text: str, visibility: str, media_id: str) -> str:
    body = {"text": text, "visibility": visibility, "media_ids": [media_id]}
    r = client.post("/api/tweets", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def status(client: TestClient[Litestar], url: str, user: User | None) -> int:
    return client.get(url, headers=user.headers if user else {}).status_code


def test_images_of_restricted_tweets_follow_the_tweets_audience(
    client: TestClient[Litestar], api: Api
) -> None:
    alice, follower, carol, stranger = (api.user(h) for h in ("alice", "bob", "carol", "dave"))
    r = client.put(f"/api/users/me/following/{alice.id}", headers=follower.headers)
    assert r.status_code == 200, r.text
    for_followers = upload(client, alice)
    for_carol = upload(client, alice)
    post(client, alice, "for my followers", "private", for_followers)
    post(client, alice, "@carol just you", "direct", for_carol)
    # Attaching is asynchronous: once the audience sees the image, it is attached.
    api.eventually(lambda: status(client, f"/api/media/{for_followers}", follower) == 200, 3.0)
    api.eventually(lambda: status(client, f"/api/media/{for_carol}", carol) == 200, 3.0)

    allowed = {for_followers: {alice, follower}, for_carol: {alice, carol}}
    for media_id, audience in allowed.items():
        for url in urls(media_id):
            for user in (alice, follower, carol, stranger, None):
                expected = 200 if user in audience else 404
                r = client.get(url, headers=user.headers if user else {})
                assert r.status_code == expected, (url, user and user.handle, r.status_code)
                if expected == 404:
                    assert r.json()["type"] == "/problems/media-not-found"
                elif url != f"/api/media/{media_id}":
                    assert r.headers["content-type"].startswith("image/")
                    assert "public" not in r.headers["cache-control"]
                    assert "private" in r.headers["cache-control"]

    # The audience is asked each time: an unfollow ends the former follower's access.
    assert client.delete(f"/api/users/me/following/{alice.id}", headers=follower.headers).status_code == 200
    for url in urls(for_followers):
        assert status(client, url, follower) == 404, url


def test_the_mastodon_routes_keep_the_same_audience(client: TestClient[Litestar], api: Api) -> None:
    alice, follower, stranger = api.user("alice"), api.user("bob"), api.user("dave")
    assert client.post(f"/api/v1/accounts/{alice.id}/follow", headers=follower.headers).status_code == 200
    media_id = upload(client, alice)
    r = client.post(
        "/api/v1/statuses",
        json={"status": "followers only", "visibility": "private", "media_ids": [media_id]},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    api.eventually(lambda: status(client, f"/api/media/{media_id}", follower) == 200, 3.0)
    seen = client.get(f"/api/v1/statuses/{r.json()['id']}", headers=follower.headers)
    assert seen.status_code == 200, seen.text
    attachment = seen.json()["media_attachments"][0]
    for url in (attachment["url"], attachment["preview_url"]):
        # Signed for the follower, whom apps fetch it for without a token
        # (test_api1_signed_media_urls.py); without the signature, the audience rule alone.
        assert client.get(url).status_code == 200
        bare = url.split("?")[0]
        assert client.get(bare, headers=follower.headers).status_code == 200
        assert client.get(bare, headers=stranger.headers).status_code == 404
        assert client.get(bare).status_code == 404
    stranger_view = client.get(f"/api/v1/statuses/{r.json()['id']}", headers=stranger.headers)
    assert stranger_view.status_code == 404  # no status, so no URL signed for the stranger
    # One's attachment by id (Mastodon: one's own media only).
    assert client.get(f"/api/v1/media/{media_id}", headers=alice.headers).status_code == 200
    for other in (follower, stranger):
        r = client.get(f"/api/v1/media/{media_id}", headers=other.headers)
        assert r.status_code == 404, r.text
        assert "error" in r.json()
