"""Fixtures for the tweets service: a migrated store (SQLite file, and PostgreSQL) and a fake users port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa

from boundaries._kernel.events import Event
from boundaries.media.port import MediaPort
from boundaries.users.dto import Author, Standing
from boundaries.users.port import UsersPort
from modules.tweets.service import TweetsService
from tests.support.databases import SchemaPool
from twitterclone.infra.events import decode_event
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore
from twitterclone.migrate import migrate


class FakeUsers:
    """The users-port calls the tweets module makes, counted."""

    def __init__(self) -> None:
        self.accounts: dict[str, Author] = {}
        self.authors_calls: list[list[str]] = []
        self.handle_calls: list[list[str]] = []
        #: (viewer, user) -> how the viewer stands to the user; none by default.
        self.standing: dict[tuple[str, str], Standing] = {}
        self.standings_calls: list[tuple[str, list[str]]] = []

    def add(self, user_id: str, handle: str) -> str:
        self.accounts[user_id] = Author(id=user_id, handle=handle, display_name=handle.title())
        return user_id

    async def authors(self, user_ids: list[str]) -> list[Author]:
        self.authors_calls.append(list(user_ids))
        return [self.accounts[i] for i in user_ids if i in self.accounts]

    async def ids_by_handles(self, handles: list[str]) -> dict[str, str]:
        self.handle_calls.append(list(handles))
        by_handle = {a.handle.lower(): a.id for a in self.accounts.values()}
        return {h: by_handle[h.lower()] for h in handles if h.lower() in by_handle}

    async def standings(self, viewer_id: str, user_ids: list[str]) -> list[Standing]:
        self.standings_calls.append((viewer_id, list(user_ids)))
        return [self.standing[viewer_id, u] for u in user_ids if (viewer_id, u) in self.standing]


class FakeMedia:
    """A media port that knows some media ids of some owners."""

    def __init__(self, owned: dict[str, str]) -> None:
        self.owned = owned  # media id -> owner id
        self.checks: list[tuple[str, list[str]]] = []

    async def check_attachable(self, owner_id: str, media_ids: list[str]) -> None:
        from boundaries.media.errors import MediaNotFound

        self.checks.append((owner_id, list(media_ids)))
        for media_id in media_ids:
            if self.owned.get(media_id) != owner_id:
                raise MediaNotFound(f"no media {media_id}")


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ModuleStore]:
    if request.param == "sqlite":
        s = ModuleStore("tweets", f"sqlite+aiosqlite:///{tmp_path / 'tweets.db'}")
        await migrate(s)
        yield s
        await s.dispose()
        return
    # A migrated schema of this test's own in the session's database (tests/support/databases.py).
    pool: SchemaPool = request.getfixturevalue("schema_pool")
    schemas = await pool.acquire(("tweets",))
    s = ModuleStore("tweets", pool.url, schema=schemas["tweets"])
    try:
        yield s
    finally:
        await s.dispose()
        pool.release(schemas)


@pytest.fixture
def users() -> FakeUsers:
    fake = FakeUsers()
    fake.add("1001", "alice")
    fake.add("1002", "bob")
    fake.add("1003", "carol")
    return fake


@pytest.fixture
def service(store: ModuleStore, users: FakeUsers) -> TweetsService:
    return TweetsService(store, IdGenerator(worker_id=7), cast(UsersPort, users), max_length=280)


@pytest.fixture
def media() -> FakeMedia:
    return FakeMedia({"5001": "1001", "5002": "1001", "5003": "1002"})


@pytest.fixture
def service_with_media(store: ModuleStore, users: FakeUsers, media: FakeMedia) -> TweetsService:
    return TweetsService(
        store, IdGenerator(worker_id=8), cast(UsersPort, users), max_length=280, media=cast(MediaPort, media)
    )


@pytest.fixture
def outbox(store: ModuleStore) -> Callable[[type[Event] | None], Awaitable[list[Any]]]:
    """Read the events written to the tweets outbox (of one type, or all), in order."""

    async def read(kind: type[Event] | None = None) -> list[Any]:
        async with store.read() as conn:
            rows = (
                await conn.execute(sa.select(store.outbox.c.payload).order_by(store.outbox.c.seq))
            ).scalars()
            events = [decode_event(bytes(p)) for p in rows]
        return [e for e in events if kind is None or isinstance(e, kind)]

    return read
