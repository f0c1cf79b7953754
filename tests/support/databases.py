"""Real PostgreSQL and Redis for tests: each test run makes, and removes, only its own.

``postgres_database()`` creates a fresh database ``tc_test_<hex>`` on the server named by
``TWITTERCLONE_TEST_POSTGRES_URL`` (default: the local server), yields its asyncpg SQLAlchemy
URL, and drops it (``WITH (FORCE)``) at the end. Creating a database costs about a second, so
the suites share one per session (``postgres_url``) and give every test its own schemas in it
(``storage``, from a pool of migrated schemas emptied between tests), which is as isolated as the
module stores need: each module already lives in a schema of its own.

``redis_prefix`` gives a test its own key prefix and deletes exactly the keys under it.
In CI the servers' absence is a failure, not a skip.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import URL, make_url

from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate

T = TypeVar("T")

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

#: The storage kinds every module must work on.
STORAGES = ("sqlite", "postgresql")


def admin_url() -> URL:
    """The server's maintenance database, where test databases are created from."""
    return make_url(os.environ.get("TWITTERCLONE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))


def redis_url() -> str:
    return os.environ.get("TWITTERCLONE_TEST_REDIS_URL", DEFAULT_REDIS_URL)


async def _connect(url: URL) -> asyncpg.Connection:
    """A plain asyncpg connection to the database an SQLAlchemy URL names (TCP or socket ``?host=``)."""
    return await asyncpg.connect(
        host=url.host or url.query.get("host"),
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )


async def _admin_connect() -> asyncpg.Connection:
    return await _connect(admin_url())


async def create_database() -> str:
    """Create a fresh, empty database ``tc_test_<hex>``; return its SQLAlchemy URL."""
    name = f"tc_test_{uuid.uuid4().hex}"
    conn = await _admin_connect()
    try:
        for attempt in range(5):
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
                break
            except asyncpg.ObjectInUseError:  # someone is connected to template1 right now
                if attempt == 4:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
    finally:
        await conn.close()
    return admin_url().set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    """Drop a database made by ``create_database`` (connections to it are terminated)."""
    name = make_url(url).database
    assert name is not None
    assert name.startswith("tc_test_"), name  # only ever our own
    conn = await _admin_connect()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, empty database for the duration of the block; yields its SQLAlchemy URL."""
    url = await create_database()
    try:
        yield url
    finally:
        await drop_database(url)


def _run_apart(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a loop of its own (callers may be inside a running loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One database for the whole test session (created at first use, dropped at the end)."""
    url = _run_apart(create_database())
    try:
        yield url
    finally:
        _run_apart(drop_database(url))


class SchemaPool:
    """Migrated module schemas in the session's database, handed to one test at a time.

    Migrating a module on PostgreSQL costs up to a second; emptying its tables costs a few
    milliseconds. So a schema a test is done with is kept, and the next test that needs that
    module gets it back with every table truncated (identities restarted); only when none is
    idle is a new one created and migrated.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._idle: dict[str, list[str]] = {}

    async def acquire(self, modules: tuple[str, ...]) -> dict[str, str]:
        """A clean, migrated schema per module (module -> schema name)."""
        taken: dict[str, str] = {}
        for m in modules:
            if self._idle.get(m):
                taken[m] = self._idle[m].pop()
        if taken:
            try:
                await self._truncate(list(taken.values()))
            except (asyncpg.PostgresError, OSError):
                taken = {}  # e.g. a lock left by a test that failed: use fresh schemas instead
        for m in modules:
            if m not in taken:
                taken[m] = f"{m}_{uuid.uuid4().hex[:10]}"
                store = ModuleStore(m, self.url, schema=taken[m])
                try:
                    await migrate(store)
                finally:
                    await store.dispose()
        return taken

    def release(self, schemas: dict[str, str]) -> None:
        for m, schema in schemas.items():
            self._idle.setdefault(m, []).append(schema)

    async def _truncate(self, schemas: list[str]) -> None:
        conn = await _connect(make_url(self.url))
        try:
            await conn.execute("SET lock_timeout = '5s'")
            rows = await conn.fetch(
                "SELECT schemaname, tablename FROM pg_tables "
                "WHERE schemaname = ANY($1::text[]) AND tablename NOT LIKE 'alembic_version%'",
                schemas,
            )
            if rows:
                tables = ", ".join(f'"{r["schemaname"]}"."{r["tablename"]}"' for r in rows)
                await conn.execute(f"TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def schema_pool(postgres_url: str) -> SchemaPool:
    return SchemaPool(postgres_url)


@dataclass
class Storage:
    """Where a test's module stores live: SQLite files under ``data_dir``, or PostgreSQL schemas.

    On PostgreSQL every module gets a schema of its own for this test (``<module>_<hex>``, from
    the session's pool, emptied), so tests never see each other's rows.
    """

    kind: str
    data_dir: Path
    pool: SchemaPool | None = None
    _taken: list[dict[str, str]] = field(default_factory=list)

    @property
    def is_postgres(self) -> bool:
        return self.pool is not None

    async def migrated(self, modules: tuple[str, ...] | list[str]) -> dict[str, tuple[str, str | None]]:
        """(SQLAlchemy URL, schema) of each module's store, migrated to head and empty."""
        if self.pool is None:
            locations: dict[str, tuple[str, str | None]] = {
                m: (sqlite_url(self.data_dir, m), None) for m in modules
            }
            for m, (url, _) in locations.items():
                store = ModuleStore(m, url)
                try:
                    await migrate(store)
                finally:
                    await store.dispose()
            return locations
        schemas = await self.pool.acquire(tuple(modules))
        self._taken.append(schemas)
        return {m: (self.pool.url, schema) for m, schema in schemas.items()}

    def release(self) -> None:
        if self.pool is not None:
            for schemas in self._taken:
                self.pool.release(schemas)
        self._taken.clear()


@pytest.fixture(params=STORAGES)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """Module stores on SQLite files or on PostgreSQL schemas (both, via parametrisation)."""
    pool: SchemaPool | None = (
        request.getfixturevalue("schema_pool") if request.param == "postgresql" else None
    )
    s = Storage(request.param, tmp_path / "data", pool)
    yield s
    s.release()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[Redis, str]]:
    """A Redis client and a key prefix only this test uses; its keys are deleted afterwards."""
    client = Redis.from_url(redis_url())
    prefix = f"tc:test:{uuid.uuid4().hex[:12]}:"
    try:
        yield client, prefix
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
