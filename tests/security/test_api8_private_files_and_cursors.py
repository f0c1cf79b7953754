"""OWASP API8:2023 Security Misconfiguration: private data files, and tampered cursors.

Whatever the process umask, the data directory and everything the service writes into it
(SQLite files with their -wal/-shm companions, media blobs, worker-id locks, the service
identity key) are readable by the service's own user only. A cursor is opaque: one edited by
hand (a number past the 63-bit id space, a negative one, another type) is a 400 problem,
never a 500.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import FAST_ARGON2, MONOLITH, Api, migrate_all
from tests.security.test_api1_drafts_and_canonical_ids import upload
from twitterclone.gateway.app import create_app
from twitterclone.manifest import Manifest
from twitterclone.settings import Settings


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask that hides nothing: whatever stays private is private by its own mode."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_data_files_and_folders_are_private(
    tmp_path: Path, manifest: Manifest, permissive_umask: None
) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=str(data), manifest=str(MONOLITH), **FAST_ARGON2)
    asyncio.run(migrate_all(manifest, settings))
    with TestClient(create_app(settings, manifest)) as client:
        api = Api(client)
        alice = api.user("alice")
        upload(client, alice)
        assert client.post("/api/tweets", json={"text": "hi"}, headers=alice.headers).status_code == 201
        seen = _modes(data)
    names = {p.name for p in seen}
    assert {"users.db", "tweets.db", "media.db"} <= names
    assert any(n.endswith("-wal") for n in names)
    assert any(p.parent.name == "media" for p in seen)
    wrong = {
        str(p.relative_to(tmp_path)): oct(m) for p, m in seen.items() if m != (0o700 if p.is_dir() else 0o600)
    }
    assert wrong == {}


def _modes(root: Path) -> dict[Path, int]:
    found = {root: stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[path] = stat.S_IMODE(path.stat().st_mode)
    return found


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


TAMPERED = {
    "2^64-1": 2**64 - 1,
    "2^63": 2**63,
    "negative": -1,
    "text": "abc",
    "fraction": 1.5,
    "list": [1, 2],
}


@pytest.mark.parametrize("value", list(TAMPERED.values()), ids=list(TAMPERED))
def test_a_tampered_cursor_is_a_400_problem(client: TestClient[Litestar], api: Api, value: Any) -> None:
    alice = api.user("alice")
    tweet = client.post("/api/tweets", json={"text": "hello #rust"}, headers=alice.headers).json()
    urls = [
        "/api/tweets/search",
        f"/api/tweets/{tweet['id']}/replies",
        f"/api/users/{alice.id}/tweets",
        "/api/timeline/home",
        "/api/notifications",
        f"/api/users/{alice.id}/followers",
        f"/api/users/{alice.id}/following",
    ]
    for url in urls:
        for cursor in (_cursor(value), _cursor(str(value)), _cursor(["2024-01-01T00:00:00+00:00", value])):
            params = {"cursor": cursor, **({"q": "rust"} if url.endswith("search") else {})}
            r = client.get(url, params=params, headers=alice.headers)
            assert r.status_code == 400, (url, cursor, r.status_code, r.text)
            assert r.json()["type"] == "/problems/invalid-cursor"
