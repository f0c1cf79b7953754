"""Who may see a tweet, as the tweets port promises it under every binding (local and HTTP).

The users module is the real one (follows, blocks and mutes are made through its port); only the
tweets port is bound as the test chose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from dishka import AsyncContainer

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.pagination import PageRequest
from boundaries.tweets.dto import PostTweet
from boundaries.tweets.errors import TweetNotFound, TweetNotShareable
from boundaries.tweets.port import TweetsPort
from boundaries.users.port import UsersPort

if TYPE_CHECKING:
    from tests.contract.tweets.conftest import People

FIRST = PageRequest()


@pytest.fixture
async def users_port(container: AsyncContainer) -> UsersPort:
    port: UsersPort = await container.get(UsersPort)
    return port


def ids_of(items: list[object]) -> list[str]:
    return [t.id for t in items]  # type: ignore[attr-defined]


async def test_each_visibility_reaches_its_audience(
    tweets_port: TweetsPort, users_port: UsersPort, people: People
) -> None:
    alice, bob, carol = people.alice, people.bob, people.carol
    await users_port.follow(bob, alice)
    public = await tweets_port.post(alice, PostTweet(text="open #t"), None)
    unlisted = await tweets_port.post(alice, PostTweet(text="quiet #t", visibility="unlisted"), None)
    private = await tweets_port.post(alice, PostTweet(text="followers #t", visibility="private"), None)
    direct = await tweets_port.post(alice, PostTweet(text="hi @carol #t", visibility="direct"), None)
    everything = [public.id, unlisted.id, private.id, direct.id]
    assert [t.visibility for t in await tweets_port.get_many(everything, alice)] == [
        "public",
        "unlisted",
        "private",
        "direct",
    ]
    assert ids_of(await tweets_port.get_many(everything, bob)) == [public.id, unlisted.id, private.id]
    assert ids_of(await tweets_port.get_many(everything, carol)) == [public.id, unlisted.id, direct.id]
    assert ids_of(await tweets_port.get_many(everything, None)) == [public.id, unlisted.id]
    with pytest.raises(TweetNotFound):
        await tweets_port.get(private.id, carol)
    # Listings: the profile by standing, the public listings only public tweets.
    newest_first = everything[::-1]
    assert ids_of((await tweets_port.user_tweets(alice, alice, FIRST)).items) == newest_first
    assert ids_of((await tweets_port.user_tweets(alice, bob, FIRST)).items) == newest_first[1:]
    assert ids_of((await tweets_port.user_tweets(alice, carol, FIRST)).items) == newest_first[2:]
    for viewer in (alice, bob, carol, None):
        assert ids_of((await tweets_port.public_timeline(viewer, FIRST)).items) == [public.id]
        assert ids_of((await tweets_port.tag_timeline("T", viewer, FIRST)).items) == [public.id]
        assert ids_of((await tweets_port.search("#t", viewer, FIRST)).items) == [public.id]
    with pytest.raises(InvalidInput):
        await tweets_port.tag_timeline("no spaces", None, FIRST)


async def test_only_open_tweets_are_shared(
    tweets_port: TweetsPort, users_port: UsersPort, people: People
) -> None:
    alice, bob = people.alice, people.bob
    await users_port.follow(bob, alice)
    private = await tweets_port.post(alice, PostTweet(text="mine", visibility="private"), None)
    for sharer in (alice, bob):
        with pytest.raises(TweetNotShareable):
            await tweets_port.retweet(sharer, private.id)
        with pytest.raises(TweetNotShareable):
            await tweets_port.post(sharer, PostTweet(text="qt", quote_of_id=private.id), None)
    unlisted = await tweets_port.post(alice, PostTweet(text="fine", visibility="unlisted"), None)
    retweet = await tweets_port.retweet(bob, unlisted.id)
    assert retweet.visibility == "unlisted"
    assert ids_of((await tweets_port.public_timeline(None, FIRST)).items) == []


async def test_a_block_hides_both_ways_and_refuses_every_action(
    tweets_port: TweetsPort, users_port: UsersPort, people: People
) -> None:
    alice, bob, carol = people.alice, people.bob, people.carol
    hers = await tweets_port.post(alice, PostTweet(text="hers #b"), None)
    his = await tweets_port.post(bob, PostTweet(text="his #b"), None)
    boost = await tweets_port.retweet(carol, hers.id)
    await users_port.block(alice, bob)
    for viewer, hidden in ((bob, hers.id), (alice, his.id)):
        with pytest.raises(TweetNotFound):
            await tweets_port.get(hidden, viewer)
        assert hidden not in ids_of((await tweets_port.public_timeline(viewer, FIRST)).items)
        assert hidden not in ids_of((await tweets_port.tag_timeline("b", viewer, FIRST)).items)
        assert hidden not in ids_of((await tweets_port.search("b", viewer, FIRST)).items)
    assert await tweets_port.get_many([boost.id], bob) == []
    assert (await tweets_port.user_tweets(alice, bob, FIRST)).items == []
    with pytest.raises(TweetNotFound):
        await tweets_port.replies(hers.id, bob, FIRST)
    with pytest.raises(TweetNotFound):
        await tweets_port.like(bob, hers.id)
    with pytest.raises(TweetNotFound):
        await tweets_port.retweet(bob, boost.id)  # through a third party's retweet too
    with pytest.raises(TweetNotFound):
        await tweets_port.post(bob, PostTweet(text="re", reply_to_id=hers.id), None)
    with pytest.raises(TweetNotFound):
        await tweets_port.post(bob, PostTweet(text="qt", quote_of_id=hers.id), None)
    await users_port.unblock(alice, bob)
    assert (await tweets_port.get(hers.id, bob)).id == hers.id


async def test_a_mute_hides_only_from_the_muters_feeds(
    tweets_port: TweetsPort, users_port: UsersPort, people: People
) -> None:
    alice, bob, carol = people.alice, people.bob, people.carol
    his = await tweets_port.post(bob, PostTweet(text="his"), None)
    boost = await tweets_port.retweet(carol, his.id)
    await users_port.mute(alice, bob)
    assert await tweets_port.get_feed([his.id, boost.id], alice) == []
    assert ids_of(await tweets_port.get_many([his.id, boost.id], alice)) == [his.id, boost.id]
    assert ids_of((await tweets_port.public_timeline(alice, FIRST)).items) == []
    assert ids_of((await tweets_port.public_timeline(carol, FIRST)).items) == [his.id]
    assert ids_of(await tweets_port.get_feed([his.id, boost.id], carol)) == [his.id, boost.id]
