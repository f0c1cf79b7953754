"""The media routes through HTTP, on the monolith with the real users and tweets modules."""

from __future__ import annotations

import io
import sqlite3
import struct
import zlib
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from tests.conftest import FAST_ARGON2, MONOLITH, Api, User
from twitterclone.settings import Settings

GPS_IFD = 0x8825


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The shared settings, with per-test overrides through indirect parametrisation."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    return Settings(data_dir=str(tmp_path / "data"), manifest=str(MONOLITH), **FAST_ARGON2, **overrides)


@pytest.fixture
def alice(api: Api) -> User:
    return api.user("alice")


# -- samples -------------------------------------------------------------------------------


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SnoopCam"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (52.0, 31.0, 12.5)
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (200, 30, 30)).save(out, "JPEG", exif=exif.tobytes())
    assert b"Exif" in out.getvalue()
    return out.getvalue()


def encoded(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 10)).save(out, fmt)
    return out.getvalue()


def noisy_png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 90).save(out, "PNG")
    return out.getvalue()


def truncated_jpeg() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((400, 300), 80).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()[: len(out.getvalue()) // 2]


def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A few hundred bytes that declare ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * 2, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# -- helpers -------------------------------------------------------------------------------


def post_file(
    client: TestClient[Litestar],
    user: User | None,
    data: bytes,
    name: str = "photo.jpg",
    ctype: str = "image/jpeg",
) -> Any:
    headers = user.headers if user else {}
    return client.post("/api/media", files={"file": (name, data, ctype)}, headers=headers)


def upload(client: TestClient[Litestar], user: User, data: bytes, name: str = "photo.jpg") -> dict[str, Any]:
    r = post_file(client, user, data, name)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def leftovers(settings: Settings) -> tuple[set[str], int]:
    """Files in the media directory, and media rows in the module's database."""
    root = settings.data_path / "media"
    files = {p.name for p in root.iterdir()} if root.exists() else set()
    with closing(sqlite3.connect(settings.data_path / "media.db")) as db:
        rows = int(db.execute("SELECT count(*) FROM media").fetchone()[0])
    return files, rows


def problem(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == f"/problems/{code}"


# -- uploads -------------------------------------------------------------------------------


def test_served_original_of_a_jpeg_with_gps_has_no_exif(client: TestClient[Litestar], alice: User) -> None:
    media = upload(client, alice, jpeg_with_gps())
    assert media["owner_id"] == alice.id
    assert media["content_type"] == "image/jpeg"
    assert [v["name"] for v in media["variants"]] == ["original", "display", "thumb"]
    r = client.get(f"/api/media/{media['id']}/original", headers=alice.headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert b"Exif" not in r.content
    img = Image.open(io.BytesIO(r.content))
    assert dict(img.getexif()) == {}
    assert dict(img.getexif().get_ifd(GPS_IFD)) == {}
    assert img.size == (80, 60)


@pytest.mark.parametrize(
    ("fmt", "content_type"), [("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp")]
)
def test_png_gif_and_webp_are_accepted(
    client: TestClient[Litestar], alice: User, fmt: str, content_type: str
) -> None:
    media = upload(client, alice, encoded(fmt), name="named-wrong.jpg")
    assert media["content_type"] == content_type
    r = client.get(f"/api/media/{media['id']}/thumb", headers=alice.headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == content_type
    assert Image.open(io.BytesIO(r.content)).format == fmt


def test_uploads_above_the_app_wide_body_limit_are_accepted(
    client: TestClient[Litestar], alice: User, settings: Settings
) -> None:
    data = noisy_png((1100, 1100))  # about 1.2 MB: above max_body_bytes, below media_max_bytes
    assert settings.max_body_bytes < len(data) < settings.media_max_bytes
    media = upload(client, alice, data, name="big.png")
    assert (media["width"], media["height"]) == (1100, 1100)


@pytest.mark.parametrize(
    ("data", "name", "status", "code"),
    [
        (b"hello, I am text\n" * 20, "x.png", 422, "unsupported-media-type"),
        (truncated_jpeg(), "cut.jpg", 422, "corrupt-image"),
        (bomb_png(), "bomb.png", 413, "media-too-large"),
        (bomb_png(7000, 7000), "big.png", 413, "media-too-large"),
    ],
    ids=["text-named-png", "truncated-jpeg", "decompression-bomb", "too-many-pixels"],
)
def test_rejected_uploads_answer_a_problem_and_leave_nothing_behind(
    client: TestClient[Litestar],
    alice: User,
    settings: Settings,
    data: bytes,
    name: str,
    status: int,
    code: str,
) -> None:
    upload(client, alice, encoded("PNG"))
    before = leftovers(settings)
    problem(post_file(client, alice, data, name, "image/png"), status, code)
    assert leftovers(settings) == before


@pytest.mark.parametrize("settings", [{"media_max_bytes": 2000}], indirect=True)
def test_a_file_above_media_max_bytes_is_413(
    client: TestClient[Litestar], alice: User, settings: Settings
) -> None:
    data = noisy_png((60, 60))
    assert len(data) > 2000
    before = leftovers(settings)
    problem(post_file(client, alice, data, "a.png"), 413, "media-too-large")
    assert leftovers(settings) == before
    upload(client, alice, encoded("PNG", (10, 10)))  # small ones still pass


def test_a_body_far_above_the_limit_is_refused_before_reading_it(
    client: TestClient[Litestar], alice: User, settings: Settings
) -> None:
    problem(post_file(client, alice, b"\0" * (settings.media_max_bytes + 200_000)), 413, "media-too-large")


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(
    client: TestClient[Litestar], alice: User, settings: Settings
) -> None:
    def body() -> Iterator[bytes]:
        yield b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        for _ in range(settings.media_max_bytes // 100_000 + 5):
            yield b"\0" * 100_000

    r = client.post(
        "/api/media",
        content=body(),
        headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=xyz"},
    )
    problem(r, 413, "media-too-large")


def test_upload_needs_a_token_and_a_file_field(client: TestClient[Litestar], alice: User) -> None:
    problem(post_file(client, None, encoded("PNG")), 401, "invalid-token")
    r = client.post(
        "/api/media", files={"picture": ("a.png", encoded("PNG"), "image/png")}, headers=alice.headers
    )
    assert r.status_code == 400


# -- reads ---------------------------------------------------------------------------------


def test_metadata_by_id(client: TestClient[Litestar], alice: User) -> None:
    media = upload(client, alice, encoded("PNG", (400, 100)))
    r = client.get(f"/api/media/{media['id']}", headers=alice.headers)
    assert r.status_code == 200
    assert r.json() == media
    assert {v["name"]: (v["width"], v["height"]) for v in media["variants"]}["thumb"] == (150, 38)
    problem(client.get("/api/media/123456789"), 404, "media-not-found")
    problem(client.get("/api/media/123456789/thumb"), 404, "media-not-found")
    problem(client.get("/api/media/abc"), 400, "invalid-request")
    problem(client.get(f"/api/media/{media['id']}/huge"), 400, "invalid-request")


def test_renditions_are_immutable_and_answer_304_to_a_matching_etag(
    client: TestClient[Litestar], api: Api, alice: User
) -> None:
    media = upload(client, alice, encoded("PNG"))
    url = f"/api/media/{media['id']}/display"
    draft = client.get(url, headers=alice.headers)
    assert draft.headers["cache-control"] == "private, no-cache"  # a draft is its owner's
    revalidated = client.get(url, headers={**alice.headers, "If-None-Match": draft.headers["etag"]})
    assert revalidated.status_code == 304
    r = client.post("/api/tweets", json={"text": "look", "media_ids": [media["id"]]}, headers=alice.headers)
    assert r.status_code == 201, r.text
    api.eventually(lambda: client.get(url).status_code == 200, 3.0)
    first = client.get(url)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag == next(v["etag"] for v in media["variants"] if v["name"] == "display")
    assert etag.startswith('"')
    assert len(etag) == 66
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"

    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(url, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    changed = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200
    assert changed.content == first.content


# -- with tweets ---------------------------------------------------------------------------


def test_posting_attaches_and_deleting_the_tweet_removes_the_media(
    client: TestClient[Litestar], api: Api, alice: User, settings: Settings
) -> None:
    media = upload(client, alice, encoded("JPEG"))
    r = client.post("/api/tweets", json={"text": "look", "media_ids": [media["id"]]}, headers=alice.headers)
    assert r.status_code == 201, r.text
    tweet_id = r.json()["id"]
    api.eventually(lambda: client.get(f"/api/media/{media['id']}").json().get("attached_to") == tweet_id, 3.0)
    again = client.post(
        "/api/tweets", json={"text": "again", "media_ids": [media["id"]]}, headers=alice.headers
    )
    assert again.status_code == 422

    assert client.delete(f"/api/tweets/{tweet_id}", headers=alice.headers).status_code in (200, 204)
    api.eventually(lambda: client.get(f"/api/media/{media['id']}").status_code == 404, 3.0)
    assert client.get(f"/api/media/{media['id']}/original").status_code == 404
    # Hidden first (marked for deletion), then the files, then the rows: all gone shortly after.
    api.eventually(lambda: leftovers(settings) == (set(), 0), 3.0)
