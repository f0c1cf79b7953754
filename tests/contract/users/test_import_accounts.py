"""``UsersPort.import_accounts``: bulk accounts and follows keep register's and follow's rules."""

from __future__ import annotations

import pytest

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.pagination import PageRequest
from boundaries.users.dto import AccountImport, ImportedAccount, ImportedFollow, Login, Register
from boundaries.users.errors import (
    Blocked,
    CannotFollowSelf,
    EmailTaken,
    HandleTaken,
    HandleTooSimilar,
    InvalidCredentials,
    UserNotFound,
)
from boundaries.users.port import UsersPort

PASSWORD = "correct horse battery"


def accounts(*handles: str) -> AccountImport:
    return AccountImport(
        accounts=[ImportedAccount(handle=h, email=f"{h.lower()}@example.org") for h in handles]
    )


def follows(*pairs: tuple[str, str]) -> AccountImport:
    return AccountImport(follows=[ImportedFollow(follower_id=a, followee_id=b) for a, b in pairs])


async def test_imported_accounts_exist_follow_and_cannot_log_in(users_port: UsersPort) -> None:
    star = (
        await users_port.register(Register(handle="star", email="s@example.org", password=PASSWORD))
    ).profile
    result = await users_port.import_accounts(accounts("Fan1", "fan2", "fan3"))
    assert len(result.ids) == 3
    assert result.follows_added == 0
    assert [p.handle for p in await users_port.profiles(result.ids)] == ["Fan1", "fan2", "fan3"]
    assert (await users_port.profile(result.ids[0])).display_name == "Fan1"

    added = await users_port.import_accounts(
        follows(*((fan, star.id) for fan in result.ids), (star.id, result.ids[0]))
    )
    assert added.follows_added == 4
    assert added.ids == []
    again = await users_port.import_accounts(follows((result.ids[1], star.id)))
    assert again.follows_added == 0  # already following: nothing new, as follow() is idempotent

    assert (await users_port.profile(star.id)).followers_count == 3
    assert (await users_port.profile(star.id)).following_count == 1
    assert (await users_port.profile(result.ids[0])).following_count == 1
    assert (await users_port.relationship(result.ids[2], star.id)).following
    page = await users_port.followers(star.id, PageRequest(limit=10))
    assert sorted(p.id for p in page.items) == sorted(result.ids)
    with pytest.raises(InvalidCredentials):
        await users_port.authenticate(Login(login="fan2", password=PASSWORD))


async def test_an_import_breaking_a_rule_writes_nothing(users_port: UsersPort) -> None:
    taken = (
        await users_port.register(Register(handle="tall", email="t@example.org", password=PASSWORD))
    ).profile
    with pytest.raises(HandleTaken):
        await users_port.import_accounts(accounts("newcomer", "TALL"))
    with pytest.raises(HandleTooSimilar):
        await users_port.import_accounts(accounts("newcomer", "ta1l"))  # looks like "tall"
    with pytest.raises(HandleTaken):
        await users_port.import_accounts(accounts("twin", "Twin"))
    with pytest.raises(EmailTaken):
        await users_port.import_accounts(
            AccountImport(accounts=[ImportedAccount(handle="other", email="T@example.org")])
        )
    with pytest.raises(InvalidInput):
        await users_port.import_accounts(accounts("not a handle"))
    assert await users_port.ids_by_handles(["newcomer", "twin", "other"]) == {}

    fans = (await users_port.import_accounts(accounts("fan1", "fan2"))).ids
    with pytest.raises(CannotFollowSelf):
        await users_port.import_accounts(follows((fans[0], taken.id), (fans[1], fans[1])))
    with pytest.raises(UserNotFound):
        await users_port.import_accounts(follows((fans[0], taken.id), (fans[1], "123456789")))
    await users_port.block(taken.id, fans[1])
    with pytest.raises(Blocked):
        await users_port.import_accounts(follows((fans[0], taken.id), (fans[1], taken.id)))
    assert (await users_port.profile(taken.id)).followers_count == 0
    assert not (await users_port.relationship(fans[0], taken.id)).following
