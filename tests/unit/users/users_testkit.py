"""Helpers the users unit tests share: a service on a store, accounts, the outbox, one row."""

from __future__ import annotations

import itertools
from typing import Any

import sqlalchemy as sa

from boundaries.users.dto import Register
from modules.users.service import UsersService
from twitterclone.infra.events import decode_event
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore
from twitterclone.settings import Settings

FAST: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}
PASSWORD = "correct horse battery"

_worker = itertools.cycle(range(1, 1024))


def make_service(store: ModuleStore, **overrides: Any) -> UsersService:
    """The users service (and so every component) on ``store``, cheap argon2 unless overridden."""
    return UsersService(store, IdGenerator(next(_worker)), Settings(**{**FAST, **overrides}))


async def register(service: UsersService, handle: str, **extra: Any) -> str:
    """A new account's id (email ``<handle>@example.org``, the shared password)."""
    account = await service.accounts.register(
        Register(handle=handle, email=f"{handle.lower()}@example.org", password=PASSWORD, **extra)
    )
    return account.profile.id


async def events(store: ModuleStore) -> list[Any]:
    """Every event in the store's outbox, in order."""
    async with store.read() as conn:
        rows = (await conn.execute(sa.select(store.outbox.c.payload).order_by(store.outbox.c.seq))).scalars()
        return [decode_event(p) for p in rows]


async def one(store: ModuleStore, query: Any) -> Any:
    """The first row of a query."""
    async with store.read() as conn:
        return (await conn.execute(query)).first()
