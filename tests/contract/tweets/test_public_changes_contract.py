"""What TweetsPort.public_changes promises (live public and hashtag streams), under every binding."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest

from boundaries._kernel.errors import InvalidInput
from boundaries.tweets.dto import PostTweet
from boundaries.tweets.port import TweetsPort

if TYPE_CHECKING:
    from tests.contract.tweets.conftest import People


async def post(port: TweetsPort, author: str, text: str, reply_to: str | None = None) -> str:
    return (await port.post(author, PostTweet(text=text, reply_to_id=reply_to), None)).id


async def test_from_now_answers_at_once_and_replays_nothing(tweets_port: TweetsPort, people: People) -> None:
    await post(tweets_port, people.alice, "before the stream")
    started = time.monotonic()
    start = await tweets_port.public_changes(None, None, 10)
    assert time.monotonic() - started < 2
    assert start.posted == []
    assert start.deleted == []
    later = await tweets_port.public_changes(start.position, None, 0.2)
    assert later.posted == []


async def test_a_new_post_arrives_within_a_second_once(tweets_port: TweetsPort, people: People) -> None:
    start = await tweets_port.public_changes(None, None, 0)
    waiting = asyncio.create_task(tweets_port.public_changes(start.position, None, 10))
    await asyncio.sleep(0.1)
    posted_at = time.monotonic()
    tweet = await post(tweets_port, people.bob, "hello world")
    changes = await waiting
    assert time.monotonic() - posted_at < 1.0
    assert changes.posted == [tweet]
    assert (await tweets_port.public_changes(changes.position, None, 0.2)).posted == []


async def test_retweets_and_replies_to_others_stay_off_public_streams(
    tweets_port: TweetsPort, people: People
) -> None:
    original = await post(tweets_port, people.alice, "an original")
    start = await tweets_port.public_changes(None, None, 0)
    await tweets_port.retweet(people.bob, original)
    await post(tweets_port, people.bob, "@alice a reply to alice", reply_to=original)
    thread = await post(tweets_port, people.alice, "alice continues her thread", reply_to=original)
    changes = await tweets_port.public_changes(start.position, None, 5)
    assert changes.posted == [thread]


async def test_hashtag_streams_get_their_tag_only(tweets_port: TweetsPort, people: People) -> None:
    start = await tweets_port.public_changes(None, "Cats", 0)
    await post(tweets_port, people.alice, "about #dogs")
    tagged = await post(tweets_port, people.bob, "about #cats and more")
    changes = await tweets_port.public_changes(start.position, "#cats", 5)
    assert changes.posted == [tagged]


async def test_deleted_public_tweets_are_announced(tweets_port: TweetsPort, people: People) -> None:
    gone = await post(tweets_port, people.alice, "soon gone #cats")
    start = await tweets_port.public_changes(None, None, 0)
    tagged_start = await tweets_port.public_changes(None, "cats", 0)
    await tweets_port.delete(people.alice, gone)
    changes = await tweets_port.public_changes(start.position, None, 5)
    assert changes.deleted == [gone]
    assert changes.posted == []
    assert (await tweets_port.public_changes(tagged_start.position, "cats", 5)).deleted == [gone]
    assert (await tweets_port.public_changes(changes.position, None, 0.2)).deleted == []


@pytest.mark.parametrize(("position", "hashtag"), [("x", None), ("1.2.3", None), ("1.2", "no spaces")])
async def test_bad_positions_and_hashtags_are_invalid_input(
    tweets_port: TweetsPort, people: People, position: str, hashtag: str | None
) -> None:
    with pytest.raises(InvalidInput):
        await tweets_port.public_changes(position, hashtag, 0)


async def test_only_public_tweets_reach_public_streams(tweets_port: TweetsPort, people: People) -> None:
    start = await tweets_port.public_changes(None, None, 0)
    for visibility in ("unlisted", "private", "direct"):
        command = PostTweet(text=f"{visibility} @bob", visibility=visibility)
        await tweets_port.post(people.alice, command, None)
    public = await post(tweets_port, people.alice, "for everyone")
    changes = await tweets_port.public_changes(start.position, None, 5)
    assert changes.posted == [public]
