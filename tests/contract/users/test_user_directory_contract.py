"""What the narrow UserDirectoryPort promises other modules, whatever the binding.

Set-up goes through the whole port (register, follow, block, mute); every read goes through the
narrow one, which the HTTP binding serves from the same port server as the whole port.
"""

from __future__ import annotations

import pytest
from users_contract_kit import make

from boundaries._kernel.errors import InvalidInput
from boundaries.users.directory import UserDirectoryPort
from boundaries.users.errors import UserNotFound
from boundaries.users.port import UsersPort


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
    # The same verdicts as the whole port's relationship, one user at a time.
    for s in answers:
        rel = await users_port.relationship(s.user_id, actor)
        assert (rel.blocking, rel.muting) == (s.blocking, s.muting)
    assert await directory.silencing(actor, []) == []
    with pytest.raises(UserNotFound):
        await directory.silencing("999", [fan])
    with pytest.raises(InvalidInput):
        await directory.silencing(actor, [fan] * 5001)


async def test_fan_out_reads_answer_what_the_whole_port_answers(
    users_port: UsersPort, directory: UserDirectoryPort
) -> None:
    star, near, fans = await make(users_port, "star"), await make(users_port, "near"), []
    for i in range(3):
        fans.append(await make(users_port, f"fan{i}"))
        await users_port.follow(fans[-1], star)
    await users_port.follow(fans[0], near)
    # Paging one id at a time walks every follower once, the cursor ending it.
    seen, cursor = [], None
    while True:
        page = await directory.follower_ids(star, cursor, 1)
        assert len(page.ids) == 1
        seen += page.ids
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(fans)
    for reader in (fans[0], "not-an-id"):
        assert await directory.following_ids(reader) == await users_port.following_ids(reader)
        for threshold in (1, 2, 3, 4):
            assert await directory.popular_following_ids(reader, threshold) == (
                await users_port.popular_following_ids(reader, threshold)
            )
    assert sorted(await directory.following_ids(fans[0])) == sorted([star, near])
    assert await directory.popular_following_ids(fans[0], 3) == [star]


async def test_standings_say_how_one_viewer_stands_to_many_users(
    users_port: UsersPort, directory: UserDirectoryPort
) -> None:
    viewer = await make(users_port, "viewer")
    followed, blocked, blocker, muted, nobody = [
        await make(users_port, h) for h in ("followed", "blocked", "blocker", "muted", "nobody")
    ]
    await users_port.follow(viewer, followed)
    await users_port.mute(viewer, followed)
    await users_port.block(viewer, blocked)
    await users_port.block(blocker, viewer)
    await users_port.mute(viewer, muted)
    await users_port.follow(nobody, viewer)  # being followed is no standing of the viewer's
    everyone = [nobody, muted, "999", blocker, followed, blocked, viewer]
    answers = await directory.standings(viewer, everyone, everyone)
    assert [(s.user_id, s.following, s.blocking, s.blocked_by, s.muting) for s in answers] == [
        (muted, False, False, False, True),
        (blocker, False, False, True, False),
        (followed, True, False, False, True),
        (blocked, False, True, False, False),
    ]
    # Follows are told only where asked; blocks and mutes only for the users asked about.
    assert [
        (s.user_id, s.following, s.muting) for s in await directory.standings(viewer, [followed], [])
    ] == [(followed, False, True)]
    assert [(s.user_id, s.following) for s in await directory.standings(viewer, [], [followed, muted])] == [
        (followed, True)
    ]
    assert await directory.standings(viewer, [], []) == []
    assert await directory.standings("999", [followed], [followed]) == []
    with pytest.raises(InvalidInput):
        await directory.standings(viewer, [followed] * 5001, [])
    # The actor's own block shows in silencing as ``blocked``.
    [s] = await directory.silencing(viewer, [blocked])
    assert (s.blocking, s.blocked) == (False, True)
