"""Content warnings, languages, bookmarks, pins, favourites, likers and conversation context,
written as port calls (run under every binding and storage)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pytest
from dishka import AsyncContainer
from PIL import Image

from boundaries._kernel.errors import InvalidCursor
from boundaries._kernel.pagination import PageRequest
from boundaries.media.dto import Upload
from boundaries.media.port import MediaPort
from boundaries.tweets.dto import MAX_PINS, PostTweet, UserTweetsFilter
from boundaries.tweets.errors import (
    InvalidLanguage,
    NotPinnable,
    SpoilerTooLong,
    TooManyPins,
    TweetNotFound,
)
from boundaries.tweets.port import TweetsPort

if TYPE_CHECKING:
    from tests.contract.tweets.conftest import People


async def test_content_warning_sensitivity_and_language_are_kept(
    tweets_port: TweetsPort, people: People
) -> None:
    plain = await tweets_port.post(people.alice, PostTweet(text="plain"), None)
    assert (plain.spoiler_text, plain.sensitive, plain.language) == ("", False, None)
    warned = await tweets_port.post(
        people.alice, PostTweet(text="the ending", spoiler_text="  film spoilers ", language="en"), None
    )
    got = await tweets_port.get(warned.id, people.bob)
    # A warning hides the media too, so the tweet is sensitive; the warning is trimmed.
    assert (got.spoiler_text, got.sensitive, got.language) == ("film spoilers", True, "en")
    flagged = await tweets_port.post(people.alice, PostTweet(text="x", sensitive=True), None)
    assert (flagged.spoiler_text, flagged.sensitive) == ("", True)


async def test_bad_language_and_long_warning_are_refused(tweets_port: TweetsPort, people: People) -> None:
    with pytest.raises(InvalidLanguage):
        await tweets_port.post(people.alice, PostTweet(text="x", language="qq"), None)
    with pytest.raises(SpoilerTooLong):
        await tweets_port.post(people.alice, PostTweet(text="x", spoiler_text="w" * 281), None)
    assert (await tweets_port.user_tweets(people.alice, None, PageRequest())).items == []


async def test_a_warning_is_part_of_the_idempotent_body(tweets_port: TweetsPort, people: People) -> None:
    first = await tweets_port.post(people.alice, PostTweet(text="same", spoiler_text="cw"), "key-1")
    again = await tweets_port.post(people.alice, PostTweet(text="same", spoiler_text="cw"), "key-1")
    assert again.id == first.id


async def test_bookmarks_are_idempotent_private_and_newest_bookmarked_first(
    tweets_port: TweetsPort, people: People
) -> None:
    tweets = [await tweets_port.post(people.alice, PostTweet(text=f"t{i}"), None) for i in range(3)]
    # Bookmarked in the order 1, 0, 2 (and 0 twice: it keeps its first place).
    for i in (1, 0, 0, 2):
        marked = await tweets_port.bookmark(people.bob, tweets[i].id)
        assert marked.viewer is not None
        assert marked.viewer.bookmarked
    first = await tweets_port.bookmarks(people.bob, PageRequest(limit=2))
    assert [t.id for t in first.items] == [tweets[2].id, tweets[0].id]
    assert first.next_cursor is not None
    rest = await tweets_port.bookmarks(people.bob, PageRequest(cursor=first.next_cursor, limit=2))
    assert [t.id for t in rest.items] == [tweets[1].id]
    assert rest.next_cursor is None
    # Bookmarks are the viewer's: alice sees none of bob's.
    assert (await tweets_port.bookmarks(people.alice, PageRequest())).items == []
    seen_by_alice = await tweets_port.get(tweets[0].id, people.alice)
    assert seen_by_alice.viewer is not None
    assert not seen_by_alice.viewer.bookmarked
    unmarked = await tweets_port.unbookmark(people.bob, tweets[0].id)
    assert unmarked.viewer is not None
    assert not unmarked.viewer.bookmarked
    await tweets_port.unbookmark(people.bob, tweets[0].id)  # idempotent
    assert [t.id for t in (await tweets_port.bookmarks(people.bob, PageRequest())).items] == [
        tweets[2].id,
        tweets[1].id,
    ]


async def test_a_bookmarked_retweet_bookmarks_the_original_and_deletion_drops_it(
    tweets_port: TweetsPort, people: People
) -> None:
    original = await tweets_port.post(people.alice, PostTweet(text="original"), None)
    retweet = await tweets_port.retweet(people.carol, original.id)
    await tweets_port.bookmark(people.bob, retweet.id)
    assert [t.id for t in (await tweets_port.bookmarks(people.bob, PageRequest())).items] == [original.id]
    await tweets_port.delete(people.alice, original.id)
    assert (await tweets_port.bookmarks(people.bob, PageRequest())).items == []
    with pytest.raises(TweetNotFound):
        await tweets_port.bookmark(people.bob, original.id)


async def test_pins_are_own_tweets_capped_and_listed_newest_pin_first(
    tweets_port: TweetsPort, people: People
) -> None:
    tweets = [
        await tweets_port.post(people.alice, PostTweet(text=f"p{i}"), None) for i in range(MAX_PINS + 1)
    ]
    for t in tweets[:MAX_PINS]:
        pinned = await tweets_port.pin(people.alice, t.id)
        assert pinned.pinned
    assert (await tweets_port.pin(people.alice, tweets[0].id)).pinned  # idempotent, not a sixth
    with pytest.raises(TooManyPins):
        await tweets_port.pin(people.alice, tweets[MAX_PINS].id)
    with pytest.raises(NotPinnable):
        await tweets_port.pin(people.bob, tweets[0].id)
    retweet = await tweets_port.retweet(
        people.alice, (await tweets_port.post(people.bob, PostTweet(text="b"), None)).id
    )
    with pytest.raises(NotPinnable):
        await tweets_port.pin(people.alice, retweet.id)
    with pytest.raises(TweetNotFound):
        await tweets_port.pin(people.alice, "123")

    only_pinned = UserTweetsFilter(pinned=True)
    listed = await tweets_port.user_tweets(people.alice, people.bob, PageRequest(), only_pinned)
    assert [t.id for t in listed.items] == [t.id for t in reversed(tweets[:MAX_PINS])]
    assert all(t.pinned for t in listed.items)
    assert not (await tweets_port.get(tweets[MAX_PINS].id, None)).pinned

    assert not (await tweets_port.unpin(people.alice, tweets[1].id)).pinned
    await tweets_port.unpin(people.alice, tweets[1].id)  # idempotent
    assert (await tweets_port.pin(people.alice, tweets[MAX_PINS].id)).pinned  # room again
    await tweets_port.delete(people.alice, tweets[0].id)  # a deleted tweet leaves the pins
    listed = await tweets_port.user_tweets(people.alice, None, PageRequest(), only_pinned)
    assert [t.id for t in listed.items] == [tweets[MAX_PINS].id, tweets[4].id, tweets[3].id, tweets[2].id]


async def test_user_tweets_filters(
    tweets_port: TweetsPort, people: People, container: AsyncContainer
) -> None:
    media: MediaPort = await container.get(MediaPort)
    png = io.BytesIO()
    Image.new("RGB", (20, 20), (1, 2, 3)).save(png, "PNG")
    picture = await media.upload(Upload(owner_id=people.alice, filename="a.png", data=png.getvalue()))

    other = await tweets_port.post(people.bob, PostTweet(text="bob's"), None)
    plain = await tweets_port.post(people.alice, PostTweet(text="plain"), None)
    reply_to_bob = await tweets_port.post(people.alice, PostTweet(text="re", reply_to_id=other.id), None)
    thread = await tweets_port.post(people.alice, PostTweet(text="more", reply_to_id=plain.id), None)
    with_media = await tweets_port.post(people.alice, PostTweet(text="pic", media_ids=[picture.id]), None)
    retweet = await tweets_port.retweet(people.alice, other.id)

    async def ids(filters: UserTweetsFilter | None) -> list[str]:
        return [
            t.id for t in (await tweets_port.user_tweets(people.alice, None, PageRequest(), filters)).items
        ]

    everything = [retweet.id, with_media.id, thread.id, reply_to_bob.id, plain.id]
    assert await ids(None) == everything
    assert await ids(UserTweetsFilter()) == everything
    # A reply to oneself (a thread) is not excluded with the replies.
    assert await ids(UserTweetsFilter(exclude_replies=True)) == [
        retweet.id,
        with_media.id,
        thread.id,
        plain.id,
    ]
    assert await ids(UserTweetsFilter(exclude_retweets=True)) == everything[1:]
    assert await ids(UserTweetsFilter(only_media=True)) == [with_media.id]
    paged = await tweets_port.user_tweets(
        people.alice,
        None,
        PageRequest(limit=1),
        UserTweetsFilter(exclude_replies=True, exclude_retweets=True),
    )
    assert [t.id for t in paged.items] == [with_media.id]
    assert paged.next_cursor is not None
    nxt = await tweets_port.user_tweets(
        people.alice,
        None,
        PageRequest(cursor=paged.next_cursor, limit=5),
        UserTweetsFilter(exclude_replies=True, exclude_retweets=True),
    )
    assert [t.id for t in nxt.items] == [thread.id, plain.id]


async def test_favourites_and_likers_newest_first(tweets_port: TweetsPort, people: People) -> None:
    tweets = [await tweets_port.post(people.alice, PostTweet(text=f"f{i}"), None) for i in range(3)]
    for i in (2, 0, 1):
        await tweets_port.like(people.bob, tweets[i].id)
    first = await tweets_port.favourites(people.bob, PageRequest(limit=2))
    assert [t.id for t in first.items] == [tweets[1].id, tweets[0].id]
    assert all(t.viewer is not None and t.viewer.liked for t in first.items)
    assert first.next_cursor is not None
    rest = await tweets_port.favourites(people.bob, PageRequest(cursor=first.next_cursor, limit=2))
    assert ([t.id for t in rest.items], rest.next_cursor) == ([tweets[2].id], None)

    await tweets_port.like(people.carol, tweets[0].id)
    await tweets_port.like(people.alice, tweets[0].id)
    likers = await tweets_port.liked_by(tweets[0].id, PageRequest(limit=2))
    assert likers.items == [people.alice, people.carol]
    more = await tweets_port.liked_by(tweets[0].id, PageRequest(cursor=likers.next_cursor, limit=2))
    assert (more.items, more.next_cursor) == ([people.bob], None)
    with pytest.raises(TweetNotFound):
        await tweets_port.liked_by("123", PageRequest())
    with pytest.raises(InvalidCursor):
        await tweets_port.liked_by(tweets[0].id, PageRequest(cursor="bm90IGEgY3Vyc29y"))


async def test_retweeted_by_newest_first_and_through_a_retweet(
    tweets_port: TweetsPort, people: People
) -> None:
    original = await tweets_port.post(people.alice, PostTweet(text="boost me"), None)
    first = await tweets_port.retweet(people.bob, original.id)
    await tweets_port.retweet(people.carol, original.id)
    page = await tweets_port.retweeted_by(original.id, PageRequest(limit=1))
    assert page.items == [people.carol]
    rest = await tweets_port.retweeted_by(original.id, PageRequest(cursor=page.next_cursor))
    assert (rest.items, rest.next_cursor) == ([people.bob], None)
    # Asked through a retweet, the answer is about the original.
    assert (await tweets_port.retweeted_by(first.id, PageRequest())).items == [people.carol, people.bob]


async def test_context_lists_ancestors_and_the_reply_tree(tweets_port: TweetsPort, people: People) -> None:
    root = await tweets_port.post(people.alice, PostTweet(text="root"), None)
    a = await tweets_port.post(people.bob, PostTweet(text="a", reply_to_id=root.id), None)
    b = await tweets_port.post(people.carol, PostTweet(text="b", reply_to_id=a.id), None)
    c = await tweets_port.post(people.alice, PostTweet(text="c", reply_to_id=root.id), None)
    d = await tweets_port.post(people.bob, PostTweet(text="d", reply_to_id=b.id), None)
    side = await tweets_port.post(people.bob, PostTweet(text="side", reply_to_id=c.id), None)

    at_b = await tweets_port.context(b.id, people.alice)
    assert [t.id for t in at_b.ancestors] == [root.id, a.id]
    assert [t.id for t in at_b.descendants] == [d.id]
    at_root = await tweets_port.context(root.id, None)
    assert at_root.ancestors == []
    # Thread order: depth first, oldest reply first.
    assert [t.id for t in at_root.descendants] == [a.id, b.id, d.id, c.id, side.id]

    await tweets_port.delete(people.bob, a.id)
    after = await tweets_port.context(d.id, None)
    assert [t.id for t in after.ancestors] == [b.id]  # the chain ends at the deleted tweet
    with pytest.raises(TweetNotFound):
        await tweets_port.context("123", None)
