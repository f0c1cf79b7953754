"""Profiles against a real (SQLite) store: updates and their event, batch reads, search."""

from __future__ import annotations

import pytest
from users_testkit import events, register

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.pagination import PageRequest
from boundaries.users.dto import ProfileUpdate
from boundaries.users.errors import UserNotFound
from modules.users.profiles import Profiles
from modules.users.service import UsersService
from twitterclone.infra.store import ModuleStore


@pytest.fixture
def profiles(service: UsersService) -> Profiles:
    return service.public_profiles


async def test_update_profile_rechecks_limits_and_emits_only_on_change(
    service: UsersService, profiles: Profiles, store: ModuleStore
) -> None:
    user_id = await register(service, "profiled")
    with pytest.raises(InvalidInput):
        await profiles.update_profile(user_id, ProfileUpdate(display_name="n" * 51))
    with pytest.raises(InvalidInput):
        await profiles.update_profile(user_id, ProfileUpdate(bio="b" * 161))
    assert (await profiles.profile(user_id)).display_name == "profiled"

    account = await profiles.update_profile(user_id, ProfileUpdate(display_name="New Name", bio="hello"))
    assert (account.profile.display_name, account.profile.bio) == ("New Name", "hello")
    await profiles.update_profile(user_id, ProfileUpdate(bio="hello"))  # no change
    updates = [e for e in await events(store) if type(e).__name__ == "ProfileUpdated"]
    assert len(updates) == 1
    assert (updates[0].display_name, updates[0].bio) == ("New Name", "hello")
    # An empty display name falls back to the handle.
    assert (await profiles.update_profile(user_id, ProfileUpdate(display_name=" "))).profile.display_name == (
        "profiled"
    )


async def test_search_escapes_like_wildcards(service: UsersService, profiles: Profiles) -> None:
    await register(service, "a_b")
    await register(service, "axb")
    await register(service, "other", display_name="A_Bee")
    found = await profiles.search("A_", PageRequest())
    assert sorted(p.handle for p in found.items) == ["a_b", "other"]
    assert (await profiles.search("%", PageRequest())).items == []


async def test_batch_reads_keep_the_order_asked_and_leave_out_unknowns(
    service: UsersService, profiles: Profiles
) -> None:
    a = await register(service, "one")
    b = await register(service, "two")
    assert [p.id for p in await profiles.profiles([b, "123", a, "not-an-id"])] == [b, a]
    assert [x.handle for x in await profiles.authors([a, b])] == ["one", "two"]
    assert await profiles.authors(["not-an-id"]) == []


async def test_profile_by_id_or_handle(service: UsersService, profiles: Profiles) -> None:
    user_id = await register(service, "Grace")
    assert (await profiles.profile(user_id)).handle == "Grace"
    assert (await profiles.profile_by_handle("@GRACE")).id == user_id
    for missing in ("nobody", "bad-handle!"):
        with pytest.raises(UserNotFound):
            await profiles.profile_by_handle(missing)
    with pytest.raises(UserNotFound):
        await profiles.profile("123")
