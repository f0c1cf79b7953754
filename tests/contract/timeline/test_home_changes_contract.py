"""What TimelinePort.home_changes promises (live home streams), under the local and HTTP bindings."""

from __future__ import annotations

import asyncio
import time

import pytest
from timeline_world import World

from boundaries._kernel.errors import InvalidInput
from boundaries.timeline.port import TimelinePort


async def test_from_now_answers_at_once_with_nothing(timeline_port: TimelinePort, world: World) -> None:
    alice, bob = await world.register("alice"), await world.register("bob")
    await world.users.follow(bob, alice)
    await world.post(alice, "before the stream")
    await world.settle()

    started = time.monotonic()
    changes = await timeline_port.home_changes(bob, None, 10)
    assert time.monotonic() - started < 2
    assert changes.added == []
    assert changes.removed == []
    # Nothing new since: an empty answer once the wait is over, the old tweet not handed out.
    later = await timeline_port.home_changes(bob, changes.position, 0.2)
    assert later.added == []
    assert later.removed == []


async def test_a_followed_accounts_post_arrives_within_a_second(
    timeline_port: TimelinePort, world: World
) -> None:
    alice, bob, carol = [await world.register(h) for h in ("alice", "bob", "carol")]
    await world.users.follow(bob, alice)
    await world.settle()
    start = await timeline_port.home_changes(bob, None, 0)

    waiting = asyncio.create_task(timeline_port.home_changes(bob, start.position, 10))
    await asyncio.sleep(0.1)
    await world.post(carol, "not followed")
    posted_at = time.monotonic()
    tweet = await world.post(alice, "hello followers")
    changes = await waiting
    assert time.monotonic() - posted_at < 1.0
    assert changes.added == [tweet]
    assert changes.removed == []

    # Handed out once: the next wait from the new position finds nothing.
    again = await timeline_port.home_changes(bob, changes.position, 0.2)
    assert again.added == []


async def test_own_posts_and_several_at_once_come_oldest_first(
    timeline_port: TimelinePort, world: World
) -> None:
    alice = await world.register("alice")
    start = await timeline_port.home_changes(alice, None, 0)
    posted = [await world.post(alice, f"t{i}") for i in range(3)]
    await world.settle()
    changes = await timeline_port.home_changes(alice, start.position, 5)
    assert changes.added == posted


async def test_deleted_tweets_of_followees_are_removed_others_are_not_mentioned(
    timeline_port: TimelinePort, world: World
) -> None:
    alice, bob, carol = [await world.register(h) for h in ("alice", "bob", "carol")]
    await world.users.follow(bob, alice)
    gone = await world.post(alice, "deleted soon")
    strangers = await world.post(carol, "carol's, deleted too")
    await world.settle()
    start = await timeline_port.home_changes(bob, None, 0)

    await world.tweets.delete(carol, strangers)
    await world.tweets.delete(alice, gone)
    await world.settle()
    changes = await timeline_port.home_changes(bob, start.position, 5)
    assert changes.removed == [gone]
    assert changes.added == []
    assert (await timeline_port.home_changes(bob, changes.position, 0.2)).removed == []


@pytest.mark.parametrize("position", ["", "x", "1.2.3", "1~a.2", "9" * 40 + ".1"])
async def test_a_position_it_did_not_hand_out_is_invalid_input(
    timeline_port: TimelinePort, world: World, position: str
) -> None:
    alice = await world.register("alice")
    with pytest.raises(InvalidInput):
        await timeline_port.home_changes(alice, position, 0)
