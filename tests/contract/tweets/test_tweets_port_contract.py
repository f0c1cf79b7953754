"""What the tweets port promises, written as port calls (run under every binding)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from boundaries._kernel.pagination import PageRequest
from boundaries.tweets.dto import Mention, PostTweet
from boundaries.tweets.errors import (
    EmptyTweet,
    IdempotencyKeyReused,
    NotTweetAuthor,
    TweetNotFound,
    TweetTooLong,
)
from boundaries.tweets.port import TweetsPort

if TYPE_CHECKING:
    from tests.contract.tweets.conftest import People


async def test_post_then_get_shows_author_text_and_resolved_mentions(
    tweets_port: TweetsPort, people: People
) -> None:
    posted = await tweets_port.post(people.alice, PostTweet(text="hello @BOB @ghost #Hi"), None)
    got = await tweets_port.get(posted.id, None)
    assert got.text == "hello @BOB @ghost #Hi"
    assert got.author.id == people.alice
    assert got.author.handle == "alice"
    assert got.entities.hashtags == ["hi"]
    assert got.entities.mentions == [Mention(handle="BOB", user_id=people.bob), Mention(handle="ghost")]


async def test_length_and_emptiness_rules(tweets_port: TweetsPort, people: People) -> None:
    await tweets_port.post(people.alice, PostTweet(text="z" * 280), None)
    with pytest.raises(TweetTooLong):
        await tweets_port.post(people.alice, PostTweet(text="z" * 281), None)
    with pytest.raises(EmptyTweet):
        await tweets_port.post(people.alice, PostTweet(text=" "), None)
    page = await tweets_port.user_tweets(people.alice, None, PageRequest())
    assert len(page.items) == 1


async def test_idempotency_key(tweets_port: TweetsPort, people: People) -> None:
    first = await tweets_port.post(people.alice, PostTweet(text="once"), "k1")
    again = await tweets_port.post(people.alice, PostTweet(text="once"), "k1")
    assert first.id == again.id
    with pytest.raises(IdempotencyKeyReused):
        await tweets_port.post(people.alice, PostTweet(text="twice"), "k1")
    assert len((await tweets_port.user_tweets(people.alice, None, PageRequest())).items) == 1


async def test_replies_and_quotes(tweets_port: TweetsPort, people: People) -> None:
    root = await tweets_port.post(people.alice, PostTweet(text="root"), None)
    reply = await tweets_port.post(people.bob, PostTweet(text="re", reply_to_id=root.id), None)
    quote = await tweets_port.post(people.carol, PostTweet(text="q", quote_of_id=root.id), None)
    assert reply.conversation_id == root.id
    assert reply.reply_to_author_id == people.alice
    assert quote.quoted is not None
    assert quote.quoted.id == root.id
    counts = (await tweets_port.get(root.id, None)).counts
    assert (counts.replies, counts.quotes) == (1, 1)
    assert [t.id for t in (await tweets_port.replies(root.id, None, PageRequest())).items] == [reply.id]
    with pytest.raises(TweetNotFound):
        await tweets_port.post(people.bob, PostTweet(text="re", reply_to_id="1"), None)


async def test_likes_are_idempotent(tweets_port: TweetsPort, people: People) -> None:
    t = await tweets_port.post(people.alice, PostTweet(text="like"), None)
    await tweets_port.like(people.bob, t.id)
    liked = await tweets_port.like(people.bob, t.id)
    assert liked.counts.likes == 1
    assert liked.viewer is not None
    assert liked.viewer.liked
    await tweets_port.unlike(people.bob, t.id)
    unliked = await tweets_port.unlike(people.bob, t.id)
    assert unliked.counts.likes == 0


async def test_retweets_are_idempotent_and_undoable(tweets_port: TweetsPort, people: People) -> None:
    t = await tweets_port.post(people.alice, PostTweet(text="rt"), None)
    first = await tweets_port.retweet(people.bob, t.id)
    assert (await tweets_port.retweet(people.bob, t.id)).id == first.id
    assert first.retweet_of is not None
    assert first.retweet_of.id == t.id
    assert (await tweets_port.get(t.id, None)).counts.retweets == 1
    refs = await tweets_port.recent_refs([people.bob], 10)
    assert [r.tweet_id for r in refs] == [first.id]
    await tweets_port.undo_retweet(people.bob, t.id)
    await tweets_port.undo_retweet(people.bob, t.id)
    assert (await tweets_port.get(t.id, None)).counts.retweets == 0
    assert await tweets_port.recent_refs([people.bob], 10) == []


async def test_only_the_author_deletes(tweets_port: TweetsPort, people: People) -> None:
    t = await tweets_port.post(people.alice, PostTweet(text="mine"), None)
    with pytest.raises(NotTweetAuthor):
        await tweets_port.delete(people.bob, t.id)
    assert (await tweets_port.get(t.id, None)).id == t.id
    await tweets_port.delete(people.alice, t.id)
    with pytest.raises(TweetNotFound):
        await tweets_port.get(t.id, None)
    with pytest.raises(TweetNotFound):
        await tweets_port.delete(people.alice, t.id)


async def test_get_many_order_and_missing(tweets_port: TweetsPort, people: People) -> None:
    a = await tweets_port.post(people.alice, PostTweet(text="a"), None)
    b = await tweets_port.post(people.bob, PostTweet(text="b"), None)
    got = await tweets_port.get_many([b.id, "42", a.id], people.carol)
    assert [t.id for t in got] == [b.id, a.id]
    assert all(t.viewer is not None for t in got)


async def test_search(tweets_port: TweetsPort, people: People) -> None:
    tagged = await tweets_port.post(people.alice, PostTweet(text="about #Gardening today"), None)
    plain = await tweets_port.post(people.bob, PostTweet(text="gardening is fun"), None)
    assert [t.id for t in (await tweets_port.search("gardening", None, PageRequest())).items] == [
        plain.id,
        tagged.id,
    ]
    assert [t.id for t in (await tweets_port.search("#gardening", None, PageRequest())).items] == [tagged.id]
    for odd in ('"', "AND", "NEAR(", "*", 'garden" OR "'):
        assert isinstance((await tweets_port.search(odd, None, PageRequest())).items, list)
