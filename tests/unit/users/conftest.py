"""Stores and a users service for the users unit tests (each component is reached through it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from users_testkit import make_service

from modules.users.service import UsersService
from tests.support.databases import Storage
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ModuleStore]:
    """A migrated users store in a SQLite file."""
    store = ModuleStore("users", sqlite_url(tmp_path, "users"))
    await migrate(store)
    yield store
    await store.dispose()


@pytest.fixture
async def any_store(storage: Storage) -> AsyncIterator[ModuleStore]:
    """The users store on SQLite and on PostgreSQL (the migration and every query run on both)."""
    url, schema = (await storage.migrated(("users",)))["users"]
    store = ModuleStore("users", url, schema=schema)
    yield store
    await store.dispose()


@pytest.fixture
def service(store: ModuleStore) -> UsersService:
    return make_service(store)


@pytest.fixture
def any_service(any_store: ModuleStore) -> UsersService:
    """A users service on SQLite and on PostgreSQL (every statement it runs runs on both)."""
    return make_service(any_store)
