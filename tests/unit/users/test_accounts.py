"""Accounts against a real (SQLite) store: registration rules, stored copies, the event, lookups."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from users_testkit import PASSWORD, events, one, register

from boundaries._kernel.errors import InvalidInput
from boundaries.users.dto import Register
from boundaries.users.errors import EmailTaken, HandleTaken, UserNotFound
from modules.users.accounts import Accounts
from modules.users.service import UsersService
from modules.users.tables import users
from twitterclone.infra.store import ModuleStore


@pytest.fixture
def accounts(service: UsersService) -> Accounts:
    return service.accounts


async def test_register_stores_lowercased_copies_and_emits_user_registered(
    accounts: Accounts, store: ModuleStore
) -> None:
    account = await accounts.register(
        Register(handle="MixedCase", email="Mixed@Example.ORG", password=PASSWORD)
    )
    assert account.email == "mixed@example.org"
    assert account.profile.handle == "MixedCase"
    assert account.profile.display_name == "MixedCase"  # defaults to the handle
    assert account.profile.created_at.tzinfo is not None
    row = await one(store, sa.select(users).where(users.c.id == int(account.profile.id)))
    assert row.handle_lower == "mixedcase"
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    [event] = await events(store)
    assert type(event).__name__ == "UserRegistered"
    assert (event.user_id, event.handle, event.display_name) == (account.profile.id, "MixedCase", "MixedCase")


async def test_handles_and_emails_are_unique_ignoring_case(accounts: Accounts) -> None:
    await accounts.register(Register(handle="alice", email="alice@example.org", password=PASSWORD))
    with pytest.raises(HandleTaken):
        await accounts.register(Register(handle="ALICE", email="other@example.org", password=PASSWORD))
    with pytest.raises(EmailTaken):
        await accounts.register(Register(handle="alice2", email="ALICE@example.ORG", password=PASSWORD))


@pytest.mark.parametrize(
    ("handle", "email", "password", "field"),
    [
        ("bad-handle", "x@example.org", PASSWORD, "handle"),
        ("a" * 16, "x@example.org", PASSWORD, "handle"),
        ("", "x@example.org", PASSWORD, "handle"),
        ("okhandle", "not-an-email", PASSWORD, "email"),
        ("okhandle", "x@example.org", "short", "password"),
    ],
)
async def test_register_rechecks_rules_the_dto_states(
    accounts: Accounts, store: ModuleStore, handle: str, email: str, password: str, field: str
) -> None:
    # A Struct built in code is not validated by msgspec: the service must check again.
    with pytest.raises(InvalidInput) as info:
        await accounts.register(Register(handle=handle, email=email, password=password))
    assert info.value.field == field
    assert await one(store, sa.select(sa.func.count()).select_from(users)) == (0,)


async def test_account_carries_the_email_and_unknown_ids_are_not_found(
    service: UsersService, accounts: Accounts
) -> None:
    user_id = await register(service, "owner", display_name="The Owner")
    account = await accounts.account(user_id)
    assert (account.profile.id, account.profile.display_name, account.email) == (
        user_id,
        "The Owner",
        "owner@example.org",
    )
    for missing in ("123", "not-an-id"):
        with pytest.raises(UserNotFound):
            await accounts.account(missing)


async def test_ids_by_handles_ignore_case_and_keep_the_handles_as_given(
    service: UsersService, accounts: Accounts
) -> None:
    a = await register(service, "one")
    b = await register(service, "two")
    assert await accounts.ids_by_handles(["ONE", "two", "nobody", "bad-handle"]) == {"ONE": a, "two": b}
    assert await accounts.ids_by_handles([]) == {}
