"""OWASP API1:2023 Broken Object Level Authorization: who may see a post (issue 12, item 3).

A followers-only (``private``) tweet reaches only the author's followers and the users it
mentions; a ``direct`` one only the users it mentions; an ``unlisted`` one anyone who looks, but
no public listing (public and hashtag timelines, search). Whoever may not see a tweet gets the same
404 as for a tweet that does not exist, everywhere (by id, replies, profile, search, timelines),
and nobody may widen the audience by retweeting or quoting. Black-box, through the HTTP API.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api, User

Client = TestClient[Litestar]


def post(client: Client, user: User, text: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/api/tweets", json={"text": text, **extra}, headers=user.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def ids(client: Client, path: str, user: User | None = None, **params: Any) -> list[str]:
    r = client.get(path, params=params, headers=user.headers if user else None)
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["items"]]


def home(client: Client, user: User) -> list[str]:
    return ids(client, "/api/timeline/home", user)


def follow(client: Client, user: User, target: User) -> None:
    assert client.put(f"/api/users/me/following/{target.id}", headers=user.headers).status_code == 200


def status(client: Client, tweet_id: str, user: User | None) -> int:
    return client.get(f"/api/tweets/{tweet_id}", headers=user.headers if user else None).status_code


def mentions_of(client: Client, user: User) -> list[str]:
    r = client.get("/api/notifications", headers=user.headers)
    assert r.status_code == 200, r.text
    return [n["tweet_id"] for n in r.json()["items"] if n["kind"] == "mention"]


def public_listings(client: Client, user: User | None, word: str) -> list[str]:
    return [
        *ids(client, "/api/timeline/public", user),
        *ids(client, f"/api/timeline/tags/{word}", user),
        *ids(client, "/api/tweets/search", user, q=word),
    ]


def test_followers_only_tweets_reach_followers_and_mentioned_users_only(client: Client, api: Api) -> None:
    alice, fan, stranger, named = api.user("alice"), api.user("fan"), api.user("stranger"), api.user("named")
    follow(client, fan, alice)
    secret = post(client, alice, "for my followers and @named #inner", visibility="private")
    assert secret["visibility"] == "private"
    marker = post(client, alice, "public, after it")
    api.eventually(lambda: marker["id"] in home(client, fan), timeout_s=3)

    assert secret["id"] in home(client, fan)
    for viewer in (alice, fan, named):
        assert status(client, secret["id"], viewer) == 200
    for outsider in (stranger, None):
        assert status(client, secret["id"], outsider) == 404
        assert client.get(f"/api/tweets/{secret['id']}/replies").status_code == 404
    assert secret["id"] in ids(client, f"/api/users/{alice.id}/tweets", fan)
    assert secret["id"] not in ids(client, f"/api/users/{alice.id}/tweets", stranger)
    assert secret["id"] not in ids(client, f"/api/users/{alice.id}/tweets")
    for viewer in (alice, fan, stranger, None):
        assert secret["id"] not in public_listings(client, viewer, "inner")
    api.eventually(lambda: secret["id"] in mentions_of(client, named), timeout_s=3)

    # Nobody widens the audience: not a follower, not even the author.
    for sharer in (fan, alice):
        r = client.put(f"/api/tweets/{secret['id']}/retweet", headers=sharer.headers)
        assert r.status_code == 403, r.text
        assert r.json()["type"].endswith("tweet-not-shareable")
        r = client.post(
            "/api/tweets", json={"text": "qt", "quote_of_id": secret["id"]}, headers=sharer.headers
        )
        assert r.status_code == 403, r.text
    # A stranger cannot even learn it exists by acting on it.
    for action in ("like", "retweet"):
        assert client.put(f"/api/tweets/{secret['id']}/{action}", headers=stranger.headers).status_code == 404
    r = client.post("/api/tweets", json={"text": "re", "reply_to_id": secret["id"]}, headers=stranger.headers)
    assert r.status_code == 404
    # A follower may like it and reply to it.
    assert client.put(f"/api/tweets/{secret['id']}/like", headers=fan.headers).status_code == 200
    post(client, fan, "re", reply_to_id=secret["id"])


def test_direct_tweets_reach_only_the_mentioned_users(client: Client, api: Api) -> None:
    alice, bob, fan = api.user("alice"), api.user("bob"), api.user("fan")
    follow(client, bob, alice)
    follow(client, fan, alice)
    dm = post(client, alice, "just between us, @bob #hush", visibility="direct")
    marker = post(client, alice, "public, after it")
    api.eventually(lambda: marker["id"] in home(client, fan), timeout_s=3)
    api.eventually(lambda: marker["id"] in home(client, bob), timeout_s=3)

    assert dm["id"] in home(client, bob)
    assert dm["id"] not in home(client, fan)
    assert status(client, dm["id"], bob) == 200
    assert status(client, dm["id"], alice) == 200
    assert status(client, dm["id"], fan) == 404
    assert status(client, dm["id"], None) == 404
    for viewer in (bob, fan, None):
        assert dm["id"] not in ids(client, f"/api/users/{alice.id}/tweets", viewer)
        assert dm["id"] not in public_listings(client, viewer, "hush")
    assert dm["id"] in ids(client, f"/api/users/{alice.id}/tweets", alice)
    api.eventually(lambda: dm["id"] in mentions_of(client, bob), timeout_s=3)
    assert client.put(f"/api/tweets/{dm['id']}/retweet", headers=bob.headers).status_code == 403
    # Bob's reply is direct too; Alice, whom it answers, sees it.
    reply = post(client, bob, "got it", reply_to_id=dm["id"], visibility="direct")
    assert status(client, reply["id"], alice) == 200
    assert status(client, reply["id"], fan) == 404
    assert ids(client, f"/api/tweets/{dm['id']}/replies", alice) == [reply["id"]]


def test_unlisted_tweets_are_readable_but_never_listed(client: Client, api: Api) -> None:
    alice, fan, stranger = api.user("alice"), api.user("fan"), api.user("stranger")
    follow(client, fan, alice)
    quiet = post(client, alice, "quietly said #hushed", visibility="unlisted")
    loud = post(client, alice, "loudly said #hushed")
    api.eventually(lambda: loud["id"] in home(client, fan), timeout_s=3)
    assert quiet["id"] in home(client, fan)
    for viewer in (stranger, None):
        assert status(client, quiet["id"], viewer) == 200
        assert quiet["id"] in ids(client, f"/api/users/{alice.id}/tweets", viewer)
        listed = public_listings(client, viewer, "hushed")
        assert loud["id"] in listed
        assert quiet["id"] not in listed
    # Unlisted may be shared: anyone may see it anyway.
    assert client.put(f"/api/tweets/{quiet['id']}/retweet", headers=stranger.headers).status_code == 200


def test_public_timelines_list_public_tweets_newest_first_without_retweets(client: Client, api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    first = post(client, alice, "first #news")
    second = post(client, bob, "second #News")
    client.put(f"/api/tweets/{first['id']}/retweet", headers=bob.headers)
    assert ids(client, "/api/timeline/public") == [second["id"], first["id"]]
    assert ids(client, "/api/timeline/tags/NEWS") == [second["id"], first["id"]]
    page = client.get("/api/timeline/public", params={"limit": 1}).json()
    assert [t["id"] for t in page["items"]] == [second["id"]]
    assert ids(client, "/api/timeline/public", cursor=page["next_cursor"]) == [first["id"]]
    bad = client.get("/api/timeline/tags/not-a-tag")
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    wrong = client.post("/api/tweets", json={"text": "x", "visibility": "friends"}, headers=alice.headers)
    assert wrong.status_code == 400
