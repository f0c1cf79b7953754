"""The tweets routes through HTTP, on the monolith with the real users module."""

from __future__ import annotations

import io
import sqlite3
from contextlib import closing
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from tests.conftest import Api, User
from twitterclone.settings import Settings


def tweets_db(settings: Settings) -> sqlite3.Connection:
    return sqlite3.connect(settings.data_path / "tweets.db")


def count(settings: Settings, sql: str, *args: Any) -> int:
    with closing(tweets_db(settings)) as db:
        return int(db.execute(sql, args).fetchone()[0])


def tweet(client: TestClient[Litestar], user: User, text: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/api/tweets", json={"text": text, **extra}, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.fixture
def alice(api: Api) -> User:
    return api.user("alice")


@pytest.fixture
def bob(api: Api) -> User:
    return api.user("bob")


def test_post_and_read_a_tweet_with_resolved_entities(
    client: TestClient[Litestar], alice: User, bob: User
) -> None:
    posted = tweet(client, alice, "hi @Bob and @nobody #Hello https://example.org/x")
    assert posted["author"]["handle"] == "alice"
    assert posted["entities"]["hashtags"] == ["hello"]
    assert posted["entities"]["mentions"] == [
        {"handle": "Bob", "user_id": bob.id},
        {"handle": "nobody", "user_id": None},
    ]
    assert posted["entities"]["urls"] == ["https://example.org/x"]
    got = client.get(f"/api/tweets/{posted['id']}")
    assert got.status_code == 200
    assert got.json()["text"] == posted["text"]
    assert got.json()["viewer"] is None


def test_posting_needs_a_token(client: TestClient[Litestar]) -> None:
    r = client.post("/api/tweets", json={"text": "anonymous"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


def test_281_characters_is_a_422_problem_and_nothing_is_written(
    client: TestClient[Litestar], alice: User, settings: Settings
) -> None:
    r = client.post("/api/tweets", json={"text": "x" * 281}, headers=alice.headers)
    assert r.status_code == 422
    problem = r.json()
    assert problem["type"] == "/problems/tweet-too-long"
    assert "280" in problem["detail"]
    assert count(settings, "SELECT count(*) FROM tweets") == 0
    assert count(settings, "SELECT count(*) FROM outbox") == 0
    assert len(tweet(client, alice, "y" * 280)["text"]) == 280
    assert len(tweet(client, alice, "🙂" * 280)["text"]) == 280


def test_empty_tweet_and_unknown_fields_are_refused(client: TestClient[Litestar], alice: User) -> None:
    empty = client.post("/api/tweets", json={"text": "   "}, headers=alice.headers)
    assert (empty.status_code, empty.json()["type"]) == (422, "/problems/empty-tweet")
    unknown = client.post("/api/tweets", json={"text": "hi", "colour": "red"}, headers=alice.headers)
    assert unknown.status_code == 400


def test_one_tweet_posted_event_in_the_outbox(
    client: TestClient[Litestar], alice: User, bob: User, settings: Settings
) -> None:
    posted = tweet(client, alice, "hello @bob #news")
    with closing(tweets_db(settings)) as db:
        rows = db.execute(
            "SELECT event_type, payload FROM outbox WHERE event_type = 'TweetPosted'"
        ).fetchall()
    assert len(rows) == 1
    payload = rows[0][1].decode() if isinstance(rows[0][1], bytes) else rows[0][1]
    assert posted["id"] in payload
    assert bob.id in payload


def test_idempotency_key_returns_the_same_tweet_and_refuses_another_body(
    client: TestClient[Litestar], alice: User, settings: Settings
) -> None:
    headers = {**alice.headers, "Idempotency-Key": "abc-123"}
    first = client.post("/api/tweets", json={"text": "only once"}, headers=headers)
    second = client.post("/api/tweets", json={"text": "only once"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert count(settings, "SELECT count(*) FROM tweets") == 1
    other = client.post("/api/tweets", json={"text": "something else"}, headers=headers)
    assert other.status_code == 409
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    too_long = client.post(
        "/api/tweets", json={"text": "x"}, headers={**alice.headers, "Idempotency-Key": "k" * 129}
    )
    assert too_long.status_code == 400
    assert count(settings, "SELECT count(*) FROM tweets") == 1


def test_reply_and_quote_counts_and_replies_page(
    client: TestClient[Litestar], alice: User, bob: User
) -> None:
    root = tweet(client, alice, "root")
    reply = tweet(client, bob, "reply", reply_to_id=root["id"])
    quote = tweet(client, bob, "quote", quote_of_id=root["id"])
    assert reply["conversation_id"] == root["id"]
    assert reply["reply_to_author_id"] == alice.id
    assert quote["quoted"]["id"] == root["id"]
    counts = client.get(f"/api/tweets/{root['id']}").json()["counts"]
    assert (counts["replies"], counts["quotes"]) == (1, 1)
    page = client.get(f"/api/tweets/{root['id']}/replies").json()
    assert [t["id"] for t in page["items"]] == [reply["id"]]
    missing = client.post("/api/tweets", json={"text": "x", "reply_to_id": "123"}, headers=bob.headers)
    assert (missing.status_code, missing.json()["type"]) == (404, "/problems/tweet-not-found")


def test_like_unlike_and_viewer_flags(client: TestClient[Litestar], alice: User, bob: User) -> None:
    t = tweet(client, alice, "like me")
    for _ in range(2):
        liked = client.put(f"/api/tweets/{t['id']}/like", headers=bob.headers)
        assert liked.status_code == 200
        assert liked.json()["counts"]["likes"] == 1
        assert liked.json()["viewer"]["liked"] is True
    seen = client.get(f"/api/tweets/{t['id']}", headers=bob.headers).json()
    assert seen["viewer"]["liked"] is True
    unliked = client.delete(f"/api/tweets/{t['id']}/like", headers=bob.headers)
    assert unliked.status_code == 200
    assert unliked.json()["counts"]["likes"] == 0
    assert unliked.json()["viewer"]["liked"] is False


def test_retweet_and_undo(client: TestClient[Litestar], alice: User, bob: User) -> None:
    t = tweet(client, alice, "retweet me")
    first = client.put(f"/api/tweets/{t['id']}/retweet", headers=bob.headers)
    second = client.put(f"/api/tweets/{t['id']}/retweet", headers=bob.headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["retweet_of"]["id"] == t["id"]
    assert client.get(f"/api/tweets/{t['id']}").json()["counts"]["retweets"] == 1
    undo = client.delete(f"/api/tweets/{t['id']}/retweet", headers=bob.headers)
    assert undo.status_code == 204
    assert client.delete(f"/api/tweets/{t['id']}/retweet", headers=bob.headers).status_code == 204
    assert client.get(f"/api/tweets/{t['id']}").json()["counts"]["retweets"] == 0
    assert client.get(f"/api/tweets/{first.json()['id']}").status_code == 404


def test_deleting_someone_elses_tweet_is_403_and_keeps_it(
    client: TestClient[Litestar], alice: User, bob: User
) -> None:
    t = tweet(client, alice, "mine")
    r = client.delete(f"/api/tweets/{t['id']}", headers=bob.headers)
    assert (r.status_code, r.json()["type"]) == (403, "/problems/not-tweet-author")
    assert client.get(f"/api/tweets/{t['id']}").status_code == 200
    assert client.delete(f"/api/tweets/{t['id']}", headers=alice.headers).status_code == 204
    gone = client.get(f"/api/tweets/{t['id']}")
    assert (gone.status_code, gone.json()["type"]) == (404, "/problems/tweet-not-found")


@pytest.mark.parametrize("bad", ["abc", "12a", "-1", "1" * 25, "%20", "99999999999999999999"])
def test_bad_tweet_ids_in_paths_are_problems_not_500(
    client: TestClient[Litestar], alice: User, bad: str
) -> None:
    for method, path in [
        ("GET", f"/api/tweets/{bad}"),
        ("GET", f"/api/tweets/{bad}/replies"),
        ("PUT", f"/api/tweets/{bad}/like"),
        ("DELETE", f"/api/tweets/{bad}"),
    ]:
        r = client.request(method, path, headers=alice.headers)
        assert r.status_code in (400, 404), (method, path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


def test_search_words_and_hashtags(client: TestClient[Litestar], alice: User, bob: User) -> None:
    tagged = tweet(client, alice, "I like #Rust a lot")
    plain = tweet(client, bob, "rust never sleeps")
    words = client.get("/api/tweets/search", params={"q": "rust"})
    assert words.status_code == 200
    assert [t["id"] for t in words.json()["items"]] == [plain["id"], tagged["id"]]
    tags = client.get("/api/tweets/search", params={"q": "#rust"})
    assert [t["id"] for t in tags.json()["items"]] == [tagged["id"]]
    paged = client.get("/api/tweets/search", params={"q": "rust", "limit": 1}).json()
    assert [t["id"] for t in paged["items"]] == [plain["id"]]
    rest = client.get("/api/tweets/search", params={"q": "rust", "cursor": paged["next_cursor"]}).json()
    assert [t["id"] for t in rest["items"]] == [tagged["id"]]
    assert client.get("/api/tweets/search").status_code == 400
    assert client.get("/api/tweets/search", params={"q": "rust", "cursor": "garbage!"}).status_code == 400


@pytest.mark.parametrize(
    "q", ['"', 'rust"', "AND", "OR rust", "*", "NEAR(", "NEAR(rust", "tags: x", "'); --"]
)
def test_odd_search_input_is_never_a_500(client: TestClient[Litestar], alice: User, q: str) -> None:
    tweet(client, alice, "rust AND near tags")
    r = client.get("/api/tweets/search", params={"q": q})
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["items"], list)


def png() -> bytes:
    image = Image.new("RGB", (8, 8), (200, 30, 30))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def upload(client: TestClient[Litestar], user: User) -> str:
    r = client.post("/api/media", files={"file": ("red.png", png(), "image/png")}, headers=user.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_media_are_checked_with_the_media_module(
    client: TestClient[Litestar], alice: User, bob: User, settings: Settings
) -> None:
    unknown = client.post("/api/tweets", json={"text": "pic", "media_ids": ["12345"]}, headers=alice.headers)
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "/problems/media-not-found"
    bobs = upload(client, bob)
    not_mine = client.post("/api/tweets", json={"text": "pic", "media_ids": [bobs]}, headers=alice.headers)
    assert not_mine.status_code == 403
    assert count(settings, "SELECT count(*) FROM tweets") == 0
    mine = upload(client, alice)
    posted = tweet(client, alice, "my pic", media_ids=[mine])
    assert posted["media_ids"] == [mine]
    assert client.get(f"/api/tweets/{posted['id']}").json()["media_ids"] == [mine]
