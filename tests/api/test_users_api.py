"""Profiles, search and the follow graph through HTTP."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api, User


def problem(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    if code is not None:
        assert body["type"] == f"/problems/{code}"
    return body


def profile(client: TestClient[Litestar], user: User) -> dict[str, Any]:
    r = client.get(f"/api/users/{user.id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_profile_by_id_and_by_handle_in_any_case(client: TestClient[Litestar], api: Api) -> None:
    user = api.user("Alice")
    assert profile(client, user)["handle"] == "Alice"
    r = client.get("/api/users/by-handle/aLiCe")
    assert r.status_code == 200
    assert r.json()["id"] == user.id
    assert "email" not in r.json()
    problem(client.get("/api/users/by-handle/nobody"), 404, "user-not-found")
    problem(client.get("/api/users/123456789"), 404, "user-not-found")


def test_bad_ids_in_paths_are_client_errors(client: TestClient[Litestar], api: Api) -> None:
    user = api.user("paths")
    for path in ("/api/users/abc", "/api/users/-1/followers", "/api/users/1x/following"):
        r = client.get(path)
        assert r.status_code in (400, 404), (path, r.text)
    for path in ("/api/users/me/following/abc", "/api/users/me/blocking/%20", "/api/users/me/muting/1.5"):
        r = client.put(path, headers=user.headers)
        assert r.status_code in (400, 404), (path, r.text)
    r = client.get("/api/users/99999999999999999999")
    assert r.status_code == 404  # too big for an id: simply nobody


def test_update_profile_and_rejected_updates_change_nothing(client: TestClient[Litestar], api: Api) -> None:
    user = api.user("bob")
    r = client.patch("/api/users/me", json={"display_name": "Bobby", "bio": "hi there"}, headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json()["profile"]["display_name"] == "Bobby"
    assert r.json()["email"] == "bob@example.org"
    for bad in ({"display_name": "n" * 51}, {"bio": "b" * 161}, {"display_name": "ok", "handle": "x"}):
        problem(client.patch("/api/users/me", json=bad, headers=user.headers), 400, "invalid-request")
    after = profile(client, user)
    assert (after["display_name"], after["bio"], after["handle"]) == ("Bobby", "hi there", "bob")
    r = client.patch("/api/users/me", json={"bio": "only the bio"}, headers=user.headers)
    assert r.json()["profile"]["display_name"] == "Bobby"  # absent fields stay
    problem(client.patch("/api/users/me", json={"bio": "x"}), 401)


def test_follow_and_unfollow_are_idempotent_and_keep_counts(client: TestClient[Litestar], api: Api) -> None:
    a, b = api.user("carol"), api.user("dave")
    for _ in range(2):
        r = client.put(f"/api/users/me/following/{b.id}", headers=a.headers)
        assert r.status_code == 200, r.text
        assert r.json()["following"] is True
    assert profile(client, b)["followers_count"] == 1
    assert profile(client, a)["following_count"] == 1
    rel = client.get(f"/api/users/{a.id}/relationship", headers=b.headers).json()
    assert (rel["following"], rel["followed_by"]) == (False, True)
    for _ in range(2):
        r = client.delete(f"/api/users/me/following/{b.id}", headers=a.headers)
        assert r.status_code == 200, r.text
        assert r.json()["following"] is False
    assert profile(client, b)["followers_count"] == 0
    assert profile(client, a)["following_count"] == 0


def test_follow_rules(client: TestClient[Litestar], api: Api) -> None:
    a = api.user("erin")
    problem(client.put(f"/api/users/me/following/{a.id}", headers=a.headers), 422, "cannot-follow-self")
    problem(client.put("/api/users/me/following/424242", headers=a.headers), 404, "user-not-found")
    problem(client.put(f"/api/users/me/following/{a.id}"), 401)
    assert profile(client, a)["following_count"] == 0


def test_block_removes_follows_both_ways_and_forbids_following(
    client: TestClient[Litestar], api: Api
) -> None:
    a, b = api.user("frank"), api.user("gina")
    client.put(f"/api/users/me/following/{b.id}", headers=a.headers)
    client.put(f"/api/users/me/following/{a.id}", headers=b.headers)
    r = client.put(f"/api/users/me/blocking/{b.id}", headers=a.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["blocking"], r.json()["following"], r.json()["followed_by"]) == (True, False, False)
    assert profile(client, a)["followers_count"] == 0
    assert profile(client, b)["followers_count"] == 0
    problem(client.put(f"/api/users/me/following/{a.id}", headers=b.headers), 403, "blocked")
    assert client.get(f"/api/users/{a.id}/relationship", headers=b.headers).json()["blocked_by"] is True
    assert client.delete(f"/api/users/me/blocking/{b.id}", headers=a.headers).json()["blocking"] is False
    assert client.put(f"/api/users/me/following/{a.id}", headers=b.headers).json()["following"] is True


def test_mute_and_unmute(client: TestClient[Litestar], api: Api) -> None:
    a, b = api.user("hank"), api.user("ivy")
    assert client.put(f"/api/users/me/muting/{b.id}", headers=a.headers).json()["muting"] is True
    assert client.get(f"/api/users/{b.id}/relationship", headers=a.headers).json()["muting"] is True
    assert client.delete(f"/api/users/me/muting/{b.id}", headers=a.headers).json()["muting"] is False


def test_followers_and_following_pages_with_cursor(client: TestClient[Litestar], api: Api) -> None:
    star = api.user("star")
    fans = [api.user(f"fan{i}") for i in range(5)]
    for fan in fans:
        client.put(f"/api/users/me/following/{star.id}", headers=fan.headers)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = client.get(f"/api/users/{star.id}/followers", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        seen += [p["handle"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["fan4", "fan3", "fan2", "fan1", "fan0"]  # most recent first
    r = client.get(f"/api/users/{fans[0].id}/following")
    assert [p["id"] for p in r.json()["items"]] == [star.id]
    problem(client.get(f"/api/users/{star.id}/followers", params={"limit": 101}), 400)
    problem(client.get(f"/api/users/{star.id}/followers", params={"cursor": "nonsense!"}), 400)


def test_search_by_prefix(client: TestClient[Litestar], api: Api) -> None:
    for handle in ("oscar", "olga", "o_o", "peggy"):
        api.register(handle)
    r = client.get("/api/users/search", params={"q": "O"})
    assert r.status_code == 200, r.text
    assert sorted(p["handle"] for p in r.json()["items"]) == ["o_o", "olga", "oscar"]
    r = client.get("/api/users/search", params={"q": "o_"})
    assert [p["handle"] for p in r.json()["items"]] == ["o_o"]  # "_" is not a wildcard
    first = client.get("/api/users/search", params={"q": "o", "limit": 2}).json()
    second = client.get(
        "/api/users/search", params={"q": "o", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert {p["handle"] for p in first["items"] + second["items"]} == {"o_o", "olga", "oscar"}
    problem(client.get("/api/users/search"), 400)
