"""The timeline routes through HTTP, on the monolith with the real users and tweets modules."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api, User
from twitterclone.settings import Settings


def post(client: TestClient[Litestar], user: User, text: str) -> str:
    r = client.post("/api/tweets", json={"text": text}, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


def follow(client: TestClient[Litestar], follower: User, followee: User) -> None:
    r = client.put(f"/api/users/me/following/{followee.id}", headers=follower.headers)
    assert r.status_code == 200, r.text


def home(client: TestClient[Litestar], user: User, **params: Any) -> dict[str, Any]:
    r = client.get("/api/timeline/home", params=params, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def home_ids(client: TestClient[Litestar], user: User) -> list[str]:
    return [t["id"] for t in home(client, user, limit=100)["items"]]


def stored(settings: Settings, user: User) -> list[str]:
    """What fan-out wrote for a user (read from the timeline module's own file)."""
    with closing(sqlite3.connect(settings.data_path / "timeline.db")) as db:
        rows = db.execute(
            "SELECT tweet_id FROM home_timeline WHERE user_id = ? ORDER BY tweet_id DESC", (int(user.id),)
        )
        return [str(r[0]) for r in rows]


def outbox_types(settings: Settings) -> list[str]:
    with closing(sqlite3.connect(settings.data_path / "timeline.db")) as db:
        return [r[0] for r in db.execute("SELECT event_type FROM outbox")]


@pytest.fixture
def alice(api: Api) -> User:
    return api.user("alice")


@pytest.fixture
def bob(api: Api) -> User:
    return api.user("bob")


def test_home_timeline_needs_a_token(client: TestClient[Litestar]) -> None:
    for r in (client.get("/api/timeline/home"), client.post("/api/timeline/home/rebuild")):
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")


def test_a_followed_tweet_is_fanned_out_into_the_followers_home(
    client: TestClient[Litestar], api: Api, settings: Settings, alice: User, bob: User
) -> None:
    follow(client, bob, alice)
    mine = post(client, bob, "my own")
    theirs = post(client, alice, "for my followers")

    api.eventually(lambda: stored(settings, bob) == [theirs, mine])  # written by fan-out, not at read
    items = home(client, bob)["items"]
    assert [(t["id"], t["author"]["handle"]) for t in items] == [(theirs, "alice"), (mine, "bob")]
    assert items[0]["viewer"] == {"liked": False, "retweeted": False, "bookmarked": False}
    assert home_ids(client, alice) == [theirs]  # alice does not follow bob


def test_home_pages_go_strictly_older_with_the_cursor(
    client: TestClient[Litestar], api: Api, alice: User, bob: User
) -> None:
    follow(client, bob, alice)
    posted = [post(client, alice, f"tweet {i}") for i in range(5)]
    api.eventually(lambda: len(home_ids(client, bob)) == 5)

    seen: list[str] = []
    cursor = None
    for _ in range(3):
        page = home(client, bob, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
    assert seen == posted[::-1]
    assert cursor is None


@pytest.mark.parametrize(
    ("params", "status", "problem"),
    [
        ({"cursor": "garbage!"}, 400, "/problems/invalid-cursor"),
        ({"limit": 0}, 400, "/problems/invalid-request"),
        ({"limit": 101}, 400, "/problems/invalid-request"),
    ],
)
def test_bad_page_parameters_are_problems(
    client: TestClient[Litestar], bob: User, params: dict[str, Any], status: int, problem: str
) -> None:
    r = client.get("/api/timeline/home", params=params, headers=bob.headers)
    assert r.status_code == status, r.text
    assert r.json()["type"] == problem


def test_unfollow_removes_their_tweets_from_home(
    client: TestClient[Litestar], api: Api, alice: User, bob: User
) -> None:
    follow(client, bob, alice)
    theirs = post(client, alice, "soon gone from bob's home")
    mine = post(client, bob, "stays")
    api.eventually(lambda: home_ids(client, bob) == [mine, theirs])

    assert client.delete(f"/api/users/me/following/{alice.id}", headers=bob.headers).status_code in (200, 204)
    api.eventually(lambda: home_ids(client, bob) == [mine])


def test_following_someone_back_fills_their_recent_tweets(
    client: TestClient[Litestar], api: Api, settings: Settings, alice: User, bob: User
) -> None:
    earlier = [post(client, alice, f"before bob came {i}") for i in range(3)]
    post(client, bob, "so the home timeline is not empty")
    follow(client, bob, alice)
    api.eventually(lambda: set(earlier) <= set(stored(settings, bob)))


def test_a_retweet_reaches_the_retweeters_followers(
    client: TestClient[Litestar], api: Api, alice: User, bob: User
) -> None:
    carol = api.user("carol")
    follow(client, carol, bob)
    original = post(client, alice, "worth sharing")
    r = client.put(f"/api/tweets/{original}/retweet", headers=bob.headers)
    assert r.status_code == 200, r.text
    retweet = r.json()["id"]

    api.eventually(lambda: home_ids(client, carol) == [retweet])
    item = home(client, carol)["items"][0]
    assert item["retweet_of"]["id"] == original
    assert item["author"]["id"] == bob.id


def test_user_tweets_are_public_and_newest_first(
    client: TestClient[Litestar], alice: User, bob: User
) -> None:
    posted = [post(client, alice, f"public {i}") for i in range(3)]
    r = client.get(f"/api/users/{alice.id}/tweets", params={"limit": 2})
    assert r.status_code == 200, r.text
    assert [t["id"] for t in r.json()["items"]] == posted[::-1][:2]
    assert r.json()["items"][0]["viewer"] is None

    r = client.get(f"/api/users/{alice.id}/tweets", headers=bob.headers)
    assert [t["id"] for t in r.json()["items"]] == posted[::-1]
    assert r.json()["items"][0]["viewer"] == {"liked": False, "retweeted": False, "bookmarked": False}


def test_user_tweets_path_id_must_be_digits(client: TestClient[Litestar]) -> None:
    r = client.get("/api/users/abc/tweets")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")


def test_rebuild_recomputes_home_from_follows_and_tweets(
    client: TestClient[Litestar], api: Api, settings: Settings, alice: User, bob: User
) -> None:
    follow(client, bob, alice)
    posted = [post(client, alice, f"t{i}") for i in range(3)]
    mine = post(client, bob, "mine")
    api.eventually(lambda: len(stored(settings, bob)) == 4)
    with closing(sqlite3.connect(settings.data_path / "timeline.db")) as db:  # lose bob's timeline
        db.execute("DELETE FROM home_timeline WHERE user_id = ?", (int(bob.id),))
        db.commit()

    r = client.post("/api/timeline/home/rebuild", headers=bob.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"entries": 4}
    assert stored(settings, bob) == [mine, *posted[::-1]]


def test_timeline_reads_are_recorded_as_impressions_in_batches(
    client: TestClient[Litestar], api: Api, settings: Settings, alice: User, bob: User
) -> None:
    follow(client, bob, alice)
    post(client, alice, "seen")
    api.eventually(lambda: len(home_ids(client, bob)) == 1)
    for _ in range(5):
        home(client, bob)
    api.eventually(lambda: "TimelineServed" in outbox_types(settings), timeout_s=3.0)
    assert outbox_types(settings).count("TimelineServed") < 6  # batched, not one per read
