"""Timelines and account statuses through the Mastodon routes: Link headers and id paging."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api, User
from tests.mastodon_api.conftest import Masto, next_link


@pytest.fixture
def alice(masto: Masto) -> User:
    return masto.user("alice")


@pytest.fixture
def bob(masto: Masto) -> User:
    return masto.user("bob")


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()]


def test_home_pages_follow_the_link_header_and_id_bounds(
    client: TestClient[Litestar], masto: Masto, api: Api, alice: User, bob: User
) -> None:
    relationship = masto.follow(bob, alice)
    assert relationship["following"] is True  # at once
    posted = [masto.post(alice, f"post {i}")["id"] for i in range(7)]
    newest_first = posted[::-1]
    api.eventually(
        lambda: len(ids(client.get("/api/v1/timelines/home", params={"limit": 40}, headers=bob.headers))) == 7
    )

    # Three pages by following rel="next"
    seen: list[str] = []
    url: str | None = "/api/v1/timelines/home?limit=3"
    pages = 0
    while url is not None:
        r = client.get(url, headers=bob.headers)
        page = ids(r)
        if not page:
            break
        pages += 1
        seen += page
        url = next_link(r)
        assert 'rel="prev"' in r.headers["link"]
    assert seen == newest_first
    assert pages == 3

    home = "/api/v1/timelines/home"
    assert ids(client.get(home, params={"max_id": posted[3], "limit": 2}, headers=bob.headers)) == [
        posted[2],
        posted[1],
    ]
    # since_id: the newest above it; min_id: the page just above it, both newest first
    assert ids(client.get(home, params={"since_id": posted[3], "limit": 2}, headers=bob.headers)) == [
        posted[6],
        posted[5],
    ]
    assert ids(client.get(home, params={"min_id": posted[3], "limit": 2}, headers=bob.headers)) == [
        posted[5],
        posted[4],
    ]
    bad = client.get(home, params={"max_id": "not-an-id"}, headers=bob.headers)
    assert bad.status_code == 422
    assert "error" in bad.json()


def test_account_statuses_filters_and_paging(
    client: TestClient[Litestar], masto: Masto, alice: User, bob: User
) -> None:
    root = masto.post(bob, "bob's")
    plain = masto.post(alice, "plain")
    reply = masto.post(alice, "@bob a reply", in_reply_to_id=root["id"])
    client.post(f"/api/v1/statuses/{root['id']}/reblog", headers=alice.headers)
    path = f"/api/v1/accounts/{alice.id}/statuses"
    everything = masto.get(path)
    assert len(everything) == 3
    assert everything[0]["reblog"]["id"] == root["id"]
    assert [s["id"] for s in masto.get(path, exclude_replies="true", exclude_reblogs="true")] == [plain["id"]]
    assert [s["id"] for s in masto.get(path, exclude_reblogs="true")] == [reply["id"], plain["id"]]
    assert masto.get(path, only_media="true") == []
    r = client.get(path, params={"limit": 1})
    assert len(r.json()) == 1
    assert next_link(r) is not None
    assert client.get("/api/v1/accounts/4242/statuses").status_code == 404


def test_public_and_tag_timelines(client: TestClient[Litestar], masto: Masto, alice: User, bob: User) -> None:
    tagged = masto.post(alice, "about #Cats")
    masto.post(bob, "unlisted #cats", visibility="unlisted")
    other = masto.post(bob, "nothing here")
    public = ids(client.get("/api/v1/timelines/public", params={"local": "true"}))
    assert public == [other["id"], tagged["id"]]  # unlisted stays out
    assert ids(client.get("/api/v1/timelines/tag/cats")) == [tagged["id"]]
    assert ids(client.get("/api/v1/timelines/public", params={"max_id": other["id"]})) == [tagged["id"]]
    assert ids(client.get("/api/v1/timelines/public", params={"remote": "true"})) == []
