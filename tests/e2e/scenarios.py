"""User journeys over plain HTTP, used unchanged against every topology."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from PIL import Image

PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: str
    handle: str
    headers: dict[str, str]


def eventually(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll until ``check()``; return how long it took. Fails after ``timeout_s``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s}s")
        time.sleep(0.02)
    return time.monotonic() - start


def sign_up(client: httpx.Client, handle: str) -> Account:
    r = client.post(
        "/api/auth/register", json={"handle": handle, "email": f"{handle}@example.org", "password": PASSWORD}
    )
    assert r.status_code == 201, r.text
    user_id = r.json()["profile"]["id"]
    return log_in(client, handle, user_id)


def log_in(client: httpx.Client, handle: str, user_id: str) -> Account:
    r = client.post("/api/auth/login", json={"login": handle, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return Account(user_id, handle, {"Authorization": f"Bearer {r.json()['access_token']}"})


def home_ids(client: httpx.Client, who: Account) -> list[str]:
    r = client.get("/api/timeline/home?limit=100", headers=who.headers)
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["items"]]


def social_loop(client: httpx.Client) -> dict[str, str]:
    """The acceptance journey: follow, post, fan-out, like, retweet, notify, delete."""
    alice = sign_up(client, "alice")
    bob = sign_up(client, "bob")
    r = client.put(f"/api/users/me/following/{alice.id}", headers=bob.headers)
    assert r.status_code == 200, r.text
    assert r.json()["following"] is True

    r = client.post("/api/tweets", json={"text": "hello @bob #topologies"}, headers=alice.headers)
    assert r.status_code == 201, r.text
    tweet = r.json()["id"]
    keep = client.post("/api/tweets", json={"text": "this one stays"}, headers=alice.headers).json()["id"]
    eventually(lambda: tweet in home_ids(client, bob), 1.0, "tweet in bob's home timeline")

    assert client.put(f"/api/tweets/{tweet}/like", headers=bob.headers).status_code == 200
    assert client.put(f"/api/tweets/{tweet}/retweet", headers=bob.headers).status_code == 200
    counts = client.get(f"/api/tweets/{tweet}").json()["counts"]
    assert (counts["likes"], counts["retweets"]) == (1, 1)

    def kinds() -> set[str]:
        r = client.get("/api/notifications", headers=alice.headers)
        return {n["kind"] for n in r.json()["items"]} if r.status_code == 200 else set()

    eventually(lambda: {"follow", "like", "retweet"} <= kinds(), 3.0, "alice's notifications")
    eventually(
        lambda: any(
            t["hashtag"] == "topologies" for t in client.get("/api/trends?window=1h").json()["trends"]
        ),
        3.0,
        "the hashtag in trends",
    )

    assert client.delete(f"/api/tweets/{tweet}", headers=alice.headers).status_code == 204
    eventually(lambda: tweet not in home_ids(client, bob), 2.0, "deleted tweet gone from bob's timeline")
    assert client.get(f"/api/tweets/{tweet}").status_code == 404
    return {"alice": alice.id, "bob": bob.id, "kept": keep}


def still_there_after_restart(client: httpx.Client, ids: dict[str, str]) -> None:
    bob = log_in(client, "bob", ids["bob"])
    r = client.get(f"/api/users/{ids['bob']}/relationship", headers=bob.headers)
    assert client.get(f"/api/users/{ids['alice']}").json()["followers_count"] == 1
    assert client.get(f"/api/tweets/{ids['kept']}").status_code == 200
    assert ids["kept"] in home_ids(client, bob)
    del r


def bad_input_gets_problems(client: httpx.Client) -> None:
    """Errors look the same in every topology: problem documents, never a 500."""
    r = client.post("/api/auth/register", json={"handle": "x" * 16, "email": "a@b.c", "password": PASSWORD})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    r = client.get("/api/users/999999999999")
    assert r.status_code == 404
    assert r.json()["type"] == "/problems/user-not-found"
    carol = sign_up(client, "carol")
    r = client.post("/api/tweets", json={"text": "x" * 281}, headers=carol.headers)
    assert r.status_code == 422
    assert r.json()["type"] == "/problems/tweet-too-long"
    r = client.put(f"/api/users/me/following/{carol.id}", headers=carol.headers)
    assert r.status_code == 422
    assert client.get("/api/timeline/home", headers={"Authorization": "Bearer nope"}).status_code == 401


def content_loop(client: httpx.Client, ids: dict[str, str]) -> None:
    """Alt text, an avatar (users asks media across processes), a content warning, a bookmark, a pin."""
    alice = log_in(client, "alice", ids["alice"])
    bob = log_in(client, "bob", ids["bob"])
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (5, 90, 180)).save(out, "PNG")
    r = client.post(
        "/api/media",
        files={"file": ("me.png", out.getvalue(), "image/png")},
        data={"description": "a blue square"},
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["description"] == "a blue square"
    face = r.json()["id"]
    r = client.patch("/api/users/me", json={"avatar_id": face}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert client.get(f"/api/users/{alice.id}").json()["avatar_id"] == face
    assert client.get(f"/api/media/{face}/thumb").status_code == 200  # public once on the profile

    r = client.post(
        "/api/tweets", json={"text": "plot twist", "spoiler_text": "spoilers"}, headers=alice.headers
    )
    assert r.status_code == 201, r.text
    warned = r.json()["id"]
    assert client.put(f"/api/tweets/{warned}/pin", headers=alice.headers).json()["pinned"] is True
    assert client.put(f"/api/tweets/{warned}/bookmark", headers=bob.headers).status_code == 200
    saved = client.get("/api/users/me/bookmarks", headers=bob.headers).json()["items"]
    assert [(t["id"], t["spoiler_text"], t["sensitive"]) for t in saved] == [(warned, "spoilers", True)]
    pinned = client.get(f"/api/users/{alice.id}/tweets?pinned=true").json()["items"]
    assert [t["id"] for t in pinned] == [warned]
