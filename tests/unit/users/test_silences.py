"""Kept silences (blocks either way, mutes): fresh on the next read in every process, read once
per change of the viewer's silence version, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from users_testkit import make_service, register

from modules.users import silences
from modules.users.service import UsersService
from modules.users.tables import blocks, mutes, silence_versions
from twitterclone.infra.store import HotRead, ModuleStore


@pytest.fixture
async def other_process(any_store: ModuleStore) -> AsyncIterator[UsersService]:
    """A second users service on the same database through connections of its own, as another
    worker or replica has: nothing it keeps in memory is shared with ``any_service``'s."""
    store = ModuleStore("users", any_store.url, schema=any_store.schema)
    yield make_service(store)
    await store.dispose()


def _standing(answers: list[Any], user: str) -> tuple[bool, bool, bool, bool]:
    for s in answers:
        if s.user_id == user:
            return (s.following, s.blocking, s.blocked_by, s.muting)
    return (False, False, False, False)


async def test_a_change_through_another_process_shows_on_the_very_next_read(
    any_service: UsersService, other_process: UsersService, any_store: ModuleStore
) -> None:
    viewer, author, other = [await register(any_service, h) for h in ("viewer", "author", "other")]
    read = any_service.graph.standings
    # The viewer's silences are read, and kept, by this process.
    assert await read(viewer, [author, other], []) == []
    assert await read(viewer, [author, other], []) == []

    await other_process.graph.block(author, viewer)
    assert _standing(await read(viewer, [author, other], []), author) == (False, False, True, False)
    await other_process.graph.mute(viewer, other)
    answers = await read(viewer, [author, other], [])
    assert [(s.user_id, s.blocked_by, s.muting) for s in answers] == [
        (author, True, False),
        (other, False, True),
    ]
    await other_process.graph.unblock(author, viewer)
    await other_process.graph.unmute(viewer, other)
    assert await read(viewer, [author, other], []) == []

    # Rows written by hand, past every service, count the same (the triggers keep the version).
    async with any_store.transaction() as tx:
        await tx.conn.execute(
            sa.insert(blocks).values(
                blocker_id=int(viewer), blocked_id=int(other), created_at=datetime.now(UTC)
            )
        )
    assert _standing(await read(viewer, [other], []), other) == (False, True, False, False)
    async with any_store.transaction() as tx:
        await tx.conn.execute(sa.delete(blocks))
    assert await read(viewer, [other], []) == []

    # Follows are not kept: asked afresh each read.
    await other_process.graph.follow(viewer, author)
    assert _standing(await read(viewer, [], [author]), author) == (True, False, False, False)


async def test_a_viewers_silences_are_read_once_per_change_of_their_version(
    any_service: UsersService, any_store: ModuleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer, muted, author = [await register(any_service, h) for h in ("viewer", "muted", "author")]
    await any_service.graph.mute(viewer, muted)
    ran: list[HotRead] = []
    fetch = any_store.fetch

    async def spy(query: HotRead, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        ran.append(query)
        return await fetch(query, params)

    monkeypatch.setattr(any_store, "fetch", spy)
    for _ in range(3):
        assert _standing(await any_service.graph.standings(viewer, [muted, author], []), muted)[3]
    # The version on every read; the list once.
    assert ran == [silences._VERSION, silences._ALL, silences._VERSION, silences._VERSION]
    # A block elsewhere (between two other users) changes nothing for this viewer.
    await any_service.graph.block(author, muted)
    ran.clear()
    await any_service.graph.standings(viewer, [muted, author], [])
    assert ran == [silences._VERSION]
    # The viewer's own change: the list again, once.
    await any_service.graph.unmute(viewer, muted)
    ran.clear()
    assert await any_service.graph.standings(viewer, [muted, author], []) == []
    await any_service.graph.standings(viewer, [muted, author], [])
    assert ran == [silences._VERSION, silences._ALL, silences._VERSION]


async def test_silences_and_follows_asked_together_are_one_statement_and_as_fresh(
    any_service: UsersService,
    other_process: UsersService,
    any_store: ModuleStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A user timeline of someone else asks about one author's silences and follow at once.
    viewer, author = [await register(any_service, h) for h in ("viewer", "author")]
    ran: list[HotRead] = []
    fetch = any_store.fetch

    async def spy(query: HotRead, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        ran.append(query)
        return await fetch(query, params)

    monkeypatch.setattr(any_store, "fetch", spy)
    read = any_service.graph.standings
    assert await read(viewer, [author], [author]) == []
    ran.clear()
    assert await read(viewer, [author], [author]) == []
    assert len(ran) == 1  # the version and the follows in one statement; the list was kept
    await other_process.graph.follow(viewer, author)
    assert _standing(await read(viewer, [author], [author]), author) == (True, False, False, False)
    await other_process.graph.mute(viewer, author)
    assert _standing(await read(viewer, [author], [author]), author) == (True, False, False, True)
    await other_process.graph.block(author, viewer)  # the block ends the follow
    assert _standing(await read(viewer, [author], [author]), author) == (False, False, True, True)
    await other_process.graph.unblock(author, viewer)
    await other_process.graph.unmute(viewer, author)
    assert await read(viewer, [author], [author]) == []


async def test_every_change_of_a_block_or_mute_bumps_both_users_versions(
    any_service: UsersService, any_store: ModuleStore
) -> None:
    a, b, c = [await register(any_service, h) for h in ("a", "b", "c")]

    async def versions() -> dict[str, int]:
        async with any_store.read() as conn:
            rows = (
                await conn.execute(sa.select(silence_versions.c.user_id, silence_versions.c.version))
            ).all()
        return {str(r[0]): int(r[1]) for r in rows}

    assert await versions() == {}
    await any_service.graph.block(a, b)
    assert await versions() == {a: 1, b: 1}
    await any_service.graph.block(a, b)  # already blocked: no change, no bump
    assert await versions() == {a: 1, b: 1}
    await any_service.graph.mute(c, a)
    assert await versions() == {a: 2, b: 1, c: 1}
    await any_service.graph.unblock(a, b)
    await any_service.graph.unmute(c, a)
    assert await versions() == {a: 4, b: 2, c: 2}
    async with any_store.transaction() as tx:  # an update moves the silence from one pair to another
        await tx.conn.execute(
            sa.insert(mutes).values(muter_id=int(a), muted_id=int(b), created_at=datetime.now(UTC))
        )
        await tx.conn.execute(sa.update(mutes).values(muted_id=int(c)))
    assert await versions() == {a: 7, b: 4, c: 3}


async def test_a_viewer_with_too_many_silences_is_asked_about_each_page(
    any_service: UsersService, any_store: ModuleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer, x, y, z = [await register(any_service, h) for h in ("viewer", "x", "y", "z")]
    await any_service.graph.mute(viewer, x)
    await any_service.graph.block(y, viewer)
    await any_service.graph.block(viewer, z)
    monkeypatch.setattr(any_service.graph._silences, "_max_kept", 2)
    answers = await any_service.graph.standings(viewer, [z, x, y], [])
    assert [(s.user_id, s.blocking, s.blocked_by, s.muting) for s in answers] == [
        (z, True, False, False),
        (x, False, False, True),
        (y, False, True, False),
    ]
    assert any_service.graph._silences._kept == {}
