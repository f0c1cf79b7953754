"""What the narrow UserDirectoryPort promises other modules, whatever the binding.

Set-up goes through the whole port (register, follow, block, mute); every read goes through the
narrow one, which the HTTP binding serves from the same port server as the whole port.
"""

from __future__ import annotations

import pytest

from boundaries._kernel.errors import InvalidInput
from boundaries.users.directory import UserDirectoryPort
from boundaries.users.dto import Register
from boundaries.users.errors import UserNotFound
from boundaries.users.port import UsersPort

PASSWORD = "correct horse battery"


async def make(port: UsersPort, handle: str, display_name: str = "") -> str:
    account = await port.register(
        Register(
            handle=handle, email=f"{handle.lower()}@example.org", password=PASSWORD, display_name=display_name
        )
    )
    return account.profile.id


async def test_batch_lookups_keep_the_order_asked_and_leave_out_unknowns(
    users_port: UsersPort, directory: UserDirectoryPort
) -> None:
    a = await make(users_port, "heidi", display_name="Heidi H.")
    b = await make(users_port, "ivan")
    assert await directory.ids_by_handles(["Heidi", "IVAN", "zed", "bad handle"]) == {"Heidi": a, "IVAN": b}
    assert [(x.id, x.handle, x.display_name) for x in await directory.authors([b, "42", a])] == [
        (b, "ivan", "ivan"),
        (a, "heidi", "Heidi H."),
    ]
    assert [p.handle for p in await directory.profiles([b, "42", a, b])] == ["ivan", "heidi", "ivan"]
    assert await directory.profiles([]) == []
    assert await directory.authors([]) == []
    assert await directory.ids_by_handles([]) == {}


async def test_relationship_is_the_whole_ports_answer(
    users_port: UsersPort, directory: UserDirectoryPort
) -> None:
    a = await make(users_port, "ken")
    b = await make(users_port, "lia")
    await users_port.follow(a, b)
    await users_port.mute(b, a)
    rel = await directory.relationship(b, a)
    assert rel == await users_port.relationship(b, a)
    assert (rel.following, rel.followed_by, rel.muting, rel.blocking) == (False, True, True, False)
    with pytest.raises(UserNotFound):
        await directory.relationship(a, "12345")


async def test_silencing_says_which_users_block_or_mute_one_actor(
    users_port: UsersPort, directory: UserDirectoryPort
) -> None:
    actor = await make(users_port, "actor")
    blocker = await make(users_port, "blocker")
    muter = await make(users_port, "muter")
    fan = await make(users_port, "fan")
    await users_port.block(blocker, actor)
    await users_port.mute(muter, actor)
    await users_port.follow(fan, actor)
    await users_port.mute(actor, fan)  # one-way: the actor muting the fan does not silence the actor
    answers = await directory.silencing(actor, [fan, "999", muter, blocker])
    assert [(s.user_id, s.actor_id, s.blocking, s.muting) for s in answers] == [
        (fan, actor, False, False),
        (muter, actor, False, True),
        (blocker, actor, True, False),
    ]
    # The same verdicts as one relationship call per user.
    for s in answers:
        rel = await directory.relationship(s.user_id, actor)
        assert (rel.blocking, rel.muting) == (s.blocking, s.muting)
    assert await directory.silencing(actor, []) == []
    with pytest.raises(UserNotFound):
        await directory.silencing("999", [fan])
    with pytest.raises(InvalidInput):
        await directory.silencing(actor, [fan] * 5001)


async def test_fan_out_reads(users_port: UsersPort, directory: UserDirectoryPort) -> None:
    big = await make(users_port, "big")
    small = await make(users_port, "small")
    reader = await make(users_port, "reader")
    extra = await make(users_port, "extra")
    for follower in (reader, extra):
        await users_port.follow(follower, big)
    await users_port.follow(reader, small)
    assert sorted(await directory.following_ids(reader)) == sorted([big, small])
    assert await directory.following_ids("not-an-id") == []
    assert await directory.popular_following_ids(reader, 2) == [big]
    assert await directory.popular_following_ids(reader, 3) == []
    page = await directory.follower_ids(big, None, 1)
    assert len(page.ids) == 1
    assert page.next_cursor
    rest = await directory.follower_ids(big, page.next_cursor, 5000)
    assert sorted(page.ids + rest.ids) == sorted([reader, extra])
    assert rest.next_cursor is None
    assert await directory.follower_ids(big, None, 5000) == await users_port.follower_ids(big, None, 5000)
