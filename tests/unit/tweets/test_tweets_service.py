"""The tweets service on a real store (SQLite and PostgreSQL), with a fake users port."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pytest

from boundaries._kernel.pagination import PageRequest
from boundaries.tweets.dto import Mention, PostTweet
from boundaries.tweets.errors import (
    EmptyTweet,
    IdempotencyKeyReused,
    InvalidMedia,
    NotTweetAuthor,
    TweetNotFound,
    TweetTooLong,
)
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted, TweetUnliked
from boundaries.users.port import UsersPort
from modules.tweets.service import TweetsService
from twitterclone.infra.ids import IdGenerator

if TYPE_CHECKING:
    from tests.unit.tweets.conftest import FakeMedia, FakeUsers
    from twitterclone.infra.store import ModuleStore

ALICE, BOB, CAROL = "1001", "1002", "1003"

Outbox = Any


def post(text: str, **kw: Any) -> PostTweet:
    return PostTweet(text=text, **kw)


async def all_tweets(service: TweetsService, author: str) -> list[str]:
    page = await service.user_tweets(author, None, PageRequest(limit=100))
    return [t.id for t in page.items]


# ------------------------------------------------------------------ posting


async def test_post_returns_the_tweet_with_its_author_and_own_conversation(service: TweetsService) -> None:
    tweet = await service.post(ALICE, post("  hello world \n"), None)
    assert tweet.text == "hello world"
    assert tweet.author.handle == "alice"
    assert tweet.conversation_id == tweet.id
    assert tweet.counts.likes == tweet.counts.replies == 0
    assert tweet.created_at.tzinfo is not None
    assert (await service.get(tweet.id, None)).text == "hello world"


async def test_entities_are_parsed_and_mentions_resolved(service: TweetsService) -> None:
    tweet = await service.post(
        ALICE,
        post(
            "Hi @Bob and @nobody, mail bob@example.com #Python #python #café_2 "
            "see https://example.org/a?b=1. and http://x.test/#frag"
        ),
        None,
    )
    assert tweet.entities.hashtags == ["python", "café_2"]
    assert tweet.entities.mentions == [
        Mention(handle="Bob", user_id=BOB),
        Mention(handle="nobody", user_id=None),
    ]
    assert tweet.entities.urls == ["https://example.org/a?b=1", "http://x.test/#frag"]


async def test_a_handle_longer_than_15_is_not_a_mention(service: TweetsService) -> None:
    tweet = await service.post(ALICE, post("@abcdefghijklmnop @bob"), None)
    assert [m.handle for m in tweet.entities.mentions] == ["bob"]


async def test_280_characters_is_fine_281_is_too_long_and_nothing_is_written(
    service: TweetsService, outbox: Outbox
) -> None:
    assert len((await service.post(ALICE, post("a" * 280), None)).text) == 280
    with pytest.raises(TweetTooLong) as err:
        await service.post(ALICE, post("a" * 281), None)
    assert "280" in err.value.detail
    assert len(await all_tweets(service, ALICE)) == 1
    assert len(await outbox(TweetPosted)) == 1


async def test_length_counts_code_points_after_nfc(service: TweetsService) -> None:
    # 'e' + combining acute composes into one code point: 560 code points in, 280 after NFC.
    composed = await service.post(ALICE, post("e\u0301" * 280), None)
    assert composed.text == "\u00e9" * 280
    assert len((await service.post(ALICE, post("😀" * 280), None)).text) == 280
    with pytest.raises(TweetTooLong):
        await service.post(ALICE, post("😀" * 281), None)
    # A flag is two code points: 141 flags are 282.
    with pytest.raises(TweetTooLong):
        await service.post(ALICE, post("🇫🇷" * 141), None)


async def test_empty_or_blank_text_is_refused(service: TweetsService) -> None:
    for text in ("", "   \n\t "):
        with pytest.raises(EmptyTweet):
            await service.post(ALICE, post(text), None)


async def test_exactly_one_tweet_posted_event_with_entities(service: TweetsService, outbox: Outbox) -> None:
    tweet = await service.post(ALICE, post("hey @bob @carol @ghost #News"), None)
    events = await outbox()
    assert [type(e) for e in events] == [TweetPosted]
    event = events[0]
    assert event.tweet_id == tweet.id
    assert event.author_id == ALICE
    assert event.hashtags == ["news"]
    assert event.mentioned_user_ids == [BOB, CAROL]
    assert event.conversation_id == tweet.id


# ------------------------------------------------------------------ replies and quotes


async def test_reply_joins_the_conversation_and_counts(service: TweetsService, outbox: Outbox) -> None:
    root = await service.post(ALICE, post("root"), None)
    reply = await service.post(BOB, post("reply", reply_to_id=root.id), None)
    deeper = await service.post(CAROL, post("deeper", reply_to_id=reply.id), None)
    assert reply.conversation_id == deeper.conversation_id == root.id
    assert reply.reply_to_author_id == ALICE
    assert deeper.reply_to_author_id == BOB
    assert (await service.get(root.id, None)).counts.replies == 1
    assert (await service.get(reply.id, None)).counts.replies == 1
    event = (await outbox(TweetPosted))[-1]
    assert (event.reply_to_id, event.reply_to_author_id) == (reply.id, BOB)


async def test_reply_to_a_missing_tweet_is_not_found_and_writes_nothing(
    service: TweetsService, outbox: Outbox
) -> None:
    with pytest.raises(TweetNotFound):
        await service.post(ALICE, post("hi", reply_to_id="123456789"), None)
    with pytest.raises(TweetNotFound):
        await service.post(ALICE, post("hi", quote_of_id="123456789"), None)
    assert await all_tweets(service, ALICE) == []
    assert await outbox() == []


async def test_quote_counts_and_shows_the_quoted_tweet(service: TweetsService, outbox: Outbox) -> None:
    original = await service.post(ALICE, post("original"), None)
    quote = await service.post(BOB, post("look at this", quote_of_id=original.id), None)
    assert quote.quoted is not None
    assert quote.quoted.id == original.id
    assert quote.quoted.author.handle == "alice"
    assert quote.conversation_id == quote.id
    assert (await service.get(original.id, None)).counts.quotes == 1
    assert (await outbox(TweetPosted))[-1].quote_of_author_id == ALICE


# ------------------------------------------------------------------ retweets


async def test_retweet_is_idempotent_and_counts(service: TweetsService, outbox: Outbox) -> None:
    original = await service.post(ALICE, post("retweet me"), None)
    first = await service.retweet(BOB, original.id)
    second = await service.retweet(BOB, original.id)
    assert first.id == second.id
    assert first.text == ""
    assert first.retweet_of_id == original.id
    assert first.retweet_of is not None
    assert first.retweet_of.text == "retweet me"
    assert first.viewer is not None
    assert first.viewer.retweeted
    got = await service.get(original.id, BOB)
    assert got.counts.retweets == 1
    assert got.viewer is not None
    assert got.viewer.retweeted
    events = await outbox(Retweeted)
    assert len(events) == 1
    assert (events[0].retweet_id, events[0].tweet_id, events[0].author_id, events[0].user_id) == (
        first.id,
        original.id,
        ALICE,
        BOB,
    )


async def test_retweeting_a_retweet_retweets_the_original(service: TweetsService) -> None:
    original = await service.post(ALICE, post("original"), None)
    bobs = await service.retweet(BOB, original.id)
    carols = await service.retweet(CAROL, bobs.id)
    assert carols.retweet_of_id == original.id
    assert (await service.get(original.id, None)).counts.retweets == 2


async def test_undo_retweet_removes_it_and_is_idempotent(service: TweetsService, outbox: Outbox) -> None:
    original = await service.post(ALICE, post("original"), None)
    retweet = await service.retweet(BOB, original.id)
    await service.undo_retweet(BOB, original.id)
    await service.undo_retweet(BOB, original.id)
    with pytest.raises(TweetNotFound):
        await service.get(retweet.id, None)
    assert (await service.get(original.id, None)).counts.retweets == 0
    assert await all_tweets(service, BOB) == []
    deleted = await outbox(TweetDeleted)
    assert [(e.tweet_id, e.author_id) for e in deleted] == [(retweet.id, BOB)]


async def test_undo_retweet_by_the_retweet_id_works_too(service: TweetsService) -> None:
    original = await service.post(ALICE, post("original"), None)
    retweet = await service.retweet(BOB, original.id)
    await service.undo_retweet(BOB, retweet.id)
    assert (await service.get(original.id, None)).counts.retweets == 0


# ------------------------------------------------------------------ deleting


async def test_deleting_someone_elses_tweet_is_forbidden_and_keeps_it(service: TweetsService) -> None:
    tweet = await service.post(ALICE, post("mine"), None)
    with pytest.raises(NotTweetAuthor):
        await service.delete(BOB, tweet.id)
    assert (await service.get(tweet.id, None)).text == "mine"
    with pytest.raises(TweetNotFound):
        await service.delete(ALICE, "99999")


async def test_delete_removes_tweet_likes_retweets_and_search_and_fixes_counts(
    service: TweetsService, outbox: Outbox
) -> None:
    root = await service.post(ALICE, post("root"), None)
    quoted = await service.post(CAROL, post("quoted"), None)
    doomed = await service.post(BOB, post("doomed #zebra", reply_to_id=root.id, quote_of_id=quoted.id), None)
    await service.like(ALICE, doomed.id)
    retweet = await service.retweet(CAROL, doomed.id)
    assert (await service.get(root.id, None)).counts.replies == 1

    await service.delete(BOB, doomed.id)

    assert await service.get_many([doomed.id, retweet.id], None) == []
    assert (await service.get(root.id, None)).counts.replies == 0
    assert (await service.get(quoted.id, None)).counts.quotes == 0
    assert (await service.search("zebra", None, PageRequest())).items == []
    assert (await service.replies(root.id, None, PageRequest())).items == []
    deleted = {(e.tweet_id, e.author_id) for e in await outbox(TweetDeleted)}
    assert deleted == {(doomed.id, BOB), (retweet.id, CAROL)}
    # Liking again starts from zero: the old like went with the tweet.
    with pytest.raises(TweetNotFound):
        await service.like(ALICE, doomed.id)


async def test_deleting_ones_retweet_through_delete_undoes_it(service: TweetsService) -> None:
    original = await service.post(ALICE, post("original"), None)
    retweet = await service.retweet(BOB, original.id)
    await service.delete(BOB, retweet.id)
    assert (await service.get(original.id, None)).counts.retweets == 0
    assert (await service.get(original.id, None)).text == "original"


# ------------------------------------------------------------------ likes


async def test_like_and_unlike_are_idempotent_and_emit_only_on_change(
    service: TweetsService, outbox: Outbox
) -> None:
    tweet = await service.post(ALICE, post("like me"), None)
    liked = await service.like(BOB, tweet.id)
    again = await service.like(BOB, tweet.id)
    assert liked.counts.likes == again.counts.likes == 1
    assert again.viewer is not None
    assert again.viewer.liked
    await service.like(CAROL, tweet.id)
    assert (await service.get(tweet.id, None)).counts.likes == 2
    unliked = await service.unlike(BOB, tweet.id)
    await service.unlike(BOB, tweet.id)
    assert unliked.counts.likes == 1
    assert unliked.viewer is not None
    assert not unliked.viewer.liked
    assert len(await outbox(TweetLiked)) == 2
    unlikes = await outbox(TweetUnliked)
    assert [(e.user_id, e.author_id) for e in unlikes] == [(BOB, ALICE)]


async def test_liking_a_missing_tweet_is_not_found(service: TweetsService) -> None:
    with pytest.raises(TweetNotFound):
        await service.like(BOB, "424242")
    with pytest.raises(TweetNotFound):
        await service.unlike(BOB, "not-an-id")


# ------------------------------------------------------------------ idempotency


async def test_same_idempotency_key_and_body_returns_the_same_tweet(
    service: TweetsService, outbox: Outbox
) -> None:
    first = await service.post(ALICE, post("once"), "key-1")
    second = await service.post(ALICE, post("  once "), "key-1")
    assert first.id == second.id
    assert await all_tweets(service, ALICE) == [first.id]
    assert len(await outbox(TweetPosted)) == 1


async def test_same_idempotency_key_with_another_body_is_a_conflict(service: TweetsService) -> None:
    await service.post(ALICE, post("once"), "key-1")
    with pytest.raises(IdempotencyKeyReused):
        await service.post(ALICE, post("something else"), "key-1")
    assert len(await all_tweets(service, ALICE)) == 1


async def test_idempotency_keys_belong_to_their_author(service: TweetsService) -> None:
    a = await service.post(ALICE, post("same"), "key-1")
    b = await service.post(BOB, post("same"), "key-1")
    assert a.id != b.id


async def test_idempotency_keys_expire_after_their_window(service: TweetsService) -> None:
    kept = await service.post(ALICE, post("kept"), "key-1")
    await service.post(BOB, post("gone"), "key-2")
    service.idempotency_ttl_s = 3600
    assert await service.expire_idempotency_keys() == 0
    assert (await service.post(ALICE, post("kept"), "key-1")).id == kept.id

    service.idempotency_ttl_s = 0  # every key is now past its window
    anew = await service.post(ALICE, post("kept"), "key-1")  # the reuse posts, the key moves on
    assert anew.id != kept.id
    assert await service.expire_idempotency_keys() == 2
    assert await service.expire_idempotency_keys() == 0


# ------------------------------------------------------------------ hydration


async def test_get_many_keeps_order_drops_missing_and_calls_users_once(
    store: ModuleStore, service: TweetsService, users: FakeUsers
) -> None:
    a = await service.post(ALICE, post("a"), None)
    b = await service.post(BOB, post("b", quote_of_id=a.id), None)
    c = await service.retweet(CAROL, b.id)
    await service.like(CAROL, a.id)
    # A fresh process over the same store: no author known yet (no events, nothing learnt).
    service = TweetsService(store, IdGenerator(worker_id=9), cast(UsersPort, users))
    users.authors_calls.clear()

    got = await service.get_many([c.id, "77777", a.id, "bogus", b.id, a.id], CAROL)

    assert [t.id for t in got] == [c.id, a.id, b.id]
    assert len(users.authors_calls) == 1
    assert set(users.authors_calls[0]) == {ALICE, BOB, CAROL}
    assert got[1].author.handle == "alice"
    # Known now: the next read asks users nothing.
    await service.get_many([c.id, a.id, b.id], CAROL)
    assert len(users.authors_calls) == 1
    retweet, first, quote = got
    assert retweet.retweet_of is not None
    assert retweet.retweet_of.quoted is not None  # a retweeted quote still shows what it quotes
    assert retweet.retweet_of.quoted.id == a.id
    assert quote.quoted is not None
    assert quote.quoted.quoted is None
    assert first.viewer is not None
    assert first.viewer.liked
    assert not first.viewer.retweeted
    assert quote.viewer is not None
    assert quote.viewer.retweeted
    assert (await service.get_many([], None)) == []


async def test_get_many_of_a_large_batch_is_still_one_users_call(
    store: ModuleStore, service: TweetsService, users: FakeUsers
) -> None:
    ids = [
        (await service.post(author, post(f"t{i}"), None)).id
        for i, author in enumerate([ALICE, BOB, CAROL] * 10)
    ]
    service = TweetsService(store, IdGenerator(worker_id=9), cast(UsersPort, users))  # knows no author
    users.authors_calls.clear()
    got = await service.get_many(list(reversed(ids)), BOB)
    assert [t.id for t in got] == list(reversed(ids))
    assert len(users.authors_calls) == 1


async def test_cached_tweets_show_fresh_counts_and_vanish_once_deleted(service: TweetsService) -> None:
    a = await service.post(ALICE, post("a"), None)
    b = await service.post(BOB, post("b", quote_of_id=a.id), None)
    first = await service.get_many([a.id, b.id], CAROL)  # both now in the static cache
    assert [t.counts.likes for t in first] == [0, 0]
    misses = service._static.misses

    await service.like(CAROL, a.id)
    await service.like(ALICE, b.id)
    again = await service.get_many([a.id, b.id], CAROL)
    assert service._static.misses == misses  # served from the cache...
    assert [t.counts.likes for t in again] == [1, 1]  # ...with the counts of now
    assert again[0].viewer is not None
    assert again[0].viewer.liked
    assert again[1].quoted is not None
    assert again[1].quoted.counts.likes == 1

    await service.delete(ALICE, a.id)
    (only,) = await service.get_many([a.id, b.id], CAROL)
    assert only.id == b.id
    assert only.quoted is None  # the quoted tweet is gone, even though it was cached


async def test_the_static_cache_is_bounded(store: ModuleStore, users: FakeUsers) -> None:

    small = TweetsService(store, IdGenerator(worker_id=5), cast(UsersPort, users), static_cache_size=3)
    ids = [(await small.post(ALICE, post(f"t{i}"), None)).id for i in range(5)]
    assert [t.id for t in await small.get_many(ids, None)] == ids
    assert len(small._static._entries) == 3
    assert [t.id for t in await small.get_many(ids, None)] == ids  # misses are read again


async def test_viewer_flags_are_each_viewers_own_and_about_the_original(service: TweetsService) -> None:
    liked = await service.post(ALICE, post("liked"), None)
    retweeted = await service.post(ALICE, post("retweeted"), None)
    bookmarked = await service.post(ALICE, post("bookmarked"), None)
    plain = await service.post(ALICE, post("plain"), None)
    await service.like(BOB, liked.id)
    bobs_retweet = await service.retweet(BOB, retweeted.id)
    await service.bookmark(BOB, bookmarked.id)
    carols_retweet = await service.retweet(CAROL, liked.id)
    ids = [liked.id, retweeted.id, bookmarked.id, plain.id, carols_retweet.id, bobs_retweet.id]

    def flags(page: list[Any]) -> list[tuple[bool, bool, bool]]:
        return [(t.viewer.liked, t.viewer.retweeted, t.viewer.bookmarked) for t in page]

    # A retweet shows the viewer's flags on its original, as the original does.
    bobs = await service.get_feed(ids, BOB)
    assert flags(bobs) == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
        (False, False, False),
        (True, False, False),
        (False, True, False),
    ]
    carols = await service.get_many(ids, CAROL)
    assert flags(carols) == [
        (False, True, False),
        (False, False, False),
        (False, False, False),
        (False, False, False),
        (False, True, False),
        (False, False, False),
    ]
    assert all(t.viewer is None for t in await service.get_many(ids, None))


async def test_a_page_whose_references_left_the_cache_still_shows_them(
    store: ModuleStore, users: FakeUsers
) -> None:
    small = TweetsService(store, IdGenerator(worker_id=6), cast(UsersPort, users), static_cache_size=3)
    quoted = await small.post(ALICE, post("quoted"), None)
    quote = await small.post(BOB, post("quote", quote_of_id=quoted.id), None)
    retweet = await small.retweet(CAROL, quote.id)
    first = await small.get_many([retweet.id], ALICE)  # every one of the three cached now
    misses = small._static.misses
    assert (await small.get_many([retweet.id], ALICE)) == first
    assert small._static.misses == misses  # served from the cache alone
    # What the retweeted quote quotes leaves the cache (the retweet and the quote stay): read again.
    del small._static._entries[int(quoted.id)]
    (again,) = await small.get_many([retweet.id], ALICE)
    assert small._static.misses == misses + 1
    assert again == first[0]
    assert again.retweet_of is not None
    assert again.retweet_of.quoted is not None
    assert again.retweet_of.quoted.id == quoted.id


async def test_anonymous_reads_have_no_viewer(service: TweetsService) -> None:
    tweet = await service.post(ALICE, post("hi"), None)
    assert (await service.get(tweet.id, None)).viewer is None


# ------------------------------------------------------------------ pages


async def test_user_tweets_newest_first_with_retweets_and_cursor(service: TweetsService) -> None:
    other = await service.post(BOB, post("bob's"), None)
    mine = [(await service.post(ALICE, post(f"n{i}"), None)).id for i in range(4)]
    retweet = await service.retweet(ALICE, other.id)
    expected = [retweet.id, *reversed(mine)]
    first = await service.user_tweets(ALICE, None, PageRequest(limit=3))
    assert [t.id for t in first.items] == expected[:3]
    assert first.next_cursor is not None
    rest = await service.user_tweets(ALICE, None, PageRequest(limit=3, cursor=first.next_cursor))
    assert [t.id for t in rest.items] == expected[3:]
    assert rest.next_cursor is None


async def test_user_tweets_show_counts_and_flags_of_the_page_and_of_what_it_references(
    service: TweetsService,
) -> None:
    mine = await service.post(ALICE, post("mine"), None)
    bobs = await service.post(BOB, post("bob's"), None)
    retweet = await service.retweet(ALICE, bobs.id)
    quote = await service.post(ALICE, post("look", quote_of_id=bobs.id), None)
    await service.like(CAROL, mine.id)
    await service.like(CAROL, bobs.id)
    await service.bookmark(CAROL, quote.id)
    await service.post(BOB, post("a reply", reply_to_id=mine.id), None)

    page = await service.user_tweets(ALICE, CAROL, PageRequest(limit=2))
    assert [t.id for t in page.items] == [quote.id, retweet.id]
    assert page.next_cursor is not None
    shown_quote, shown_retweet = page.items
    assert shown_quote.viewer is not None
    assert (shown_quote.viewer.liked, shown_quote.viewer.bookmarked) == (False, True)
    assert shown_quote.quoted is not None
    assert (shown_quote.quoted.counts.likes, shown_quote.quoted.counts.quotes) == (1, 1)
    assert shown_retweet.viewer is not None
    assert shown_retweet.viewer.liked  # the flags of a retweet are about its original
    assert shown_retweet.retweet_of is not None
    assert shown_retweet.retweet_of.counts.retweets == 1
    rest = await service.user_tweets(ALICE, CAROL, PageRequest(limit=2, cursor=page.next_cursor))
    assert [(t.id, t.counts.likes, t.counts.replies) for t in rest.items] == [(mine.id, 1, 1)]
    assert rest.items[0].viewer is not None
    assert rest.items[0].viewer.liked
    anonymous = await service.user_tweets(ALICE, None, PageRequest(limit=5))
    assert [t.id for t in anonymous.items] == [quote.id, retweet.id, mine.id]
    assert all(t.viewer is None for t in anonymous.items)
    assert anonymous.items[2].counts.likes == 1

    await service.delete(BOB, bobs.id)  # the retweet goes with it; the quote stays, quoting nothing
    after = await service.user_tweets(ALICE, CAROL, PageRequest(limit=5))
    assert [t.id for t in after.items] == [quote.id, mine.id]
    assert after.items[0].quoted is None


async def test_replies_oldest_first_direct_only(service: TweetsService) -> None:
    root = await service.post(ALICE, post("root"), None)
    direct = [(await service.post(BOB, post(f"r{i}", reply_to_id=root.id), None)).id for i in range(3)]
    await service.post(CAROL, post("nested", reply_to_id=direct[0]), None)
    page = await service.replies(root.id, None, PageRequest(limit=2))
    assert [t.id for t in page.items] == direct[:2]
    assert page.next_cursor is not None
    rest = await service.replies(root.id, None, PageRequest(limit=2, cursor=page.next_cursor))
    assert [t.id for t in rest.items] == direct[2:]
    with pytest.raises(TweetNotFound):
        await service.replies("5555", None, PageRequest())


async def test_recent_refs_newest_first_per_author_limit_with_retweets(service: TweetsService) -> None:
    posted = [await service.post(ALICE, post(f"a{i}"), None) for i in range(3)]
    a = [t.id for t in posted]
    b = (await service.post(BOB, post("b"), None)).id
    retweet = (await service.retweet(CAROL, a[0])).id
    await service.post(BOB, post("not asked"), None)
    refs = await service.recent_refs([ALICE, CAROL, "bogus"], 2)
    assert [r.tweet_id for r in refs] == [retweet, a[2], a[1]]
    assert {r.author_id for r in refs} == {ALICE, CAROL}
    assert all(r.created_at.tzinfo is not None for r in refs)
    assert [r.created_at for r in refs[1:]] == [posted[2].created_at, posted[1].created_at]
    assert b not in [r.tweet_id for r in await service.recent_refs([ALICE], 10)]
    assert await service.recent_refs([], 5) == []


# ------------------------------------------------------------------ search


async def test_search_finds_words_and_hashtags_newest_first(service: TweetsService) -> None:
    older = await service.post(ALICE, post("I love #Python and snakes"), None)
    newer = await service.post(BOB, post("python the language, no hashtag"), None)
    await service.post(CAROL, post("nothing to see"), None)
    words = await service.search("python", None, PageRequest())
    assert [t.id for t in words.items] == [newer.id, older.id]
    tags = await service.search("#python", None, PageRequest())
    assert [t.id for t in tags.items] == [older.id]
    both = await service.search("snakes PYTHON", None, PageRequest())
    assert [t.id for t in both.items] == [older.id]


async def test_search_pages_with_a_cursor(service: TweetsService) -> None:
    ids = [(await service.post(ALICE, post(f"topic number {i}"), None)).id for i in range(5)]
    first = await service.search("topic", None, PageRequest(limit=3))
    assert [t.id for t in first.items] == list(reversed(ids))[:3]
    rest = await service.search("topic", None, PageRequest(limit=3, cursor=first.next_cursor))
    assert [t.id for t in rest.items] == list(reversed(ids))[3:]
    assert rest.next_cursor is None


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        "AND",
        "a AND",
        "OR NOT",
        "*",
        "py*",
        "NEAR(",
        "NEAR(a b",
        "body:x",
        "{tags}: x",
        "'; DROP TABLE",
        "#",
        "-",
        "^x",
        "(",
        ")",
    ],
)
async def test_odd_search_input_never_fails(service: TweetsService, query: str) -> None:
    await service.post(ALICE, post("AND near body x py"), None)
    page = await service.search(query, None, PageRequest())
    assert isinstance(page.items, list)


async def test_operators_are_searched_as_words(service: TweetsService) -> None:
    hit = await service.post(ALICE, post("this AND that"), None)
    await service.post(ALICE, post("this or that"), None)
    assert [t.id for t in (await service.search("AND", None, PageRequest())).items] == [hit.id]


# ------------------------------------------------------------------ media


async def test_media_ids_are_refused_without_a_media_module(service: TweetsService) -> None:
    with pytest.raises(InvalidMedia) as err:
        await service.post(ALICE, post("pic", media_ids=["5001"]), None)
    assert "5001" in err.value.detail
    assert await all_tweets(service, ALICE) == []


async def test_media_are_checked_kept_and_reported_on_delete(
    service_with_media: TweetsService, media: FakeMedia, outbox: Outbox
) -> None:
    tweet = await service_with_media.post(ALICE, post("pics", media_ids=["5001", "5002"]), None)
    assert tweet.media_ids == ["5001", "5002"]
    assert media.checks == [(ALICE, ["5001", "5002"])]
    with pytest.raises(Exception, match="5003"):
        await service_with_media.post(ALICE, post("not mine", media_ids=["5003"]), None)
    await service_with_media.delete(ALICE, tweet.id)
    assert (await outbox(TweetDeleted))[0].media_ids == ["5001", "5002"]
