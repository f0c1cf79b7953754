"""Analytics through HTTP: a tweet's stats for its author only, one's daily stats, trends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import Api, User


def post(api: Api, user: User, text: str, **extra: Any) -> dict[str, Any]:
    r = api.client.post("/api/tweets", json={"text": text, **extra}, headers=user.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def stats(api: Api, user: User, tweet_id: str) -> Any:
    return api.client.get(f"/api/tweets/{tweet_id}/stats", headers=user.headers)


def test_tweet_stats_count_engagement_for_the_author_only(api: Api) -> None:
    alice, bob, carol = api.user("alice"), api.user("bob"), api.user("carol")
    tweet = post(api, alice, "counting things")
    for fan in (bob, carol):
        assert api.client.put(f"/api/tweets/{tweet['id']}/like", headers=fan.headers).status_code == 200
    assert api.client.delete(f"/api/tweets/{tweet['id']}/like", headers=carol.headers).status_code == 200
    assert api.client.put(f"/api/tweets/{tweet['id']}/retweet", headers=bob.headers).status_code in (200, 201)
    post(api, carol, "a reply", reply_to_id=tweet["id"])

    def counted() -> bool:
        r = stats(api, alice, tweet["id"])
        return r.status_code == 200 and (r.json()["likes"], r.json()["retweets"], r.json()["replies"]) == (
            1,
            1,
            1,
        )

    api.eventually(counted, timeout_s=3)
    assert stats(api, alice, tweet["id"]).json()["tweet_id"] == tweet["id"]

    forbidden = stats(api, bob, tweet["id"])
    assert forbidden.status_code == 403
    assert forbidden.json()["type"] == "/problems/not-stats-owner"
    assert stats(api, alice, "123456789").status_code == 404
    assert api.client.get(f"/api/tweets/{tweet['id']}/stats").status_code == 401


def test_my_stats_show_today(api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    tweet = post(api, alice, "today's tweet")
    api.client.put(f"/api/tweets/{tweet['id']}/like", headers=bob.headers)
    api.client.put(f"/api/users/me/following/{alice.id}", headers=bob.headers)

    def today() -> dict[str, Any]:
        r = api.client.get("/api/users/me/stats?days=3", headers=alice.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["user_id"] == alice.id
        assert len(body["days"]) == 3
        return dict(body["days"][-1])

    api.eventually(lambda: (today()["tweets"], today()["likes"], today()["new_followers"]) == (1, 1, 1), 3)
    assert today()["day"] == datetime.now(UTC).date().isoformat()
    assert len(api.client.get("/api/users/me/stats", headers=alice.headers).json()["days"]) == 7
    assert api.client.get("/api/users/me/stats?days=91", headers=alice.headers).status_code == 400
    assert api.client.get("/api/users/me/stats").status_code == 401


def test_trends_show_a_posted_hashtag(api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    post(api, alice, "loving #Litestar and #python")
    post(api, bob, "me too #python")

    def trending() -> list[tuple[str, int]]:
        r = api.client.get("/api/trends?window=1h&limit=10")
        assert r.status_code == 200, r.text
        assert r.json()["window"] == "1h"
        return [(t["hashtag"], t["tweets"]) for t in r.json()["trends"]]

    api.eventually(lambda: trending() == [("python", 2), ("litestar", 1)], timeout_s=3)
    day = api.client.get("/api/trends?window=24h&limit=1").json()
    assert [t["hashtag"] for t in day["trends"]] == ["python"]
    assert api.client.get("/api/trends?window=7d").status_code == 400
    assert api.client.get("/api/trends?limit=51").status_code == 400


def test_reading_a_timeline_counts_impressions(api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    assert api.client.put(f"/api/users/me/following/{alice.id}", headers=bob.headers).status_code == 200
    tweet = post(api, alice, "see me")

    def shown() -> bool:
        r = api.client.get("/api/timeline/home", headers=bob.headers)
        return r.status_code == 200 and tweet["id"] in [t["id"] for t in r.json()["items"]]

    api.eventually(shown, timeout_s=3)

    def impressions() -> int:
        r = stats(api, alice, tweet["id"])
        return int(r.json()["impressions"]) if r.status_code == 200 else 0

    # Impressions are buffered by the timeline module and flushed about once a second.
    api.eventually(lambda: impressions() >= 1, timeout_s=5)
    today = api.client.get("/api/users/me/stats?days=1", headers=alice.headers).json()["days"][0]
    assert today["impressions"] >= 1


def test_trending_tweets_by_engagement_public_only(api: Api) -> None:
    alice, bob, carol = api.user("alice"), api.user("bob"), api.user("carol")
    busy, middling = post(api, alice, "busy one"), post(api, bob, "middling one")
    private = post(api, alice, "for followers", visibility="private")
    assert api.client.put(f"/api/users/me/following/{alice.id}", headers=carol.headers).status_code == 200
    for who, tweet in ((bob, busy), (carol, busy), (carol, private)):
        r = api.client.put(f"/api/tweets/{tweet['id']}/like", headers=who.headers)
        assert r.status_code == 200, r.text
    assert api.client.put(f"/api/tweets/{middling['id']}/like", headers=carol.headers).status_code == 200

    def trending(user: User | None = None, **params: Any) -> list[str]:
        r = api.client.get("/api/trends/tweets", params=params, headers=user.headers if user else {})
        assert r.status_code == 200, r.text
        return [t["id"] for t in r.json()["items"]]

    # the followers-only tweet never trends, not even for a follower who may see it
    api.eventually(lambda: trending(carol) == [busy["id"], middling["id"]], timeout_s=3)
    assert trending() == [busy["id"], middling["id"]]
    first = api.client.get("/api/trends/tweets?limit=1").json()
    assert [t["id"] for t in first["items"]] == [busy["id"]]
    assert trending(cursor=first["next_cursor"], limit=1) == [middling["id"]]
    assert api.client.get("/api/trends/tweets?cursor=nope").status_code == 400
    assert api.client.get("/api/trends/tweets?limit=41").status_code == 400
