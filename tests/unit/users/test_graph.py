"""The social graph against a real store: follow counts and events, blocks, fan-out reads, silencing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from users_testkit import events, register

from boundaries._kernel.errors import InvalidInput
from boundaries.users.errors import Blocked, UserNotFound
from modules.users.graph import Graph
from modules.users.service import UsersService
from twitterclone.infra.store import ModuleStore


@pytest.fixture
def graph(service: UsersService) -> Graph:
    return service.graph


async def test_follow_counts_and_events_change_only_on_real_change(
    service: UsersService, graph: Graph, store: ModuleStore
) -> None:
    a = await register(service, "fa")
    b = await register(service, "fb")
    await graph.follow(a, b)
    await graph.follow(a, b)
    assert (await service.profile(b)).followers_count == 1
    assert (await service.profile(a)).following_count == 1
    await graph.unfollow(a, b)
    await graph.unfollow(a, b)
    assert (await service.profile(b)).followers_count == 0
    kinds = [type(e).__name__ for e in await events(store)]
    assert kinds.count("UserFollowed") == 1
    assert kinds.count("UserUnfollowed") == 1


async def test_follow_unfollow_and_block_refuse_an_unknown_user_on_either_side(
    service: UsersService, graph: Graph, store: ModuleStore
) -> None:
    # Both users are found by one statement (``_lock_pair``): a missing one is still refused.
    a = await register(service, "ua")
    for change in (graph.follow, graph.unfollow, graph.block):
        for pair in ((a, "123"), ("123", a), (a, "not-an-id")):
            with pytest.raises(UserNotFound):
                await change(*pair)
    assert (await service.profile(a)).following_count == 0
    assert not any(type(e).__name__ in ("UserFollowed", "UserUnfollowed") for e in await events(store))


async def test_follow_events_carry_the_followees_count_after_the_change(
    service: UsersService, graph: Graph, store: ModuleStore
) -> None:
    star = await register(service, "cstar")
    fans = [await register(service, f"cfan{i}") for i in range(3)]
    for fan in fans:
        await graph.follow(fan, star)
    await graph.unfollow(fans[0], star)
    told = [
        (type(e).__name__, e.follower_id, e.followee_followers)
        for e in await events(store)
        if type(e).__name__ in ("UserFollowed", "UserUnfollowed")
    ]
    assert told == [
        ("UserFollowed", fans[0], 1),
        ("UserFollowed", fans[1], 2),
        ("UserFollowed", fans[2], 3),
        ("UserUnfollowed", fans[0], 2),
    ]


async def test_block_ends_follows_both_ways_with_events_and_stops_new_follows(
    service: UsersService, graph: Graph, store: ModuleStore
) -> None:
    a = await register(service, "ba")
    b = await register(service, "bb")
    await graph.follow(a, b)
    await graph.follow(b, a)
    rel = await graph.block(a, b)
    assert (rel.blocking, rel.following, rel.followed_by) == (True, False, False)
    await graph.block(a, b)  # idempotent
    assert (await service.profile(a)).followers_count == 0
    assert (await service.profile(a)).following_count == 0
    unfollows = [e for e in await events(store) if type(e).__name__ == "UserUnfollowed"]
    assert {(e.follower_id, e.followee_id) for e in unfollows} == {(a, b), (b, a)}
    with pytest.raises(Blocked):
        await graph.follow(b, a)
    with pytest.raises(Blocked):
        await graph.follow(a, b)
    await graph.unblock(a, b)
    assert (await graph.follow(b, a)).following


async def test_fan_out_reads_page_through_every_follower(service: UsersService, graph: Graph) -> None:
    star = await register(service, "star")
    fans = [await register(service, f"fan{i}") for i in range(7)]
    for fan in fans:
        await graph.follow(fan, star)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await graph.follower_ids(star, cursor, 3)
        seen += page.ids
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(fans)
    assert len(seen) == len(set(seen))
    assert pages == 3
    assert await graph.following_ids(fans[0]) == [star]
    assert await graph.popular_following_ids(fans[0], 7) == [star]
    assert await graph.popular_following_ids(fans[0], 8) == []


# ------------------------------------------------------------------ silencing (batch)


@contextmanager
def statements(store: ModuleStore) -> Iterator[list[str]]:
    """The SQL statements run on ``store`` inside the block."""
    seen: list[str] = []
    # On SQLite, prebuilt reads (HotRead) go straight to the sqlite3 connection the store keeps
    # for the loop's thread: trace it, and leave out what SQLAlchemy runs on it (traced already).
    held = store._loop_reader.get() if store._loop_reader is not None else None
    traced = held.dbapi if held is not None else None

    def record(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if traced is None or conn.connection.dbapi_connection is not traced:
            seen.append(statement)

    # The rest goes through the store's engines: on SQLite its synchronous ones, PostgreSQL the
    # async one. Listen to every one.
    engines = store.engines()
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", record)
    if traced is not None:
        traced.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        if traced is not None:
            traced.set_trace_callback(None)
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", record)


async def test_silencing_answers_for_many_users_in_two_statements(
    any_service: UsersService, any_store: ModuleStore
) -> None:
    service, graph = any_service, any_service.graph
    actor = await register(service, "actor")
    blocker, muter, both, neutral, fan = [
        await register(service, h) for h in ("blocker", "muter", "both", "neutral", "fan")
    ]
    await graph.block(blocker, actor)
    await graph.mute(muter, actor)
    await graph.block(both, actor)
    await graph.mute(both, actor)
    await graph.follow(fan, actor)
    await graph.block(actor, neutral)  # the actor blocking someone is not that user silencing the actor
    await graph.mute(actor, fan)

    asked = [neutral, "123", blocker, "not-an-id", muter, both, fan, blocker]
    with statements(any_store) as seen:
        answers = await graph.silencing(actor, asked)
    assert len(seen) == 2, seen  # the actor's row, then every asked user's answer at once
    assert [(s.user_id, s.actor_id, s.blocking, s.muting) for s in answers] == [
        (neutral, actor, False, False),
        (blocker, actor, True, False),
        (muter, actor, False, True),
        (both, actor, True, True),
        (fan, actor, False, False),
        (blocker, actor, True, False),
    ]
    # The same answers as one relationship call per user (what notifications asks today).
    for s in answers:
        rel = await graph.relationship(s.user_id, actor)
        assert (rel.blocking, rel.muting) == (s.blocking, s.muting)
    # Lifting them shows at once.
    await graph.unblock(blocker, actor)
    await graph.unmute(muter, actor)
    assert [(s.blocking, s.muting) for s in await graph.silencing(actor, [blocker, muter])] == [
        (False, False),
        (False, False),
    ]


async def test_silencing_refuses_an_unknown_actor_and_too_many_users(
    service: UsersService, graph: Graph
) -> None:
    someone = await register(service, "someone")
    for actor in ("123", "not-an-id"):
        with pytest.raises(UserNotFound):
            await graph.silencing(actor, [someone])
    assert await graph.silencing(someone, []) == []
    assert await graph.silencing(someone, ["123", "x"]) == []
    with pytest.raises(InvalidInput):
        await graph.silencing(someone, [someone] * 5001)
    assert len(await graph.silencing(someone, [someone] * 5000)) == 5000
