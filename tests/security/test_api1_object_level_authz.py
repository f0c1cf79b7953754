"""OWASP API1:2023 Broken Object Level Authorization.

Another user's tweets, media, notifications, stats and OAuth clients cannot be changed, or read
where they are private, by naming their ids — one at a time or by probing many.
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api, User
from tests.unit.media.media_samples import png

REFUSED = {403, 404}


def post(client: TestClient[Litestar], user: User, text: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/api/tweets", json={"text": text, **extra}, headers=user.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def unread(client: TestClient[Litestar], user: User) -> int:
    r = client.get("/api/notifications/unread-count", headers=user.headers)
    assert r.status_code == 200, r.text
    return int(r.json()["unread"])


def test_another_users_tweet_cannot_be_deleted(client: TestClient[Litestar], api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    tweet = post(client, alice, "mine")
    r = client.delete(f"/api/tweets/{tweet['id']}", headers=bob.headers)
    assert r.status_code in REFUSED
    assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"/api/tweets/{tweet['id']}").status_code == 200


def test_probing_many_ids_changes_and_reveals_nothing(client: TestClient[Litestar], api: Api) -> None:
    alice, mallory = api.user("alice"), api.user("mallory")
    tweets = [post(client, alice, f"tweet {i}") for i in range(3)]
    base = int(tweets[0]["id"])
    probes = [str(base + d) for d in range(-20, 40)] + [str(secrets.randbits(62)) for _ in range(20)]
    for tweet_id in probes:
        deleted = client.delete(f"/api/tweets/{tweet_id}", headers=mallory.headers)
        assert deleted.status_code in REFUSED, (tweet_id, deleted.text)
        stats = client.get(f"/api/tweets/{tweet_id}/stats", headers=mallory.headers)
        assert stats.status_code in REFUSED, (tweet_id, stats.text)
        assert "impressions" not in stats.text
    for tweet in tweets:
        assert client.get(f"/api/tweets/{tweet['id']}").status_code == 200


def test_tweet_stats_are_for_the_author_only(client: TestClient[Litestar], api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    tweet = post(client, alice, "count me")
    api.eventually(
        lambda: client.get(f"/api/tweets/{tweet['id']}/stats", headers=alice.headers).status_code == 200,
        timeout_s=3,
    )
    r = client.get(f"/api/tweets/{tweet['id']}/stats", headers=bob.headers)
    assert r.status_code in REFUSED
    assert "likes" not in r.json()
    assert client.get(f"/api/tweets/{tweet['id']}/stats").status_code == 401


def test_notifications_are_read_and_marked_by_their_recipient_only(
    client: TestClient[Litestar], api: Api
) -> None:
    alice, bob, mallory = api.user("alice"), api.user("bob"), api.user("mallory")
    tweet = post(client, alice, "like me")
    assert client.put(f"/api/tweets/{tweet['id']}/like", headers=bob.headers).status_code == 200
    api.eventually(lambda: unread(client, alice) == 1, timeout_s=3)
    notification = client.get("/api/notifications", headers=alice.headers).json()["items"][0]

    # Mallory's list never shows Alice's notification, and marking "up to" its id touches only hers.
    assert client.get("/api/notifications", headers=mallory.headers).json()["items"] == []
    r = client.post("/api/notifications/read", json={"up_to_id": notification["id"]}, headers=mallory.headers)
    assert r.status_code in {200, *REFUSED}
    assert unread(client, alice) == 1
    assert client.get("/api/notifications").status_code == 401


def test_another_users_media_cannot_be_attached(client: TestClient[Litestar], api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    up = client.post("/api/media", files={"file": ("a.png", png(), "image/png")}, headers=alice.headers)
    assert up.status_code == 201, up.text
    media_id = up.json()["id"]
    r = client.post("/api/tweets", json={"text": "stolen", "media_ids": [media_id]}, headers=bob.headers)
    assert r.status_code in {403, 404, 409, 422}, r.text
    timeline = client.get(f"/api/users/{bob.id}/tweets").json()["items"]
    assert timeline == []
    # Alice may attach her own (so the refusal above is about ownership).
    assert post(client, alice, "mine", media_ids=[media_id])["media_ids"] == [media_id]


def test_likes_and_retweets_are_undone_only_for_oneself(client: TestClient[Litestar], api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    tweet = post(client, alice, "popular")
    assert client.put(f"/api/tweets/{tweet['id']}/like", headers=bob.headers).status_code == 200
    assert client.put(f"/api/tweets/{tweet['id']}/retweet", headers=bob.headers).status_code == 200
    # Alice undoing "her" like and retweet cannot remove Bob's.
    client.delete(f"/api/tweets/{tweet['id']}/like", headers=alice.headers)
    client.delete(f"/api/tweets/{tweet['id']}/retweet", headers=alice.headers)
    after = client.get(f"/api/tweets/{tweet['id']}").json()
    assert after["counts"]["likes"] == 1
    assert after["counts"]["retweets"] == 1


def test_profiles_change_only_through_me(client: TestClient[Litestar], api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    for method in ("PATCH", "PUT", "DELETE"):
        r = client.request(method, f"/api/users/{alice.id}", json={"bio": "pwned"}, headers=bob.headers)
        assert r.status_code in {404, 405}, (method, r.status_code)
    assert client.get(f"/api/users/{alice.id}").json()["bio"] == ""
    # Follow routes act for the caller only: there is no way to name the follower.
    r = client.put(f"/api/users/{alice.id}/following/{bob.id}", headers=bob.headers)
    assert r.status_code in {404, 405}
    assert client.get(f"/api/users/{alice.id}").json()["following_count"] == 0


def test_another_users_oauth_client_cannot_be_seen_or_deleted(client: TestClient[Litestar], api: Api) -> None:
    """A foreign client id answers exactly like an unknown one (404), so ids cannot be probed."""
    alice, mallory = api.user("alice"), api.user("mallory")
    r = client.post(
        "/api/oauth/clients",
        json={"name": "Alice's app", "redirect_uris": ["https://alice.example/cb"]},
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    app = r.json()
    assert client.get("/api/oauth/clients", headers=mallory.headers).json() == []
    foreign = client.delete(f"/api/oauth/clients/{app['client_id']}", headers=mallory.headers)
    unknown = client.delete(f"/api/oauth/clients/{secrets.token_urlsafe(16)}", headers=mallory.headers)
    assert foreign.status_code == unknown.status_code == 404, foreign.text
    assert foreign.json()["type"] == unknown.json()["type"] == "/problems/oauth-client-not-found"
    assert foreign.json()["detail"] == unknown.json()["detail"]
    assert "Alice" not in foreign.text
    # Alice's client is still there and still works for its owner's grants.
    listed = client.get("/api/oauth/clients", headers=alice.headers).json()
    assert [c["client_id"] for c in listed] == [app["client_id"]]
    assert all("client_secret" not in c for c in listed)
    page = client.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": app["client_id"],
            "redirect_uri": "https://alice.example/cb",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    assert page.status_code == 200, page.text
