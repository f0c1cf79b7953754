"""What TimelinePort promises, as port calls (the same tests will run over the HTTP binding)."""

from __future__ import annotations

import pytest
from timeline_world import World

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.pagination import PageRequest
from boundaries.timeline.errors import InvalidCursor
from boundaries.timeline.port import TimelinePort
from boundaries.tweets.dto import PostTweet, UserTweetsFilter


async def ids(port: TimelinePort, user_id: str, limit: int = 100) -> list[str]:
    return [t.id for t in (await port.home_timeline(user_id, PageRequest(limit=limit))).items]


async def test_a_new_users_home_is_empty(timeline_port: TimelinePort, world: World) -> None:
    alice = await world.register("alice")
    page = await timeline_port.home_timeline(alice, PageRequest())
    assert page.items == []
    assert page.next_cursor is None


async def test_home_holds_followed_and_own_tweets_newest_first_hydrated(
    timeline_port: TimelinePort, world: World
) -> None:
    alice, bob, carol = [await world.register(h) for h in ("alice", "bob", "carol")]
    await world.users.follow(bob, alice)
    first = await world.post(alice, "one")
    mine = await world.post(bob, "two")
    await world.post(carol, "not followed")
    last = await world.post(alice, "three")
    await world.tweets.like(bob, last)
    await world.settle()

    page = await timeline_port.home_timeline(bob, PageRequest())
    assert [t.id for t in page.items] == [last, mine, first]
    assert page.items[0].text == "three"
    assert page.items[0].author.handle == "alice"
    assert page.items[0].viewer is not None
    assert page.items[0].viewer.liked


async def test_pages_follow_the_cursor_strictly_older(timeline_port: TimelinePort, world: World) -> None:
    alice = await world.register("alice")
    posted = [await world.post(alice, f"t{i}") for i in range(5)]
    await world.settle()

    seen: list[str] = []
    page = await timeline_port.home_timeline(alice, PageRequest(limit=2))
    seen += [t.id for t in page.items]
    while page.next_cursor is not None:
        page = await timeline_port.home_timeline(alice, PageRequest(limit=2, cursor=page.next_cursor))
        seen += [t.id for t in page.items]
    assert seen == posted[::-1]


async def test_a_bad_cursor_is_invalid_input(timeline_port: TimelinePort, world: World) -> None:
    alice = await world.register("alice")
    with pytest.raises(InvalidCursor) as caught:
        await timeline_port.home_timeline(alice, PageRequest(cursor="nope"))
    assert isinstance(caught.value, InvalidInput)


async def test_deleted_and_unfollowed_tweets_leave_home(timeline_port: TimelinePort, world: World) -> None:
    alice, bob, carol = [await world.register(h) for h in ("alice", "bob", "carol")]
    await world.users.follow(bob, alice)
    await world.users.follow(bob, carol)
    gone = await world.post(alice, "deleted soon")
    kept = await world.post(alice, "kept")
    carols = await world.post(carol, "unfollowed soon")
    await world.settle()
    assert await ids(timeline_port, bob) == [carols, kept, gone]

    await world.tweets.delete(alice, gone)
    await world.users.unfollow(bob, carol)
    await world.settle()
    assert await ids(timeline_port, bob) == [kept]


async def test_user_timeline_is_that_users_tweets(timeline_port: TimelinePort, world: World) -> None:
    alice, bob = await world.register("alice"), await world.register("bob")
    posted = [await world.post(alice, f"a{i}") for i in range(3)]
    await world.post(bob, "someone else")

    page = await timeline_port.user_timeline(alice, None, PageRequest(limit=2))
    assert [t.id for t in page.items] == posted[::-1][:2]
    assert page.next_cursor is not None
    rest = await timeline_port.user_timeline(alice, bob, PageRequest(limit=2, cursor=page.next_cursor))
    assert [t.id for t in rest.items] == posted[:1]


async def test_user_timeline_filters_reach_the_tweets(timeline_port: TimelinePort, world: World) -> None:
    alice, bob = await world.register("alice"), await world.register("bob")
    theirs = await world.post(bob, "bob's")
    own = await world.post(alice, "own")
    reply = (await world.tweets.post(alice, PostTweet(text="re", reply_to_id=theirs), None)).id
    await world.tweets.pin(alice, own)

    page = await timeline_port.user_timeline(
        alice, None, PageRequest(), UserTweetsFilter(exclude_replies=True)
    )
    assert [t.id for t in page.items] == [own]
    pinned = await timeline_port.user_timeline(alice, bob, PageRequest(), UserTweetsFilter(pinned=True))
    assert [(t.id, t.pinned) for t in pinned.items] == [(own, True)]
    assert [t.id for t in (await timeline_port.user_timeline(alice, None, PageRequest())).items] == [
        reply,
        own,
    ]


async def test_rebuild_matches_what_home_shows(timeline_port: TimelinePort, world: World) -> None:
    alice, bob = await world.register("alice"), await world.register("bob")
    await world.users.follow(bob, alice)
    for i in range(3):
        await world.post(alice, f"a{i}")
    await world.post(bob, "mine")
    await world.settle()
    before = await ids(timeline_port, bob)

    result = await timeline_port.rebuild(bob)
    assert result.entries == 4
    assert (await timeline_port.rebuild(bob)).entries == 4
    assert await ids(timeline_port, bob) == before
