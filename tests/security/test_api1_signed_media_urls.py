"""OWASP API1:2023 Broken Object Level Authorization: image URLs that carry their viewer.

Mastodon apps fetch an attachment's ``url`` and ``preview_url`` the way a browser fetches an
``<img>``: without the bearer token. So the image of a followers-only or direct status is handed
to its viewer as a signed URL (``?v=<viewer>&e=<expiry>&s=<signature>``, gateway/media_urls.py):
the signature stands in for the token, and the audience rule still runs as that viewer, so an
unfollow or a block ends access before the URL expires. A URL changed in any part (media,
rendition, viewer, expiry, signature), or expired, answers as an unauthorised request does: 404,
saying nothing of the image. Public images keep plain, shared-cacheable URLs.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api, User
from tests.security.test_api1_drafts_and_canonical_ids import png, upload
from twitterclone.gateway import media_urls


def mastodon_post(client: TestClient[Litestar], user: User, text: str, visibility: str, media_id: str) -> str:
    r = client.post(
        "/api/v1/statuses",
        json={"status": text, "visibility": visibility, "media_ids": [media_id]},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def attachment(client: TestClient[Litestar], status_id: str, viewer: User) -> dict[str, str]:
    r = client.get(f"/api/v1/statuses/{status_id}", headers=viewer.headers)
    assert r.status_code == 200, r.text
    found: dict[str, str] = r.json()["media_attachments"][0]
    return found


def app_fetch(client: TestClient[Litestar], url: str) -> int:
    """What an app's image loader does: a plain GET of the URL, no Authorization header."""
    return client.get(url).status_code


def changed(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, **params})))


def seen_by(client: TestClient[Litestar], media_id: str, user: User) -> bool:
    return client.get(f"/api/media/{media_id}", headers=user.headers).status_code == 200


def listed_in(client: TestClient[Litestar], page: str, viewer: User, status_id: str) -> dict[str, Any] | None:
    found = [st for st in client.get(page, headers=viewer.headers).json() if st["id"] == status_id]
    return found[0] if found else None


def setup_followers_only(client: TestClient[Litestar], api: Api) -> tuple[User, User, User, str, str]:
    """Alice (followed by Bob) posts a followers-only image; Dave is a stranger."""
    alice, bob, dave = api.user("alice"), api.user("bob"), api.user("dave")
    assert client.post(f"/api/v1/accounts/{alice.id}/follow", headers=bob.headers).status_code == 200
    media_id = upload(client, alice)
    status_id = mastodon_post(client, alice, "for my followers", "private", media_id)
    api.eventually(lambda: seen_by(client, media_id, bob), 3.0)
    return alice, bob, dave, media_id, status_id


def test_an_app_loads_a_followers_only_image_from_the_status_url_without_a_token(
    client: TestClient[Litestar], api: Api
) -> None:
    alice, bob, _, _, status_id = setup_followers_only(client, api)
    for viewer in (bob, alice):
        shown = attachment(client, status_id, viewer)
        for key in ("url", "preview_url"):
            url = shown[key]
            query = parse_qs(urlsplit(url).query)
            assert query["v"] == [viewer.id], url
            r = client.get(url)
            assert r.status_code == 200, (viewer.handle, key, r.text)
            assert r.headers["content-type"].startswith("image/")
            assert "private" in r.headers["cache-control"]
            assert "public" not in r.headers["cache-control"]
    # Pages written from the shared status fragments sign for their own viewer too.
    for viewer, page in ((bob, "/api/v1/timelines/home"), (alice, f"/api/v1/accounts/{alice.id}/statuses")):
        api.eventually(
            partial(lambda p, u: listed_in(client, p, u, status_id) is not None, page, viewer), 3.0
        )
        listed = listed_in(client, page, viewer, status_id)
        assert listed is not None
        url = listed["media_attachments"][0]["url"]
        assert parse_qs(urlsplit(url).query)["v"] == [viewer.id], (page, url)
        assert app_fetch(client, url) == 200
    # The same URL within the hour: clients may keep it (and their cache of it).
    assert attachment(client, status_id, bob)["url"] == attachment(client, status_id, bob)["url"]
    # The signed URL also works beside the token (some apps send it to their own server).
    assert client.get(attachment(client, status_id, bob)["url"], headers=bob.headers).status_code == 200
    # Without the signature the app's fetch is refused, as before.
    bare = urlunsplit(urlsplit(attachment(client, status_id, bob)["url"])._replace(query=""))
    assert app_fetch(client, bare) == 404


