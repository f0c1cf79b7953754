"""Shared fixtures: a monolith on fresh SQLite files per test, and a small API helper."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

# Shared fixtures: real PostgreSQL databases/schemas and Redis key prefixes of this run.
from tests.support.databases import postgres_url, redis_prefix, schema_pool, storage  # noqa: F401
from twitterclone.composition import MODULES, store_locations
from twitterclone.gateway.app import create_app
from twitterclone.infra.store import ModuleStore
from twitterclone.manifest import Manifest, load_manifest
from twitterclone.migrate import migrate
from twitterclone.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
MONOLITH = ROOT / "deployments" / "monolith.toml"

#: Cheap argon2 parameters keep tests fast; production defaults live in Settings.
FAST_ARGON2: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), manifest=str(MONOLITH), **FAST_ARGON2)


@pytest.fixture
def manifest() -> Manifest:
    return load_manifest(MONOLITH)


async def migrate_all(manifest: Manifest, settings: Settings) -> None:
    """Bring every local module's store to head, as `twitterclone migrate` does."""
    locations = store_locations(manifest, settings)
    for name in manifest.local_modules:
        if name in MODULES:
            url, schema = locations[name]
            store = ModuleStore(name, url, schema=schema)
            try:
                await migrate(store)
            finally:
                await store.dispose()


@pytest.fixture
def app(settings: Settings, manifest: Manifest) -> Litestar:
    asyncio.run(migrate_all(manifest, settings))
    return create_app(settings, manifest)


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app) as c:
        yield c


class Api:
    """Small helpers over the HTTP API for tests that need users and tokens."""

    def __init__(self, client: TestClient[Litestar]) -> None:
        self.client = client

    def register(self, handle: str, password: str = "correct horse battery") -> dict[str, Any]:
        r = self.client.post(
            "/api/auth/register",
            json={"handle": handle, "email": f"{handle.lower()}@example.org", "password": password},
        )
        assert r.status_code == 201, r.text
        return r.json()

    def login(self, login: str, password: str = "correct horse battery") -> dict[str, Any]:
        r = self.client.post("/api/auth/login", json={"login": login, "password": password})
        assert r.status_code == 200, r.text
        return r.json()

    def user(self, handle: str) -> User:
        """Register and log in; return the user's id and auth headers."""
        account = self.register(handle)
        tokens = self.login(handle)
        return User(
            id=account["profile"]["id"],
            handle=handle,
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            tokens=tokens,
        )

    def eventually(self, check: Callable[[], bool], timeout_s: float = 1.0) -> None:
        """Poll ``check`` until true; fail after ``timeout_s`` (events are asynchronous)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if check():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout_s}s")
            time.sleep(0.02)


class User:
    def __init__(self, id: str, handle: str, headers: dict[str, str], tokens: dict[str, Any]) -> None:
        self.id = id
        self.handle = handle
        self.headers = headers
        self.tokens = tokens


@pytest.fixture
def api(client: TestClient[Litestar]) -> Api:
    return Api(client)


__all__ = ["Api", "User", "httpx"]
