"""The issue's acceptance scenario, through the HTTP API of the monolith, across a restart.

Register alice and bob; bob follows alice; alice tweets and the tweet reaches bob's home timeline
within a second; bob likes and retweets it and the counts show it; alice deletes it and it leaves
bob's home timeline; then a second process on the same data directory still has everything.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api, User
from twitterclone.gateway.app import create_app
from twitterclone.manifest import Manifest
from twitterclone.settings import Settings


def home_ids(client: TestClient[Litestar], user: User) -> list[str]:
    r = client.get("/api/timeline/home", params={"limit": 100}, headers=user.headers)
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["items"]]


def home_items(client: TestClient[Litestar], user: User) -> list[dict[str, Any]]:
    r = client.get("/api/timeline/home", params={"limit": 100}, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def post(client: TestClient[Litestar], user: User, text: str) -> str:
    r = client.post("/api/tweets", json={"text": text}, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


def test_follow_tweet_engage_delete_and_restart(
    app: Litestar, settings: Settings, manifest: Manifest
) -> None:
    with TestClient(app) as client:
        api = Api(client)
        alice, bob = api.user("alice"), api.user("bob")

        r = client.put(f"/api/users/me/following/{alice.id}", headers=bob.headers)
        assert r.status_code == 200, r.text
        assert r.json()["following"] is True

        keep = post(client, alice, "this one stays")
        doomed = post(client, alice, "hello bob, this one will go")
        api.eventually(lambda: doomed in home_ids(client, bob), timeout_s=1.0)
        assert home_ids(client, bob)[:2] == [doomed, keep]

        assert client.put(f"/api/tweets/{doomed}/like", headers=bob.headers).status_code == 200
        r = client.put(f"/api/tweets/{doomed}/retweet", headers=bob.headers)
        assert r.status_code == 200, r.text
        retweet = r.json()["id"]
        counts = client.get(f"/api/tweets/{doomed}").json()["counts"]
        assert (counts["likes"], counts["retweets"]) == (1, 1)
        # bob's retweet reaches his own home timeline too (he is its author)
        api.eventually(lambda: retweet in home_ids(client, bob), timeout_s=1.0)

        assert client.delete(f"/api/tweets/{doomed}", headers=alice.headers).status_code == 204
        assert client.get(f"/api/tweets/{doomed}").status_code == 404

        def doomed_gone() -> bool:
            items = home_items(client, bob)
            return all(doomed not in (t["id"], t.get("retweet_of_id")) for t in items)

        api.eventually(doomed_gone, timeout_s=1.0)
        assert home_ids(client, bob) == [keep]

    # A restart: a second process on the same data directory.
    with TestClient(create_app(settings, manifest)) as client:
        api = Api(client)
        bob, alice = relogin(api, bob), relogin(api, alice)  # accounts and passwords survived

        r = client.get(f"/api/users/{bob.id}/following")
        assert r.status_code == 200, r.text
        assert [p["id"] for p in r.json()["items"]] == [alice.id]

        assert client.get(f"/api/tweets/{keep}").json()["text"] == "this one stays"
        assert client.get(f"/api/tweets/{doomed}").status_code == 404
        r = client.get(f"/api/users/{alice.id}/tweets")
        assert [t["id"] for t in r.json()["items"]] == [keep]

        assert home_ids(client, bob) == [keep]
        # and the timeline still works after the restart: a new tweet fans out
        fresh = post(client, alice, "back again")
        api.eventually(lambda: home_ids(client, bob) == [fresh, keep], timeout_s=1.0)


def relogin(api: Api, user: User) -> User:
    tokens = api.login(user.handle)
    return User(user.id, user.handle, {"Authorization": f"Bearer {tokens['access_token']}"}, tokens)