def test_a_direct_status_image_is_signed_for_its_addressee(client: TestClient[Litestar], api: Api) -> None:
    alice, carol = api.user("alice"), api.user("carol")
    media_id = upload(client, alice)
    status_id = mastodon_post(client, alice, "@carol just you", "direct", media_id)
    api.eventually(lambda: seen_by(client, media_id, carol), 3.0)
    shown = attachment(client, status_id, carol)
    assert app_fetch(client, shown["url"]) == 200
    assert app_fetch(client, shown["preview_url"]) == 200


def test_a_changed_signed_url_opens_nothing(client: TestClient[Litestar], api: Api) -> None:
    alice, bob, dave, media_id, status_id = setup_followers_only(client, api)
    other_media = upload(client, alice)
    mastodon_post(client, alice, "another for my followers", "private", other_media)
    api.eventually(lambda: seen_by(client, other_media, bob), 3.0)

    url = attachment(client, status_id, bob)["url"]
    assert app_fetch(client, url) == 200
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    signature = query["s"]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    path = urlsplit(url).path
    tampered = {
        "viewer (to the author)": changed(url, v=alice.id),
        "viewer (to a stranger)": changed(url, v=dave.id),
        "expiry": changed(url, e=str(int(query["e"]) + 3600)),
        "signature": changed(url, s=flipped),
        "signature (cut short)": changed(url, s=signature[:-2]),
        "signature (empty)": changed(url, s=""),
        "variant": url.replace(f"{path}", path.rsplit("/", 1)[0] + "/original"),
        "media (another image Bob may see)": url.replace(media_id, other_media),
    }
    for name, forged in tampered.items():
        assert forged != url, name
        r = client.get(forged)
        assert r.status_code == 404, (name, r.status_code)
        assert r.json()["type"] == "/problems/media-not-found", name
    # A stranger holding none of it: the same answer.
    assert client.get(url.split("?")[0], headers=dave.headers).status_code == 404


def test_an_expired_signed_url_opens_nothing(
    client: TestClient[Litestar], api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, bob, _, _, status_id = setup_followers_only(client, api)
    url = attachment(client, status_id, bob)["url"]
    assert app_fetch(client, url) == 200
    expiry = int(parse_qs(urlsplit(url).query)["e"][0])
    assert time.time() < expiry <= time.time() + 2 * 3600
    monkeypatch.setattr(media_urls, "now", lambda: float(expiry))
    assert app_fetch(client, url) == 404
    # A fresh page then hands out a URL valid again.
    fresh = attachment(client, status_id, bob)["url"]
    assert fresh != url
    assert app_fetch(client, fresh) == 200


def test_an_unfollow_or_a_block_ends_a_signed_urls_access(client: TestClient[Litestar], api: Api) -> None:
    alice, bob, _, media_id, status_id = setup_followers_only(client, api)
    url = attachment(client, status_id, bob)["url"]
    assert app_fetch(client, url) == 200
    assert client.post(f"/api/v1/accounts/{alice.id}/unfollow", headers=bob.headers).status_code == 200
    assert app_fetch(client, url) == 404

    assert client.post(f"/api/v1/accounts/{alice.id}/follow", headers=bob.headers).status_code == 200
    url = attachment(client, status_id, bob)["url"]
    assert app_fetch(client, url) == 200
    assert client.post(f"/api/v1/accounts/{bob.id}/block", headers=alice.headers).status_code == 200
    assert app_fetch(client, url) == 404
    assert client.get(f"/api/media/{media_id}/display", headers=bob.headers).status_code == 404


def test_a_draft_is_signed_for_its_owner_only(client: TestClient[Litestar], api: Api) -> None:
    alice = api.user("alice")
    r = client.post("/api/v2/media", files={"file": ("a.png", png(), "image/png")}, headers=alice.headers)
    assert r.status_code == 200, r.text
    shown = r.json()
    assert app_fetch(client, shown["preview_url"]) == 200
    bare = urlunsplit(urlsplit(shown["preview_url"])._replace(query=""))
    assert app_fetch(client, bare) == 404


def test_public_images_keep_plain_shared_urls(client: TestClient[Litestar], api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    media_id = upload(client, alice)
    status_id = mastodon_post(client, alice, "for everyone", "public", media_id)
    api.eventually(lambda: client.get(f"/api/media/{media_id}").status_code == 200, 3.0)
    for viewer in (bob, alice):
        shown = attachment(client, status_id, viewer)
        for key in ("url", "preview_url"):
            assert urlsplit(shown[key]).query == "", shown[key]
            r = client.get(shown[key])
            assert r.status_code == 200
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    anonymous = client.get(f"/api/v1/statuses/{status_id}")
    assert anonymous.status_code == 200
    assert urlsplit(anonymous.json()["media_attachments"][0]["url"]).query == ""
