"""Instance v1/v2, custom emojis, preferences and the error shape, through HTTP."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import FAST_ARGON2, MONOLITH, migrate_all
from tests.mastodon_api.conftest import Masto
from twitterclone.gateway.app import create_app
from twitterclone.manifest import load_manifest
from twitterclone.settings import Settings


def test_instance_v2_reads_as_mastodon_4_3_with_our_limits(
    client: TestClient[Litestar], settings: Settings
) -> None:
    r = client.get("/api/v2/instance")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert re.match(r"^4\.3\.\d+ \(compatible; twitterclone [0-9.]+\)$", body["version"])
    assert body["api_versions"] == {"mastodon": 2}
    config = body["configuration"]
    assert config["statuses"]["max_characters"] == settings.tweet_max_length
    assert config["statuses"]["max_media_attachments"] == 4
    assert config["media_attachments"]["image_size_limit"] == settings.media_max_bytes
    assert "image/png" in config["media_attachments"]["supported_mime_types"]
    assert config["urls"]["streaming"].startswith(("ws://", "wss://"))


def test_instance_v1_also_answers_with_a_trailing_slash(client: TestClient[Litestar]) -> None:
    for path in ("/api/v1/instance", "/api/v1/instance/", "/api/v2/instance/"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == "application/json"
    v1 = client.get("/api/v1/instance/").json()
    assert v1["version"].startswith("4.3.")
    assert v1["urls"]["streaming_api"].startswith("ws")
    assert isinstance(v1["rules"], list)


def test_custom_emojis_are_an_empty_list(client: TestClient[Litestar]) -> None:
    r = client.get("/api/v1/custom_emojis")
    assert (r.status_code, r.json()) == (200, [])


def test_preferences_need_a_token_and_answer_mastodon_keys(
    masto: Masto, client: TestClient[Litestar]
) -> None:
    r = client.get("/api/v1/preferences")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"error"}
    alice = masto.user("alice")
    prefs = masto.get("/api/v1/preferences", alice)
    assert prefs["posting:default:visibility"] == "public"


def test_unknown_mastodon_routes_answer_mastodon_errors(client: TestClient[Litestar]) -> None:
    r = client.get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "Record not found"}
    bad = client.get("/api/v1/preferences", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    assert "error" in bad.json()
    # The native API keeps its problems.
    native = client.get("/api/no-such-thing")
    assert native.headers["content-type"].startswith("application/problem+json")


def test_rate_limited_mastodon_requests_answer_429_with_an_error(tmp_path: Path) -> None:
    limited = Settings(
        data_dir=str(tmp_path / "data"), manifest=str(MONOLITH), rate_address="2/60", **FAST_ARGON2
    )
    asyncio.run(migrate_all(load_manifest(MONOLITH), limited))
    with TestClient(create_app(limited, load_manifest(MONOLITH))) as client:
        answers = [client.get("/api/v1/instance") for _ in range(3)]
        refused = answers[-1]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert refused.headers["content-type"] == "application/json"
        assert refused.json() == {"error": "Too many requests"}
        assert int(refused.headers["retry-after"]) >= 1
        native = client.get("/api/users/search", params={"q": "a"})
        assert native.status_code == 429
        assert native.headers["content-type"].startswith("application/problem+json")
