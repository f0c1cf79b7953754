"""The confusable fold of handles, and migration 0003 that stores it for existing accounts."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st

from boundaries.users.dto import Login, Register
from boundaries.users.errors import HandleTaken, HandleTooSimilar
from modules.users.handles import CONFUSABLES, MAX_SKELETON, handle_skeleton
from modules.users.service import UsersService
from modules.users.tables import users
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import current_revision, migrate
from twitterclone.settings import Settings

MIGRATION = (
    Path(__file__).resolve().parents[3]
    / "migrations"
    / "users"
    / "versions"
    / "0003_users_handle_skeleton.py"
)
FAST: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}
PASSWORD = "correct horse battery"
handles = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=15
)


def load_migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("users_0003", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------ the fold


@pytest.mark.parametrize(
    ("look_alike", "original"),
    [
        ("a1ice", "alice"),  # digit one for l
        ("aIice", "alice"),  # capital I for l
        ("ALICE", "alice"),  # case
        ("AL1CE", "alice"),  # digit one for i
        ("b0b", "bob"),  # zero for o
        ("B0B", "bob"),
        ("rnary", "mary"),  # rn for m
        ("vvill", "will"),  # vv for w
        ("VVill", "will"),
        ("clan", "dan"),  # cl for d
        ("CL4N", "d4n"),
    ],
)
def test_look_alikes_share_a_skeleton(look_alike: str, original: str) -> None:
    assert handle_skeleton(look_alike) == handle_skeleton(original)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("alice", "alicia"),
        ("a_lice", "alice"),  # underscores are kept
        ("alice_", "alice"),
        ("sam", "5am"),  # 5/S is left out on purpose (see modules/users/handles.py)
        ("zed", "2ed"),
        ("bob", "8ob"),
        ("mary", "nary"),
    ],
)
def test_different_handles_keep_different_skeletons(one: str, other: str) -> None:
    assert handle_skeleton(one) != handle_skeleton(other)


def test_the_skeleton_of_every_class_member_is_its_prototype() -> None:
    for character, prototype in CONFUSABLES.items():
        assert handle_skeleton(character) == prototype
        assert handle_skeleton(character.upper()) == prototype


@given(handles)
def test_the_fold_is_idempotent_and_fits_its_column(handle: str) -> None:
    skeleton = handle_skeleton(handle)
    assert handle_skeleton(skeleton) == skeleton
    assert len(skeleton) <= MAX_SKELETON
    assert skeleton == handle_skeleton(handle.upper()) == handle_skeleton(handle.lower())


@given(handles)
def test_migration_0003_folds_exactly_as_the_module_does(handle: str) -> None:
    """The migration carries its own copy of the table: changing one needs a new migration."""
    migration = MIGRATION_MODULE
    assert migration.CONFUSABLES == CONFUSABLES
    assert migration.skeleton(handle) == handle_skeleton(handle)


MIGRATION_MODULE = load_migration()


def test_the_column_holds_the_longest_skeleton() -> None:
    assert users.c.handle_skeleton.type.length == MAX_SKELETON  # type: ignore[attr-defined]
    assert len(handle_skeleton("w" * 15)) == MAX_SKELETON


# ------------------------------------------------------------------------- migration 0003


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_at_0002(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ModuleStore]:
    """A users store migrated only to 0002 (before skeletons), on SQLite or in a fresh schema."""
    if request.param == "sqlite":
        store = ModuleStore("users", sqlite_url(tmp_path, "users"))
        schema = None
    else:
        schema = f"users_mig_{uuid.uuid4().hex[:10]}"
        store = ModuleStore("users", request.getfixturevalue("postgres_url"), schema=schema)
    await migrate(store, "0002_users_oauth_moderation")
    try:
        yield store
    finally:
        if schema is not None:
            async with store.engine.begin() as conn:
                await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await store.dispose()


async def test_migration_fills_skeletons_and_the_oldest_look_alike_keeps_its_own(
    store_at_0002: ModuleStore, tmp_path: Path
) -> None:
    store = store_at_0002
    # The table as revision 0002 left it (a Table, so the engine's schema translation applies).
    legacy = sa.Table(
        "users",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("handle", sa.String()),
        sa.Column("handle_lower", sa.String()),
        sa.Column("email", sa.String()),
        sa.Column("password_hash", sa.String()),
        sa.Column("display_name", sa.String()),
        sa.Column("created_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    # Registered before the rule: "alice" (oldest) and her look-alikes, and an unrelated "bob".
    rows = [(10, "alice"), (11, "a1ice"), (12, "Bob"), (13, "aIice")]
    async with store.transaction() as tx:
        await tx.conn.execute(
            legacy.insert(),
            [
                {
                    "id": i,
                    "handle": h,
                    "handle_lower": h.lower(),
                    "email": f"u{i}@example.org",
                    "password_hash": "x",
                    "display_name": h,
                    "created_at": now,
                }
                for i, h in rows
            ],
        )
    result = await migrate(store, "0003_users_handle_skeleton")
    assert (result.before, result.after) == ("0002_users_oauth_moderation", "0003_users_handle_skeleton")
    assert await current_revision(store) == "0003_users_handle_skeleton"
    await migrate(store)  # and on to head, as a deployment would
    async with store.read() as conn:
        stored = dict((await conn.execute(sa.select(users.c.id, users.c.handle_skeleton))).all())
    assert stored == {10: "allce", 11: None, 12: "bob", 13: None}

    # The rule now holds for everyone: a new look-alike of any of them is refused.
    service = UsersService(store, IdGenerator(7), Settings(data_dir=str(tmp_path), **FAST))
    for handle, error in (("ALICE", HandleTaken), ("al1ce", HandleTooSimilar), ("B0B", HandleTooSimilar)):
        with pytest.raises(error):
            await service.register(Register(handle=handle, email=f"{handle}@example.net", password=PASSWORD))
    account = await service.register(Register(handle="carol", email="carol@example.net", password=PASSWORD))
    async with store.read() as conn:
        skeleton = (
            await conn.execute(
                sa.select(users.c.handle_skeleton).where(users.c.id == int(account.profile.id))
            )
        ).scalar_one()
    assert skeleton == "carol"
    # The grandfathered look-alike keeps its account and logs in as before.
    hashed = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    async with store.transaction() as tx:
        await tx.conn.execute(sa.update(users).where(users.c.id == 11).values(password_hash=hashed))
    assert (await service.authenticate(Login(login="a1ice", password=PASSWORD))).user_id == "11"
