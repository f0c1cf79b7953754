"""The bulk import emits what register and follow emit, in the transaction that writes the rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from boundaries._kernel.errors import InvalidInput
from boundaries.users.dto import AccountImport, ImportedAccount, ImportedFollow
from boundaries.users.errors import CannotFollowSelf
from boundaries.users.events import UserFollowed, UserRegistered
from modules.users import importer
from modules.users.service import UsersService
from twitterclone.infra.events import decode_event
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate
from twitterclone.settings import Settings


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[UsersService, ModuleStore]]:
    store = ModuleStore("users", sqlite_url(tmp_path, "users"))
    await migrate(store)
    yield UsersService(store, IdGenerator(7), Settings(data_dir=str(tmp_path))), store
    await store.dispose()


async def outbox(store: ModuleStore) -> list[Any]:
    async with store.read() as conn:
        rows = (await conn.execute(sa.select(store.outbox.c.payload).order_by(store.outbox.c.seq))).scalars()
        return [decode_event(p) for p in rows]


async def test_one_user_registered_per_account_and_one_user_followed_per_new_follow(
    service: tuple[UsersService, ModuleStore],
) -> None:
    users, store = service
    made = await users.import_accounts(
        AccountImport(
            accounts=[ImportedAccount(handle=f"fan{i}", email=f"fan{i}@example.org") for i in range(3)]
        )
    )
    await users.import_accounts(
        AccountImport(
            follows=[ImportedFollow(follower_id=a, followee_id=made.ids[0]) for a in made.ids[1:]] * 2
        )
    )
    await users.import_accounts(
        AccountImport(follows=[ImportedFollow(follower_id=made.ids[1], followee_id=made.ids[0])])
    )
    events = await outbox(store)
    registered = [e for e in events if isinstance(e, UserRegistered)]
    followed = [e for e in events if isinstance(e, UserFollowed)]
    assert [(e.user_id, e.handle, e.display_name) for e in registered] == [
        (uid, f"fan{i}", f"fan{i}") for i, uid in enumerate(made.ids)
    ]
    assert sorted((e.follower_id, e.followee_id, e.followee_followers) for e in followed) == sorted(
        (a, made.ids[0], n) for n, a in enumerate(made.ids[1:], start=1)
    )  # each says the followee's follower count right after it
    assert len({e.event_id for e in events}) == len(events) == 5


async def test_a_refused_import_writes_and_emits_nothing(service: tuple[UsersService, ModuleStore]) -> None:
    users, store = service
    with pytest.raises(CannotFollowSelf):
        await users.import_accounts(
            AccountImport(
                accounts=[ImportedAccount(handle=f"a{i}", email=f"a{i}@example.org") for i in range(3)],
                follows=[ImportedFollow(follower_id="1", followee_id="1")],
            )
        )
    assert await outbox(store) == []
    assert await users.ids_by_handles(["a0", "a1", "a2"]) == {}


async def test_the_follow_cap_and_the_batch_limit_hold(
    service: tuple[UsersService, ModuleStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    users, store = service
    ids = (
        await users.import_accounts(
            AccountImport(
                accounts=[ImportedAccount(handle=f"a{i}", email=f"a{i}@example.org") for i in range(3)]
            )
        )
    ).ids
    capped = importer.AccountImporter(store, IdGenerator(8), follow_cap=1, normalise_email=str.lower)
    with pytest.raises(InvalidInput, match="most allowed"):
        await capped.import_accounts(
            AccountImport(follows=[ImportedFollow(follower_id=ids[0], followee_id=b) for b in ids[1:]])
        )
    assert (await users.profile(ids[0])).following_count == 0
    monkeypatch.setattr(importer, "MAX_IMPORT", 2)
    with pytest.raises(InvalidInput, match="at most 2"):
        await users.import_accounts(
            AccountImport(
                accounts=[ImportedAccount(handle=f"b{i}", email=f"b{i}@example.org") for i in range(3)]
            )
        )
