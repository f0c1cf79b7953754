"""What TimelinePort promises, as port calls (the same tests will run over the HTTP binding)."""

from __future__ import annotations

import pytest
from timeline_world import World

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.pagination import PageRequest
from boundaries.timeline.errors import InvalidCursor
from boundaries.timeline.port import TimelinePort
from boundaries.tweets.dto import PostTweet, UserTweetsFilter
from modules.users.service import UsersService
from tests.support.wiring import FAST_ARGON2
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore
from twitterclone.settings import Settings


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


async def test_home_delivers_each_visibility_to_its_audience(
    timeline_port: TimelinePort, world: World
) -> None:
    alice, fan, named = [await world.register(h) for h in ("alice", "fan", "named")]
    await world.users.follow(fan, alice)
    await world.users.follow(named, alice)
    unlisted = (await world.tweets.post(alice, PostTweet(text="u", visibility="unlisted"), None)).id
    private = (await world.tweets.post(alice, PostTweet(text="p", visibility="private"), None)).id
    direct = (await world.tweets.post(alice, PostTweet(text="d @named", visibility="direct"), None)).id
    await world.settle()
    assert await ids(timeline_port, alice) == [direct, private, unlisted]
    assert await ids(timeline_port, fan) == [private, unlisted]
    assert await ids(timeline_port, named) == [direct, private, unlisted]


async def test_a_block_or_mute_made_by_another_process_shows_on_the_next_read(
    timeline_port: TimelinePort, world: World
) -> None:
    alice, bob, carol = [await world.register(h) for h in ("alice", "bob", "carol")]
    for followee in (alice, carol):
        await world.users.follow(bob, followee)
    hers = await world.post(alice, "before the block")
    carols = await world.post(carol, "before the mute")
    await world.settle()
    # Read twice: whatever this process keeps about bob's blocks and mutes, it keeps now.
    for _ in range(2):
        assert await ids(timeline_port, bob) == [carols, hers]
        assert [t.id for t in (await timeline_port.user_timeline(alice, bob, PageRequest())).items] == [hers]
    # Another process (its own users service and connections on the same database) blocks and
    # mutes; nothing reaches this one but the database.
    users_store = world.runtime.kernel.stores["users"]
    other = ModuleStore("users", users_store.url, schema=users_store.schema)
    try:
        elsewhere = UsersService(other, IdGenerator(1023), Settings(**FAST_ARGON2))
        await elsewhere.block(alice, bob)
        assert await ids(timeline_port, bob) == [carols]
        assert (await timeline_port.user_timeline(alice, bob, PageRequest())).items == []
        await elsewhere.mute(bob, carol)
        assert await ids(timeline_port, bob) == []
        await elsewhere.unmute(bob, carol)
        assert await ids(timeline_port, bob) == [carols]
    finally:
        await other.dispose()


async def test_home_filters_blocks_and_mutes_made_after_the_fan_out(
    timeline_port: TimelinePort, world: World
) -> None:
    alice, bob, carol, dave = [await world.register(h) for h in ("alice", "bob", "carol", "dave")]
    for followee in (alice, carol, dave):
        await world.users.follow(bob, followee)
    hers = await world.post(alice, "fanned out before the block")
    boost = (await world.tweets.retweet(carol, hers)).id
    daves = await world.post(dave, "muted later")
    kept = await world.post(carol, "kept")
    await world.settle()
    assert await ids(timeline_port, bob) == [kept, daves, boost, hers]
    await world.users.block(alice, bob)
    await world.users.mute(bob, dave)
    # At once, before any event is applied: the read filters.
    assert await ids(timeline_port, bob) == [kept]
