"""Statuses through the Mastodon routes: posting in three encodings, shapes, reblogs, favourites."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import User
from tests.mastodon_api.conftest import Masto


@pytest.fixture
def alice(masto: Masto) -> User:
    return masto.user("alice")


@pytest.fixture
def bob(masto: Masto) -> User:
    return masto.user("bob")


def test_a_status_posted_as_json_has_mastodons_shape(masto: Masto, alice: User, bob: User) -> None:
    status = masto.post(alice, "hello @bob, see #Python at https://example.org/a?b=1&c=<2>")
    assert status["id"].isdigit()
    assert status["account"]["acct"] == "alice"  # a local account's acct is the bare username
    assert status["account"]["username"] == "alice"
    for key in ("mentions", "tags", "emojis", "media_attachments"):
        assert isinstance(status[key], list)
    assert status["mentions"] == [
        {"id": bob.id, "username": "bob", "acct": "bob", "url": status["mentions"][0]["url"]}
    ]
    assert [t["name"] for t in status["tags"]] == ["python"]
    content = status["content"]
    assert content.startswith("<p>")
    assert content.endswith("</p>")
    assert 'class="u-url mention"' in content
    assert "@<span>bob</span>" in content
    assert 'class="mention hashtag" rel="tag">#<span>Python</span>' in content
    assert 'href="https://example.org/a?b=1&amp;c="' in content  # the URL ends at '<'
    assert "&lt;2&gt;" in content  # the rest is escaped text
    assert "scheduled_at" not in status  # absent, not null
    assert status["reblog"] is None
    assert status["in_reply_to_id"] is None
    assert status["visibility"] == "public"
    assert (status["favourited"], status["reblogged"], status["bookmarked"]) == (False, False, False)


def test_html_in_a_status_is_escaped(masto: Masto, alice: User) -> None:
    status = masto.post(alice, '<script>alert("x")</script>\n\nsecond <b>para</b>')
    assert "<script>" not in status["content"]
    assert status["content"] == (
        '<p>&lt;script&gt;alert("x")&lt;/script&gt;</p><p>second &lt;b&gt;para&lt;/b&gt;</p>'
    )


def test_form_and_multipart_bodies_post_too(client: TestClient[Litestar], alice: User) -> None:
    form = client.post(
        "/api/v1/statuses", data={"status": "from a form", "sensitive": "false"}, headers=alice.headers
    )
    assert form.status_code == 200, form.text
    assert form.headers["content-type"] == "application/json"
    reply = client.post(
        "/api/v1/statuses",
        files={"status": (None, b"from multipart"), "in_reply_to_id": (None, form.json()["id"].encode())},
        headers=alice.headers,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["in_reply_to_id"] == form.json()["id"]
    assert reply.json()["in_reply_to_account_id"] == alice.id


def test_bad_status_input_answers_422_with_an_error(client: TestClient[Litestar], alice: User) -> None:
    for body in (
        {"status": ""},
        {"status": "x" * 281},
        {"status": "hi", "media_ids": ["nope"]},
        {"status": 5},
    ):
        r = client.post("/api/v1/statuses", json=body, headers=alice.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/json"
        assert isinstance(r.json()["error"], str)
    broken = client.post(
        "/api/v1/statuses",
        content=b"{not json",
        headers={**alice.headers, "content-type": "application/json"},
    )
    assert broken.status_code == 422
    assert "error" in broken.json()
    for body in ({"status": "hi", "visibility": "secret"}, {"status": "hi", "language": "english"}):
        r = client.post("/api/v1/statuses", json=body, headers=alice.headers)
        assert r.status_code == 422, (body, r.text)


def test_an_idempotency_key_answers_the_first_status(client: TestClient[Litestar], alice: User) -> None:
    headers = {**alice.headers, "Idempotency-Key": "k-1"}
    first = client.post("/api/v1/statuses", json={"status": "once"}, headers=headers)
    again = client.post("/api/v1/statuses", json={"status": "once"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]


def test_get_delete_and_context(client: TestClient[Litestar], masto: Masto, alice: User, bob: User) -> None:
    root = masto.post(alice, "root")
    reply = masto.post(bob, "@alice a reply", in_reply_to_id=root["id"])
    deeper = masto.post(alice, "@bob deeper", in_reply_to_id=reply["id"])
    context = masto.get(f"/api/v1/statuses/{reply['id']}/context", alice)
    assert [s["id"] for s in context["ancestors"]] == [root["id"]]
    assert [s["id"] for s in context["descendants"]] == [deeper["id"]]
    assert masto.get(f"/api/v1/statuses/{root['id']}")["replies_count"] == 1

    forbidden = client.delete(f"/api/v1/statuses/{root['id']}", headers=bob.headers)
    assert forbidden.status_code == 403
    assert "error" in forbidden.json()
    deleted = client.delete(f"/api/v1/statuses/{deeper['id']}", headers=alice.headers)
    assert deleted.status_code == 200
    assert deleted.json()["text"] == "@bob deeper"
    gone = client.get(f"/api/v1/statuses/{deeper['id']}")
    assert gone.status_code == 404
    assert gone.json() == {"error": "Record not found"}
    assert client.get("/api/v1/statuses/not-an-id").status_code == 422


def test_favourite_and_reblog(client: TestClient[Litestar], masto: Masto, alice: User, bob: User) -> None:
    status = masto.post(alice, "boost me")
    fav = client.post(f"/api/v1/statuses/{status['id']}/favourite", headers=bob.headers)
    assert fav.status_code == 200
    assert (fav.json()["favourited"], fav.json()["favourites_count"]) == (True, 1)
    unfav = client.post(f"/api/v1/statuses/{status['id']}/unfavourite", headers=bob.headers)
    assert (unfav.json()["favourited"], unfav.json()["favourites_count"]) == (False, 0)

    reblog = client.post(f"/api/v1/statuses/{status['id']}/reblog", headers=bob.headers)
    assert reblog.status_code == 200, reblog.text
    wrapper = reblog.json()
    assert wrapper["id"] != status["id"]
    assert wrapper["account"]["id"] == bob.id
    assert wrapper["reblog"]["id"] == status["id"]  # the wrapper's reblog is the original
    assert wrapper["reblog"]["account"]["id"] == alice.id
    assert wrapper["reblog"]["reblogged"] is True
    assert wrapper["reblogged"] is True
    assert wrapper["content"] == ""

    undo = client.post(f"/api/v1/statuses/{status['id']}/unreblog", headers=bob.headers)
    assert undo.status_code == 200
    assert undo.json()["id"] == status["id"]
    assert undo.json()["reblogged"] is False
    missing = client.post("/api/v1/statuses/4242/favourite", headers=bob.headers)
    assert missing.status_code == 404
    assert "error" in missing.json()


def test_writes_need_a_token_and_the_scope(client: TestClient[Litestar]) -> None:
    r = client.post("/api/v1/statuses", json={"status": "anon"})
    assert r.status_code == 401
    assert r.json().keys() == {"error"}
    assert r.headers["content-type"] == "application/json"


def test_visibility_warning_and_language_round_trip(
    client: TestClient[Litestar], masto: Masto, alice: User, bob: User
) -> None:
    status = masto.post(alice, "spoilers ahead", visibility="unlisted", spoiler_text="film", language="en-GB")
    assert (status["visibility"], status["spoiler_text"], status["sensitive"], status["language"]) == (
        "unlisted",
        "film",
        True,
        "en",
    )
    private = client.post(
        "/api/v1/statuses", data={"status": "followers only", "visibility": "private"}, headers=alice.headers
    )
    assert private.json()["visibility"] == "private"
    # bob does not follow alice: her followers-only status is not found for him
    assert client.get(f"/api/v1/statuses/{private.json()['id']}", headers=bob.headers).status_code == 404
    # and it cannot be reblogged by anyone
    assert (
        client.post(f"/api/v1/statuses/{private.json()['id']}/reblog", headers=alice.headers).status_code
        == 403
    )


def test_bookmarks_pins_and_who_favourited(
    client: TestClient[Litestar], masto: Masto, alice: User, bob: User
) -> None:
    first = masto.post(alice, "first")
    second = masto.post(alice, "second")
    for status in (first, second):
        marked = client.post(f"/api/v1/statuses/{status['id']}/bookmark", headers=bob.headers)
        assert marked.status_code == 200
        assert marked.json()["bookmarked"] is True
        assert (
            client.post(f"/api/v1/statuses/{status['id']}/favourite", headers=bob.headers).status_code == 200
        )
    page = client.get("/api/v1/bookmarks", params={"limit": 1}, headers=bob.headers)
    assert [s["id"] for s in page.json()] == [second["id"]]  # newest bookmark first
    nxt = page.headers["link"].split(";")[0].strip("<>")
    assert 'rel="next"' in page.headers["link"]
    assert [s["id"] for s in client.get(nxt, headers=bob.headers).json()] == [first["id"]]
    favs = masto.get("/api/v1/favourites", bob)
    assert [s["id"] for s in favs] == [second["id"], first["id"]]
    unmarked = client.post(f"/api/v1/statuses/{first['id']}/unbookmark", headers=bob.headers)
    assert unmarked.json()["bookmarked"] is False

    by = masto.get(f"/api/v1/statuses/{first['id']}/favourited_by")
    assert [a["id"] for a in by] == [bob.id]
    client.post(f"/api/v1/statuses/{first['id']}/reblog", headers=bob.headers)
    assert [a["acct"] for a in masto.get(f"/api/v1/statuses/{first['id']}/reblogged_by")] == ["bob"]

    pinned = client.post(f"/api/v1/statuses/{first['id']}/pin", headers=alice.headers)
    assert pinned.status_code == 200
    assert pinned.json()["pinned"] is True
    assert client.post(f"/api/v1/statuses/{first['id']}/pin", headers=bob.headers).status_code == 422
    pins = masto.get(f"/api/v1/accounts/{alice.id}/statuses", pinned="true")
    assert [s["id"] for s in pins] == [first["id"]]
