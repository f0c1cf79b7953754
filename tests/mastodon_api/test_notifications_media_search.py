"""Notifications, markers, media, search and trends through the Mastodon routes."""

from __future__ import annotations

import io

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from tests.conftest import Api, User
from tests.mastodon_api.conftest import Masto, next_link


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def alice(masto: Masto) -> User:
    return masto.user("alice")


@pytest.fixture
def bob(masto: Masto) -> User:
    return masto.user("bob")


def test_notifications_types_paging_get_dismiss_clear(
    client: TestClient[Litestar], masto: Masto, api: Api, alice: User, bob: User
) -> None:
    status = masto.post(alice, "notice me")
    masto.follow(bob, alice)
    client.post(f"/api/v1/statuses/{status['id']}/favourite", headers=bob.headers)
    client.post(f"/api/v1/statuses/{status['id']}/reblog", headers=bob.headers)
    masto.post(bob, "@alice hi", in_reply_to_id=status["id"])

    def listed(**params: object) -> list[dict[str, object]]:
        r = client.get("/api/v1/notifications", params=params, headers=alice.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    api.eventually(lambda: len(listed()) == 4, timeout_s=3)
    everything = listed()
    assert [n["type"] for n in everything] == ["mention", "reblog", "favourite", "follow"]
    assert everything[0]["status"]["in_reply_to_id"] == status["id"]
    assert "status" not in everything[3]  # a follow has no status: absent, not null
    assert everything[3]["account"]["acct"] == "bob"
    assert [n["type"] for n in listed(**{"types[]": ["favourite", "follow"]})] == ["favourite", "follow"]
    assert [n["type"] for n in listed(**{"exclude_types[]": ["mention", "reblog"]})] == [
        "favourite",
        "follow",
    ]
    assert listed(**{"types[]": ["poll"]}) == []
    ids = [n["id"] for n in everything]
    page = client.get("/api/v1/notifications", params={"limit": 2}, headers=alice.headers)
    assert [n["id"] for n in page.json()] == ids[:2]
    assert page.headers["link"].startswith("<")
    assert 'rel="next"' in page.headers["link"].split(",")[0]
    assert [n["id"] for n in listed(max_id=ids[1])] == ids[2:]
    assert [n["id"] for n in listed(min_id=ids[3], limit=1)] == [ids[2]]
    assert [n["id"] for n in listed(since_id=ids[2])] == ids[:2]

    one = client.get(f"/api/v1/notifications/{ids[1]}", headers=alice.headers)
    assert one.status_code == 200
    assert one.json()["type"] == "reblog"
    assert client.get(f"/api/v1/notifications/{ids[1]}", headers=bob.headers).status_code == 404
    assert client.post(f"/api/v1/notifications/{ids[1]}/dismiss", headers=alice.headers).json() == {}
    assert len(listed()) == 3
    assert client.post("/api/v1/notifications/clear", headers=alice.headers).status_code == 200
    assert listed() == []


def test_unread_count_follows_the_notifications_marker_and_filters(
    client: TestClient[Litestar], masto: Masto, api: Api, alice: User, bob: User
) -> None:
    def unread(user: User = alice, **params: object) -> int:
        r = client.get("/api/v1/notifications/unread_count", params=params, headers=user.headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert list(r.json()) == ["count"]
        return r.json()["count"]  # type: ignore[no-any-return]

    # Follows come through the users module's events and the rest through the tweets module's,
    # each on its own relay: waiting at each change of module keeps the notifications in the
    # order of the actions, which the marker's counts below rely on.
    carol = masto.user("carol")
    status = masto.post(alice, "notice me")
    masto.follow(bob, alice)
    api.eventually(lambda: unread() == 1, timeout_s=3)
    client.post(f"/api/v1/statuses/{status['id']}/favourite", headers=bob.headers)
    client.post(f"/api/v1/statuses/{status['id']}/reblog", headers=bob.headers)
    masto.post(bob, "@alice hi", in_reply_to_id=status["id"])
    api.eventually(lambda: unread() == 4, timeout_s=3)
    masto.follow(carol, alice)
    api.eventually(lambda: unread() == 5, timeout_s=3)
    assert unread(bob) == 0
    assert unread(limit=2) == 2  # capped, as Mastodon caps it
    assert unread(**{"types[]": ["follow"]}) == 2
    assert unread(**{"types[]": ["favourite", "mention"]}) == 2
    assert unread(**{"types[]": ["poll"]}) == 0
    assert unread(**{"exclude_types[]": ["follow", "reblog"]}) == 2
    assert unread(account_id=carol.id) == 1
    assert unread(account_id=bob.id, **{"types[]": ["follow", "reblog"]}) == 2
    assert unread(account_id="not-an-id") == 0

    newest = masto.get("/api/v1/notifications", alice, limit=5)
    saved = client.post(
        "/api/v1/markers", data={"notifications[last_read_id]": newest[2]["id"]}, headers=alice.headers
    )
    assert saved.status_code == 200, saved.text
    assert unread() == 2  # only the two newer than the marker
    assert unread(**{"types[]": ["follow"]}) == 1
    assert unread(**{"types[]": ["favourite"]}) == 0

    # a muted (or blocked) account's notifications are not counted, as the list leaves them out
    assert client.post(f"/api/v1/accounts/{carol.id}/mute", headers=alice.headers).status_code == 200
    assert unread() == 1
    assert unread(account_id=carol.id) == 0
    assert client.get("/api/v1/notifications/unread_count").status_code == 401


def test_markers_save_and_read(client: TestClient[Litestar], masto: Masto, alice: User) -> None:
    assert masto.get("/api/v1/markers", alice, **{"timeline[]": ["home"]}) == {}
    saved = client.post("/api/v1/markers", data={"home[last_read_id]": "12345"}, headers=alice.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["home"]["last_read_id"] == "12345"
    assert saved.json()["home"]["version"] == 1
    again = client.post("/api/v1/markers", json={"home": {"last_read_id": "12346"}}, headers=alice.headers)
    assert again.json()["home"]["version"] == 2
    read = masto.get("/api/v1/markers", alice, **{"timeline[]": ["home", "notifications"]})
    assert set(read) == {"home"}
    assert read["home"]["last_read_id"] == "12346"
    bad = client.post("/api/v1/markers", json={"home": {"last_read_id": "abc"}}, headers=alice.headers)
    assert bad.status_code == 422
    assert "error" in bad.json()
    assert client.post("/api/v1/markers", json={}, headers=alice.headers).status_code == 422


def test_media_upload_with_alt_text_then_post_and_update(
    client: TestClient[Litestar], masto: Masto, alice: User, bob: User
) -> None:
    r = client.post(
        "/api/v2/media",
        files={"file": ("cat.png", png(), "image/png")},
        data={"description": "a red square", "focus": "0.5,-0.25"},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    media = r.json()
    assert (media["type"], media["description"]) == ("image", "a red square")
    assert media["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    assert media["meta"]["original"]["width"] == 64
    assert client.get(f"/api/v1/media/{media['id']}", headers=bob.headers).status_code == 404  # not his
    updated = client.put(
        f"/api/v1/media/{media['id']}", json={"description": "a square, red"}, headers=alice.headers
    )
    assert updated.status_code == 200
    assert updated.json()["description"] == "a square, red"
    status = masto.post(alice, "look", media_ids=[media["id"]])
    assert [a["id"] for a in status["media_attachments"]] == [media["id"]]
    assert status["media_attachments"][0]["description"] == "a square, red"
    url = status["media_attachments"][0]["url"]
    masto.api.eventually(lambda: client.get(url).status_code == 200, timeout_s=3)  # public once attached

    not_image = client.post(
        "/api/v2/media", files={"file": ("x.txt", b"hello", "text/plain")}, headers=alice.headers
    )
    assert not_image.status_code == 422
    assert "error" in not_image.json()
    no_file = client.post("/api/v2/media", data={"description": "x"}, headers=alice.headers)
    assert no_file.status_code == 422
    bad_focus = client.post(
        "/api/v2/media",
        files={"file": ("a.png", png(), "image/png")},
        data={"focus": "2,0"},
        headers=alice.headers,
    )
    assert bad_focus.status_code == 422


def test_search_and_trends(client: TestClient[Litestar], masto: Masto, alice: User, bob: User) -> None:
    posted = masto.post(alice, "pineapple pizza #food")
    masto.post(bob, "more #food")
    found = masto.get("/api/v2/search", alice, q="pineapple")
    assert [s["id"] for s in found["statuses"]] == [posted["id"]]
    assert found["accounts"] == []
    assert found["hashtags"] == []
    people = masto.get("/api/v2/search", alice, q="@bo", type="accounts")
    assert [a["acct"] for a in people["accounts"]] == ["bob"]
    assert people["statuses"] == []
    tags = masto.get("/api/v2/search", alice, q="#food", type="hashtags")
    assert [t["name"] for t in tags["hashtags"]] == ["food"]
    assert client.get("/api/v2/search", params={"q": "x", "type": "polls"}).status_code == 422

    def trending() -> list[str]:
        return [t["name"] for t in masto.get("/api/v1/trends/tags")]

    masto.api.eventually(lambda: trending() == ["food"], timeout_s=3)
    masto.api.eventually(
        lambda: masto.get("/api/v1/trends/tags")[0]["history"][0]["uses"] == "2", timeout_s=3
    )


def test_trending_statuses(client: TestClient[Litestar], masto: Masto, alice: User, bob: User) -> None:
    carol = masto.user("carol")
    busy, middling = masto.post(alice, "busy"), masto.post(bob, "middling")
    private = masto.post(alice, "followers only", visibility="private")
    direct = masto.post(alice, "@carol direct", visibility="direct")
    unlisted = masto.post(alice, "unlisted", visibility="unlisted")
    masto.follow(carol, alice)
    likes = [
        (bob, busy),
        (carol, busy),
        (bob, unlisted),
        (carol, unlisted),
        (carol, private),
        (carol, direct),
    ]
    for who, status in likes:
        r = client.post(f"/api/v1/statuses/{status['id']}/favourite", headers=who.headers)
        assert r.status_code == 200, r.text
    assert (
        client.post(f"/api/v1/statuses/{middling['id']}/favourite", headers=carol.headers).status_code == 200
    )

    def trending(user: User | None = None, **params: object) -> list[str]:
        return [s["id"] for s in masto.get("/api/v1/trends/statuses", user, **params)]

    masto.api.eventually(lambda: trending() == [busy["id"], middling["id"]], timeout_s=3)
    assert trending(carol) == [busy["id"], middling["id"]]  # only public ones, even for their audience
    shaped = masto.get("/api/v1/trends/statuses", carol)[0]
    assert shaped["favourites_count"] == 2
    assert shaped["account"]["acct"] == "alice"
    first = client.get("/api/v1/trends/statuses", params={"limit": 1})
    assert [s["id"] for s in first.json()] == [busy["id"]]
    nxt = next_link(first)
    assert nxt is not None
    assert "offset=1" in nxt
    assert [s["id"] for s in client.get(nxt).json()] == [middling["id"]]
    assert trending(offset=5) == []
    assert client.get("/api/v1/trends/statuses", params={"offset": "x"}).status_code == 422
