"""The tweets module: tweets, replies, quotes, retweets, likes, and full-text search.

Every write runs in one transaction with its events (outbox). Reads hydrate in a fixed number
of statements: the counts of every tweet involved together with the viewer's likes, retweets and
bookmarks (one statement), and the authors from the module's own projection (``authors.py``;
users is asked only for authors it has never heard of); what never changes about a tweet comes
from an in-process cache, read from the table only on a miss.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from boundaries._kernel.errors import InvalidInput, Unavailable
from boundaries._kernel.ids import Id, is_id, parse_ids
from boundaries._kernel.pagination import Page, PageRequest
from boundaries.media.port import MediaPort
from boundaries.tweets.dto import (
    AuthorActivity,
    Context,
    Counts,
    Entities,
    Mention,
    PostTweet,
    PublicChanges,
    Tweet,
    TweetRef,
    UserTweetsFilter,
    Viewer,
    Visibility,
)
from boundaries.tweets.errors import (
    EmptyTweet,
    IdempotencyKeyReused,
    InvalidLanguage,
    InvalidMedia,
    NotTweetAuthor,
    SpoilerTooLong,
    TweetNotFound,
    TweetNotShareable,
    TweetTooLong,
)
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted, TweetUnliked
from boundaries.users.directory import UserDirectoryPort
from boundaries.users.dto import Author
from modules.tweets import activity
from modules.tweets.audience import PUBLIC, Viewpoint, listed, shareable
from modules.tweets.authors import AuthorProjection
from modules.tweets.bookmarks import Bookmarks
from modules.tweets.conversation import Conversations
from modules.tweets.engagement import Engagement
from modules.tweets.languages import ISO_639_1
from modules.tweets.live import LivePublic
from modules.tweets.pins import Pins
from modules.tweets.tables import (
    SEARCH_FIELDS,
    SQLITE_FTS_TABLE,
    bookmarks,
    idempotency_keys,
    likes,
    pins,
    tweets,
)
from modules.tweets.text import normalize_text, parse_entities, search_terms
from twitterclone.infra.cursor import decode_cursor, encode_cursor
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.search import Term, full_text_index
from twitterclone.infra.sql import PerDialect, hot_read_utc, insert_or_ignore
from twitterclone.infra.store import HotRead, HotWrite, ModuleStore, Reader, Transaction

T = TypeVar("T")

log = logging.getLogger("twitterclone.tweets")
#: A row of ``tweets`` as selected with ``_COLUMNS``.
TweetRow = sa.Row[*tuple[Any, ...]]

#: Longest Idempotency-Key accepted.
MAX_IDEMPOTENCY_KEY = 128
#: Expired Idempotency-Keys deleted per transaction by the cleanup job.
IDEMPOTENCY_PURGE_BATCH = 500
#: recent_refs returns at most this many refs per author.
MAX_REFS_PER_AUTHOR = 800
#: Authors per recent_refs statement (SQLite caps compound selects at 500).
_REFS_CHUNK = 200
#: Per number of authors (up to ``_REFS_CHUNK``): the newest refs of each (``a0``, ``a1``, …),
#: ``limit`` of them, one index range scan per author (author_id, id desc) glued with UNION ALL.
#: Built once per number: every follow's back-fill asks (for one followee, mostly).
_RECENT_REFS: dict[int, HotRead] = {}


def _recent_refs(authors: int) -> HotRead:
    query = _RECENT_REFS.get(authors)
    if query is None:
        limit = sa.bindparam("limit", type_=sa.Integer())
        parts = [
            sa.select(
                sa.select(_t.c.id, _t.c.author_id, _t.c.created_at)
                .where(_t.c.author_id == sa.bindparam(f"a{i}"))
                .order_by(_t.c.id.desc())
                .limit(limit)
                .subquery()
            )
            for i in range(authors)
        ]
        query = _RECENT_REFS[authors] = HotRead(parts[0] if authors == 1 else sa.union_all(*parts))
    return query


_MAX_BIGINT = 2**63 - 1

_t = tweets
#: What never changes about a tweet once posted.
_STATIC_COLUMNS = (
    _t.c.id,
    _t.c.author_id,
    _t.c.text,
    _t.c.created_at,
    _t.c.conversation_id,
    _t.c.reply_to_id,
    _t.c.reply_to_author_id,
    _t.c.quote_of_id,
    _t.c.retweet_of_id,
    _t.c.entities,
    _t.c.media_ids,
    _t.c.visibility,
    _t.c.spoiler_text,
    _t.c.sensitive,
    _t.c.language,
)
_COLUMNS = (
    *_STATIC_COLUMNS,
    _t.c.like_count,
    _t.c.retweet_count,
    _t.c.reply_count,
    _t.c.quote_count,
)

#: The row a like, retweet, bookmark or reply acts on, built once (``_load_target``).
_TARGET_BY_ID = sa.select(*_COLUMNS).where(_t.c.id == sa.bindparam("id"))
#: A new like's count, built once.
_LIKE_COUNT_UP = HotWrite(
    sa.update(_t).where(_t.c.id == sa.bindparam("target")).values(like_count=_t.c.like_count + 1), ("target",)
)
#: A like's row (none when the user liked the tweet already), built once per dialect.
_INSERT_LIKE = PerDialect(
    lambda dialect: HotWrite(insert_or_ignore(dialect, likes), ("user_id", "tweet_id", "created_at"))
)

#: What changes about tweets: their counts, whether their author pinned them (and, by having a
#: row at all, that they still exist), read from the tweets joined with their pins.
_COUNT_COLUMNS = (
    _t.c.id,
    _t.c.like_count,
    _t.c.retweet_count,
    _t.c.reply_count,
    _t.c.quote_count,
    pins.c.tweet_id.is_not(None),
)
_WITH_PINS = _t.outerjoin(pins, pins.c.tweet_id == _t.c.id)
_BY_IDS = _t.c.id.in_(sa.bindparam("ids", expanding=True))
#: The counts of some tweets, for an anonymous reader.
_COUNTS_BY_IDS = HotRead(sa.select(*_COUNT_COLUMNS).select_from(_WITH_PINS).where(_BY_IDS))
_retweets = tweets.alias("viewer_retweets")
#: The counts, and the viewer's flags on each tweet: whether they liked it, retweeted it,
#: bookmarked it. One statement for a signed-in reader's page instead of two (the flags were a
#: ``UNION ALL`` of three ``IN`` lists, which cost SQLite more than the counts themselves): each
#: flag is one probe of a primary or unique index per tweet.
_COUNTED_COLUMNS = (
    *_COUNT_COLUMNS,
    sa.exists().where(likes.c.user_id == sa.bindparam("viewer"), likes.c.tweet_id == _t.c.id).correlate(_t),
    sa.exists()
    .where(_retweets.c.author_id == sa.bindparam("viewer"), _retweets.c.retweet_of_id == _t.c.id)
    .correlate(_t),
    sa.exists()
    .where(bookmarks.c.user_id == sa.bindparam("viewer"), bookmarks.c.tweet_id == _t.c.id)
    .correlate(_t),
)
_COUNTS_AND_FLAGS_BY_IDS = HotRead(sa.select(*_COUNTED_COLUMNS).select_from(_WITH_PINS).where(_BY_IDS))
#: A page of one author's tweets of some visibilities, newest first, below ``before`` and above
#: ``after`` (a user timeline without filters, most of them), each with what
#: ``_COUNTS_AND_FLAGS_BY_IDS`` reads of it (a null viewer, an anonymous reader, has no flags):
#: the page and its counts in one statement, built once; hydration then reads counts only for
#: what the page's tweets reference (originals of retweets, quoted tweets).
_USER_PAGE_COUNTED = HotRead(
    sa.select(*_COUNTED_COLUMNS)
    .select_from(_WITH_PINS)
    .where(
        _t.c.author_id == sa.bindparam("author"),
        _t.c.visibility.in_(sa.bindparam("shown", expanding=True)),
        _t.c.id < sa.bindparam("before"),
        _t.c.id > sa.bindparam("after"),
    )
    .order_by(_t.c.id.desc())
    .limit(sa.bindparam("limit"))
)
_STATIC_BY_IDS = sa.select(*_STATIC_COLUMNS).where(_t.c.id.in_(sa.bindparam("ids", expanding=True)))
#: A new tweet, its values given as parameters: built once (``insert().values(...)`` for every post
#: cost more in building the statement and its cache key than running it), and run straight through
#: the driver on SQLite (``HotWrite``).
_INSERT_TWEET = HotWrite(
    _t.insert(),
    (
        "id",
        "author_id",
        "text",
        "created_at",
        "conversation_id",
        "reply_to_id",
        "reply_to_author_id",
        "quote_of_id",
        "retweet_of_id",
        "entities",
        "media_ids",
        "visibility",
        "spoiler_text",
        "sensitive",
        "language",
    ),
)


class StaticTweet(msgspec.Struct, frozen=True, gc=False):
    """The part of a tweet that never changes after it is posted (no counts), decoded once."""

    author_id: int
    text: str
    created_at: datetime
    conversation_id: int
    reply_to_id: int | None
    reply_to_author_id: int | None
    quote_of_id: int | None
    retweet_of_id: int | None
    entities: Entities
    media_ids: list[str]
    visibility: Visibility = "public"
    spoiler_text: str = ""
    sensitive: bool = False
    language: str | None = None
    #: The tweet as shown, with what changes (author details, counts, the viewer's flags, what
    #: it embeds) left at their defaults: a read fills those in with one ``replace``.
    shown: Tweet | None = None

    def addressed(self) -> frozenset[int]:
        """The users it mentions, and the author it replies to (who may see it when not open)."""
        addressed = {int(m.user_id) for m in self.entities.mentions if m.user_id is not None}
        if self.reply_to_author_id is not None:
            addressed.add(self.reply_to_author_id)
        return frozenset(addressed)


class StaticTweets:
    """A bounded in-process cache of ``StaticTweet`` by id (least recently used out first).

    Tweets are never edited, so an entry is never stale: a deleted tweet simply has no row in
    the counts query that every read makes, and drops out there. Nothing to invalidate, in any
    topology (one process or many replicas).
    """

    def __init__(self, size: int) -> None:
        self._size = max(size, 0)
        self._entries: OrderedDict[int, StaticTweet] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def load(self, conn: Reader, ids: list[int]) -> dict[int, StaticTweet]:
        """The static parts of ``ids`` that exist (or are cached), reading only the misses."""
        found: dict[int, StaticTweet] = {}
        missing: list[int] = []
        entries = self._entries
        for i in ids:
            entry = entries.get(i)
            if entry is None:
                missing.append(i)
            else:
                entries.move_to_end(i)
                found[i] = entry
        self.hits += len(found)
        self.misses += len(missing)
        if missing:
            for r in await conn.execute(_STATIC_BY_IDS, {"ids": missing}):
                entry = _with_shown(
                    r.id,
                    StaticTweet(
                        author_id=r.author_id,
                        text=r.text,
                        created_at=r.created_at,
                        conversation_id=r.conversation_id,
                        reply_to_id=r.reply_to_id,
                        reply_to_author_id=r.reply_to_author_id,
                        quote_of_id=r.quote_of_id,
                        retweet_of_id=r.retweet_of_id,
                        entities=msgspec.convert(r.entities, Entities),
                        media_ids=list(r.media_ids or []),
                        visibility=r.visibility,
                        spoiler_text=r.spoiler_text,
                        sensitive=bool(r.sensitive),
                        language=r.language,
                    ),
                )
                found[r.id] = entry
                if self._size:
                    entries[r.id] = entry
            while len(entries) > self._size:
                entries.popitem(last=False)
        return found

    def cached_page(self, ids: list[int]) -> dict[int, StaticTweet] | None:
        """The static parts of ``ids`` and of what they reference (as ``_hydrate`` loads them:
        retweets' originals and quoted tweets, and what retweeted quotes quote), when every one
        of them is cached; None at the first miss (the caller then reads as usual). A page read
        again is served with no connection taken and no statement."""
        entries = self._entries
        found: dict[int, StaticTweet] = {}
        for i in ids:
            entry = entries.get(i)
            if entry is None:
                return None
            found[i] = entry
        for entry in list(found.values()):
            for ref in (entry.retweet_of_id, entry.quote_of_id):
                if ref is not None and ref not in found:
                    referenced = entries.get(ref)
                    if referenced is None:
                        return None
                    found[ref] = referenced
        for entry in list(found.values()):
            original = found.get(entry.retweet_of_id) if entry.retweet_of_id is not None else None
            nested = original.quote_of_id if original is not None else None
            if nested is not None and nested not in found:
                quoted = entries.get(nested)
                if quoted is None:
                    return None
                found[nested] = quoted
        for i in found:
            entries.move_to_end(i)
        self.hits += len(found)
        return found

    def put(self, tweet_id: int, entry: StaticTweet) -> None:
        """Remember a tweet just posted (its answer and the first reads need no query)."""
        if self._size:
            self._entries[tweet_id] = entry if entry.shown is not None else _with_shown(tweet_id, entry)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


def _with_shown(tweet_id: int, static: StaticTweet) -> StaticTweet:
    """``static`` with its ``shown`` tweet built (an author known by id only, zero counts)."""
    shown = Tweet(
        id=str(tweet_id),
        author=Author(id=str(static.author_id), handle="", display_name=""),
        text=static.text,
        created_at=static.created_at,
        conversation_id=str(static.conversation_id),
        reply_to_id=_opt_str(static.reply_to_id),
        reply_to_author_id=_opt_str(static.reply_to_author_id),
        quote_of_id=_opt_str(static.quote_of_id),
        retweet_of_id=_opt_str(static.retweet_of_id),
        entities=static.entities,
        media_ids=list(static.media_ids),
        visibility=static.visibility,
        spoiler_text=static.spoiler_text,
        sensitive=static.sensitive,
        language=static.language,
    )
    return msgspec.structs.replace(static, shown=shown)


#: The viewer's flags on a tweet: eight possible values, shared (they are frozen).
_VIEWERS = {
    (liked, retweeted, bookmarked): Viewer(liked=liked, retweeted=retweeted, bookmarked=bookmarked)
    for liked in (False, True)
    for retweeted in (False, True)
    for bookmarked in (False, True)
}


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)


def _as_int(value: str | None) -> int | None:
    """A well-formed id as an int, else None."""
    return int(value) if value is not None and is_id(value) else None


def _actor(user_id: str) -> int:
    actor = _as_int(user_id)
    if actor is None:
        raise InvalidInput(f"not a user id: {user_id!r}", field="user_id")
    return actor


def _tweet_id(tweet_id: str) -> int:
    tid = _as_int(tweet_id)
    if tid is None:
        raise TweetNotFound(f"no tweet {tweet_id!r}")
    return tid


def _unique_ints(values: Iterable[int | None]) -> list[int]:
    return list(dict.fromkeys(v for v in values if v is not None))


def _page_before(page: PageRequest) -> int:
    before = _MAX_BIGINT if page.cursor is None else decode_cursor(page.cursor, int)
    return before if page.max_id is None else min(before, int(page.max_id))


def _page_after(page: PageRequest) -> int:
    """The lower id bound of a page (exclusive): ``since_id`` or ``min_id``, the higher of them."""
    bounds = [int(b) for b in (page.since_id, page.min_id) if b is not None]
    return max(bounds) if bounds else -1


class TweetsService:
    """Implements ``TweetsPort`` over the module's own store."""

    def __init__(
        self,
        store: ModuleStore,
        ids: IdGenerator,
        users: UserDirectoryPort,
        *,
        max_length: int = 280,
        media: MediaPort | None = None,
        static_cache_size: int = 100_000,
        idempotency_ttl_s: float = 86_400,
        live_redis: Redis | None = None,
        key_prefix: str = "",
    ) -> None:
        self._store = store
        #: How long an Idempotency-Key is remembered; after that a reuse posts a new tweet.
        self.idempotency_ttl_s = idempotency_ttl_s
        self.store = store
        self._ids = ids
        self._users = users
        self._max_length = max_length
        self._media = media
        self._static = StaticTweets(static_cache_size)
        #: Authors' handles and display names, kept by the module from users' events.
        self.authors = AuthorProjection(store, users)
        self._search = full_text_index(
            store, table="tweets", key="id", fields=SEARCH_FIELDS, fts5_table=SQLITE_FTS_TABLE
        )
        self.bookmark_lists = Bookmarks(self, store, ids)
        self.pin_lists = Pins(self, store)
        self.engagement = Engagement(self, store)
        self.conversations = Conversations(self, store)
        #: Public tweets posted or deleted since a position, for live streams (``live.py``).
        self.live = LivePublic(store, ids, redis=live_redis, key_prefix=key_prefix)

    # ---------------------------------------------------------------- posting

    async def post(self, author_id: Id, command: PostTweet, idempotency_key: str | None) -> Tweet:
        """Post a tweet; the same idempotency key and body return the same tweet."""
        author = _actor(author_id)
        text = normalize_text(command.text)
        if not text:
            raise EmptyTweet("a tweet needs some text", field="text")
        if len(text) > self._max_length:
            raise TweetTooLong(
                f"a tweet has at most {self._max_length} characters; this one has {len(text)}", field="text"
            )
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise InvalidInput(
                f"an idempotency key has 1 to {MAX_IDEMPOTENCY_KEY} characters", field="Idempotency-Key"
            )
        reply_to = self._referenced_id(command.reply_to_id)
        quote_of = self._referenced_id(command.quote_of_id)
        media_ids = list(command.media_ids)
        if len(set(media_ids)) != len(media_ids):
            raise InvalidMedia("a media id is attached twice", field="media_ids")
        warning = self._warning(command)
        hashed: list[Any] = [text, command.reply_to_id, command.quote_of_id, media_ids]
        if command.visibility != PUBLIC:  # public keeps the hashes keys were stored with
            hashed.append(command.visibility)
        if warning != ("", False, None):  # tweets without them hash as before
            hashed.append(list(warning))
        body_hash = hashlib.sha256(msgspec.json.encode(hashed)).hexdigest()

        if idempotency_key is not None:
            async with self._store.read() as conn:
                earlier = await self._replayed(conn, author, idempotency_key, body_hash)
            if earlier is not None:
                return await self._tweet_or_gone(earlier, author_id)

        # What one replies to or quotes must be visible to the author; a quote must be shareable.
        if reply_to is not None:
            await self._visible_target(author, reply_to)
        if quote_of is not None:
            quoted = await self._visible_target(author, quote_of)
            if not shareable(quoted.visibility):
                raise TweetNotShareable(
                    "a followers-only or direct tweet cannot be quoted", field="quote_of_id"
                )

        if media_ids:
            if self._media is None:
                raise InvalidMedia(f"unknown media id {media_ids[0]}", field="media_ids")
            await self._media.check_attachable(author_id, media_ids)

        parsed = parse_entities(text)
        resolved = await self._resolve_mentions(parsed.mentions) if parsed.mentions else {}
        entities = Entities(
            hashtags=parsed.hashtags,
            mentions=[Mention(handle=h, user_id=resolved.get(h)) for h in parsed.mentions],
            urls=parsed.urls,
        )

        async def write() -> int:
            async with self._store.transaction() as tx:
                if idempotency_key is not None:
                    earlier = await self._replayed(tx.conn, author, idempotency_key, body_hash)
                    if earlier is not None:
                        return earlier
                    await self._forget_expired_key(tx.conn, author, idempotency_key)
                return await self._insert_tweet(
                    tx,
                    author,
                    text,
                    entities,
                    media_ids,
                    reply_to,
                    quote_of,
                    idempotency_key,
                    body_hash,
                    command.visibility,
                    warning,
                )

        tweet_id = await self._retry_on_conflict(write) if idempotency_key is not None else await write()
        await self.live.posted()  # committed: live streams may look
        return await self._tweet_or_gone(tweet_id, author_id)

    def _warning(self, command: PostTweet) -> tuple[str, bool, str | None]:
        """The checked content warning, sensitivity and language of a new tweet."""
        spoiler = normalize_text(command.spoiler_text)
        if len(spoiler) > self._max_length:
            raise SpoilerTooLong(
                f"a content warning has at most {self._max_length} characters; this one has {len(spoiler)}",
                field="spoiler_text",
            )
        if command.language is not None and command.language not in ISO_639_1:
            raise InvalidLanguage(f"{command.language!r} is not an ISO 639-1 language code", field="language")
        # A content warning hides the media too, as Mastodon does.
        return spoiler, command.sensitive or bool(spoiler), command.language

    @staticmethod
    def _referenced_id(value: str | None) -> int | None:
        if value is None:
            return None
        return _tweet_id(value)

    async def _resolve_mentions(self, handles: list[str]) -> dict[str, Id]:
        """Mentioned handles to ids: users knows; while users is down, the author projection
        answers (posting stays up; a handle it has not heard of stays unresolved)."""
        try:
            return await self._users.ids_by_handles(handles)
        except Unavailable:
            log.warning("users unavailable; mentions resolved from the author projection")
            return await self.authors.ids_by_handles(handles)

    async def _replayed(self, conn: Reader, author: int, key: str, body_hash: str) -> int | None:
        """The tweet an earlier post with this key made within the window; raise when the body differs."""
        k = idempotency_keys
        row = (
            await conn.execute(
                sa.select(k.c.body_hash, k.c.tweet_id).where(
                    k.c.author_id == author, k.c.key == key, k.c.created_at > self._idempotency_cutoff()
                )
            )
        ).first()
        if row is None:
            return None
        if row.body_hash != body_hash:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different tweet", field="Idempotency-Key"
            )
        return int(row.tweet_id)

    def _idempotency_cutoff(self) -> datetime:
        return datetime.now(UTC) - timedelta(seconds=self.idempotency_ttl_s)

    async def _forget_expired_key(self, conn: AsyncConnection, author: int, key: str) -> None:
        """Make room for a reuse of ``key`` after its window (the cleanup job may not have run)."""
        k = idempotency_keys
        await conn.execute(
            sa.delete(k).where(
                k.c.author_id == author, k.c.key == key, k.c.created_at <= self._idempotency_cutoff()
            )
        )

    async def expire_idempotency_keys(self) -> int:
        """Delete the Idempotency-Keys older than the window, in batches; return how many went."""
        k = idempotency_keys
        removed = 0
        while True:
            async with self._store.transaction() as tx:
                oldest = (
                    sa.select(k.c.author_id, k.c.key)
                    .where(k.c.created_at <= self._idempotency_cutoff())
                    .limit(IDEMPOTENCY_PURGE_BATCH)
                )
                rows = (await tx.conn.execute(oldest)).all()
                if not rows:
                    return removed
                await tx.conn.execute(
                    sa.delete(k).where(sa.tuple_(k.c.author_id, k.c.key).in_([tuple(r) for r in rows]))
                )
            removed += len(rows)

    async def _tweet_or_gone(self, tweet_id: int, viewer_id: str) -> Tweet:
        found = await self.get_many([str(tweet_id)], viewer_id)
        if not found:
            raise TweetNotFound(f"tweet {tweet_id} was deleted")
        return found[0]

    async def _insert_tweet(
        self,
        tx: Transaction,
        author: int,
        text: str,
        entities: Entities,
        media_ids: list[str],
        reply_to: int | None,
        quote_of: int | None,
        idempotency_key: str | None,
        body_hash: str,
        visibility: Visibility = "public",
        warning: tuple[str, bool, str | None] = ("", False, None),
    ) -> int:
        conn = tx.conn
        tweet_id = self._ids.next_int()
        now = datetime.now(UTC)
        conversation_id = tweet_id
        reply_to_author: int | None = None
        quote_of_author: int | None = None
        if reply_to is not None:
            parent = await self._load_target(conn, reply_to)
            reply_to, reply_to_author, conversation_id = parent.id, parent.author_id, parent.conversation_id
        if quote_of is not None:
            quoted = await self._load_target(conn, quote_of)
            quote_of, quote_of_author = quoted.id, quoted.author_id

        await tx.write(
            _INSERT_TWEET,
            {
                "id": tweet_id,
                "author_id": author,
                "text": text,
                "created_at": now,
                "conversation_id": conversation_id,
                "reply_to_id": reply_to,
                "reply_to_author_id": reply_to_author,
                "quote_of_id": quote_of,
                "retweet_of_id": None,
                "entities": msgspec.to_builtins(entities),
                "media_ids": media_ids,
                "visibility": visibility,
                "spoiler_text": warning[0],
                "sensitive": warning[1],
                "language": warning[2],
            },
        )
        static = StaticTweet(
            author_id=author,
            text=text,
            created_at=now,
            conversation_id=conversation_id,
            reply_to_id=reply_to,
            reply_to_author_id=reply_to_author,
            quote_of_id=quote_of,
            retweet_of_id=None,
            entities=entities,
            media_ids=list(media_ids),
            visibility=visibility,
            spoiler_text=warning[0],
            sensitive=warning[1],
            language=warning[2],
        )

        async def remember() -> None:
            self._static.put(tweet_id, static)

        tx.after_commit(remember)
        if reply_to is not None:
            await conn.execute(
                sa.update(_t).where(_t.c.id == reply_to).values(reply_count=_t.c.reply_count + 1)
            )
        if quote_of is not None:
            await conn.execute(
                sa.update(_t).where(_t.c.id == quote_of).values(quote_count=_t.c.quote_count + 1)
            )
        if listed(visibility):  # only public tweets are found by search and hashtag timelines
            await self._index_for_search(tx, tweet_id, text, entities.hashtags)
        if activity.counts(visibility):
            await activity.posted(tx, author, now)
        if idempotency_key is not None:
            await conn.execute(
                idempotency_keys.insert().values(
                    author_id=author,
                    key=idempotency_key,
                    body_hash=body_hash,
                    tweet_id=tweet_id,
                    created_at=now,
                )
            )
        mentioned = list(dict.fromkeys(m.user_id for m in entities.mentions if m.user_id is not None))
        await tx.emit(
            TweetPosted(
                event_id=self._ids.next(),
                occurred_at=now,
                tweet_id=str(tweet_id),
                author_id=str(author),
                created_at=now,
                text=text,
                conversation_id=str(conversation_id),
                reply_to_id=_opt_str(reply_to),
                reply_to_author_id=_opt_str(reply_to_author),
                quote_of_id=_opt_str(quote_of),
                quote_of_author_id=_opt_str(quote_of_author),
                hashtags=entities.hashtags,
                mentioned_user_ids=mentioned,
                media_ids=media_ids,
                visibility=visibility,
            )
        )
        return tweet_id

    async def _index_for_search(self, tx: Transaction, tweet_id: int, text: str, hashtags: list[str]) -> None:
        await self._search.add(tx, tweet_id, {"body": text, "tags": " ".join(hashtags)})

    async def _load_target(self, conn: AsyncConnection, tweet_id: int) -> TweetRow:
        """A tweet row to act on; a retweet stands for its original. Raises TweetNotFound."""
        row = (await conn.execute(_TARGET_BY_ID, {"id": tweet_id})).first()
        if row is not None and row.retweet_of_id is not None:
            row = (await conn.execute(_TARGET_BY_ID, {"id": row.retweet_of_id})).first()
        if row is None:
            raise TweetNotFound(f"no tweet {tweet_id}")
        return row

    async def _visible_target(self, actor: int | None, tweet_id: int) -> StaticTweet:
        """A tweet to act on (a retweet stands for its original), as far as ``actor`` may see it;
        raises TweetNotFound otherwise. Asked before the transaction: it may call users."""
        async with self._store.read() as conn:
            row = (await self._static.load(conn, [tweet_id])).get(tweet_id)
            if row is not None and row.retweet_of_id is not None:
                original = row.retweet_of_id
                row = (await self._static.load(conn, [original])).get(original)
        if row is None:
            raise TweetNotFound(f"no tweet {tweet_id}")
        viewpoint = await Viewpoint.of(self._users, actor, [row])
        if not viewpoint.may_see(row):
            raise TweetNotFound(f"no tweet {tweet_id}")
        return row

    async def _retry_on_conflict(self, write: Callable[[], Awaitable[T]]) -> T:
        # Two concurrent writers may race on a unique key (idempotency key, one retweet per
        # user); the loser's transaction rolls back and the retry finds the winner's row.
        try:
            return await write()
        except sa.exc.IntegrityError:
            return await write()

    # ---------------------------------------------------------------- deleting

    async def delete(self, user_id: Id, tweet_id: Id) -> None:
        """Delete one's own tweet; raises NotTweetAuthor or TweetNotFound."""
        await self._delete(_actor(user_id), tweet_id)

    async def remove(self, tweet_id: Id) -> None:
        """Remove any tweet, whoever wrote it (moderation); raises TweetNotFound."""
        await self._delete(None, tweet_id)

    async def _delete(self, user: int | None, tweet_id: Id) -> None:
        """Delete a tweet as its author, or as a moderator when ``user`` is None."""
        tid = _tweet_id(tweet_id)
        async with self._store.transaction() as tx:
            conn = tx.conn
            row = (await conn.execute(sa.select(*_COLUMNS).where(_t.c.id == tid))).first()
            if row is None:
                raise TweetNotFound(f"no tweet {tweet_id}")
            if user is not None and row.author_id != user:
                raise NotTweetAuthor("only its author may delete a tweet")
            if row.retweet_of_id is not None:
                await self._remove_retweet(tx, row.id, row.author_id, row.retweet_of_id)
                return
            retweets = (
                await conn.execute(sa.select(_t.c.id, _t.c.author_id).where(_t.c.retweet_of_id == tid))
            ).all()
            await conn.execute(sa.delete(likes).where(likes.c.tweet_id == tid))
            await conn.execute(sa.delete(bookmarks).where(bookmarks.c.tweet_id == tid))
            await conn.execute(sa.delete(pins).where(pins.c.tweet_id == tid))
            await conn.execute(sa.delete(_t).where(_t.c.retweet_of_id == tid))
            await self._search.remove(conn, tid)
            await conn.execute(sa.delete(_t).where(_t.c.id == tid))
            if activity.counts(row.visibility):  # the tweet and the retweets of it that went with it
                await activity.removed(conn, [row.author_id, *(rt.author_id for rt in retweets)])
            await self.live.record_deletion(tx, row)  # if it was on public streams
            if row.reply_to_id is not None:
                await self._decrement(conn, row.reply_to_id, _t.c.reply_count)
            if row.quote_of_id is not None:
                await self._decrement(conn, row.quote_of_id, _t.c.quote_count)
            now = datetime.now(UTC)
            await tx.emit(
                *(
                    TweetDeleted(
                        event_id=self._ids.next(),
                        occurred_at=now,
                        tweet_id=str(rt.id),
                        author_id=str(rt.author_id),
                    )
                    for rt in retweets
                ),
                TweetDeleted(
                    event_id=self._ids.next(),
                    occurred_at=now,
                    tweet_id=str(tid),
                    author_id=str(row.author_id),
                    media_ids=list(row.media_ids or []),
                ),
            )

    @staticmethod
    async def _decrement(conn: AsyncConnection, tweet_id: int, column: sa.Column[int]) -> None:
        await conn.execute(
            sa.update(_t).where(_t.c.id == tweet_id, column > 0).values({column.name: column - 1})
        )

    async def _remove_retweet(self, tx: Transaction, retweet_id: int, user: int, original_id: int) -> None:
        await tx.conn.execute(sa.delete(_t).where(_t.c.id == retweet_id))
        await self._decrement(tx.conn, original_id, _t.c.retweet_count)
        await activity.removed(tx.conn, [user])  # only open tweets are retweeted: it counted
        await tx.emit(
            TweetDeleted(
                event_id=self._ids.next(),
                occurred_at=datetime.now(UTC),
                tweet_id=str(retweet_id),
                author_id=str(user),
            )
        )

    # ---------------------------------------------------------------- likes

    async def like(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Like a tweet; idempotent."""
        user = _actor(user_id)
        tid = _tweet_id(tweet_id)
        await self._visible_target(user, tid)
        async with self._store.transaction() as tx:
            target = await self._load_target(tx.conn, tid)
            now = datetime.now(UTC)
            row = {"user_id": user, "tweet_id": target.id, "created_at": now}
            result = await tx.write(_INSERT_LIKE(tx.conn), row)
            if result.rowcount == 1:
                await tx.write(_LIKE_COUNT_UP, {"target": target.id})
                await tx.emit(
                    TweetLiked(
                        event_id=self._ids.next(),
                        occurred_at=now,
                        tweet_id=str(target.id),
                        author_id=str(target.author_id),
                        user_id=str(user),
                    )
                )
        return await self._tweet_or_gone(target.id, user_id)

    async def unlike(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Take back a like; idempotent."""
        user = _actor(user_id)
        tid = _tweet_id(tweet_id)
        async with self._store.transaction() as tx:
            target = await self._load_target(tx.conn, tid)
            result = await tx.conn.execute(
                sa.delete(likes).where(likes.c.user_id == user, likes.c.tweet_id == target.id)
            )
            if result.rowcount:
                await self._decrement(tx.conn, target.id, _t.c.like_count)
                await tx.emit(
                    TweetUnliked(
                        event_id=self._ids.next(),
                        occurred_at=datetime.now(UTC),
                        tweet_id=str(target.id),
                        author_id=str(target.author_id),
                        user_id=str(user),
                    )
                )
        return await self._tweet_or_gone(target.id, user_id)

    # ---------------------------------------------------------------- retweets

    async def retweet(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Retweet a tweet; idempotent (a second retweet returns the first)."""
        user = _actor(user_id)
        tid = _tweet_id(tweet_id)
        shared = await self._visible_target(user, tid)
        if not shareable(shared.visibility):
            raise TweetNotShareable("a followers-only or direct tweet cannot be retweeted")

        async def write() -> int:
            async with self._store.transaction() as tx:
                original = await self._load_target(tx.conn, tid)
                existing = (
                    await tx.conn.execute(
                        sa.select(_t.c.id).where(_t.c.author_id == user, _t.c.retweet_of_id == original.id)
                    )
                ).scalar()
                if existing is not None:
                    return int(existing)
                retweet_id = self._ids.next_int()
                now = datetime.now(UTC)
                await tx.conn.execute(
                    _t.insert().values(
                        id=retweet_id,
                        author_id=user,
                        text="",
                        created_at=now,
                        conversation_id=retweet_id,
                        retweet_of_id=original.id,
                        entities=msgspec.to_builtins(Entities()),
                        media_ids=[],
                        visibility=original.visibility,
                    )
                )
                await tx.conn.execute(
                    sa.update(_t).where(_t.c.id == original.id).values(retweet_count=_t.c.retweet_count + 1)
                )
                if activity.counts(original.visibility):
                    await activity.posted(tx, user, now)
                await tx.emit(
                    Retweeted(
                        event_id=self._ids.next(),
                        occurred_at=now,
                        retweet_id=str(retweet_id),
                        tweet_id=str(original.id),
                        author_id=str(original.author_id),
                        user_id=str(user),
                        created_at=now,
                    )
                )
                return retweet_id

        retweet_id = await self._retry_on_conflict(write)
        return await self._tweet_or_gone(retweet_id, user_id)

    async def undo_retweet(self, user_id: Id, tweet_id: Id) -> None:
        """Undo one's retweet of a tweet; idempotent."""
        user = _actor(user_id)
        tid = _as_int(tweet_id)
        if tid is None:
            return
        async with self._store.transaction() as tx:
            row = (
                await tx.conn.execute(sa.select(_t.c.id, _t.c.retweet_of_id).where(_t.c.id == tid))
            ).first()
            if row is None:
                return
            original_id = row.retweet_of_id if row.retweet_of_id is not None else row.id
            retweet_id = (
                await tx.conn.execute(
                    sa.select(_t.c.id).where(_t.c.author_id == user, _t.c.retweet_of_id == original_id)
                )
            ).scalar()
            if retweet_id is not None:
                await self._remove_retweet(tx, int(retweet_id), user, original_id)

    # ---------------------------------------------------------------- reads

    async def get(self, tweet_id: Id, viewer_id: Id | None) -> Tweet:
        """One tweet; raises TweetNotFound."""
        found = await self.get_many([tweet_id], viewer_id)
        if not found:
            raise TweetNotFound(f"no tweet {tweet_id}")
        return found[0]

    async def get_many(self, tweet_ids: list[Id], viewer_id: Id | None) -> list[Tweet]:
        """Many tweets in one call (hydration), in the order asked; missing ones, and those the
        viewer may not see, left out."""
        return await self._hydrate(tweet_ids, viewer_id, feed=False)

    async def get_feed(self, tweet_ids: list[Id], viewer_id: Id | None) -> list[Tweet]:
        """Hydration for a timeline: as get_many, and also leaves out what the viewer muted."""
        return await self._hydrate(tweet_ids, viewer_id, feed=True)

    async def _hydrate(
        self,
        tweet_ids: list[Id],
        viewer_id: Id | None,
        *,
        feed: bool,
        known: Viewpoint | None = None,
        counted: list[tuple[Any, ...]] | None = None,
    ) -> list[Tweet]:
        """Many tweets as ``viewer_id`` may see them (``feed``: as a timeline shows them).

        What never changes about a tweet (its text, author, entities, references) comes from an
        in-process cache (``StaticTweets``) and is read from the table only on a miss; what does
        change (the counts, and whether it still exists) is read fresh in one statement for the
        whole page, so the cache needs no invalidation and is right in every topology.
        ``counted``: rows as ``_COUNTS_AND_FLAGS_BY_IDS`` gives them, read with the page's ids
        (``_USER_PAGE_COUNTED``); only the other tweets' counts are then read.
        """
        wanted = parse_ids(tweet_ids)
        if not wanted:
            return []
        viewer = _as_int(viewer_id)
        cached = self._static.cached_page(wanted)
        if cached is not None:
            static = cached
        else:
            async with self._store.read() as conn:
                static = await self._static.load(conn, wanted)
                # The originals of retweets and the quoted tweets (one level), and what retweeted
                # quotes quote.
                refs = _unique_ints(i for r in static.values() for i in (r.retweet_of_id, r.quote_of_id))
                static.update(await self._static.load(conn, [i for i in refs if i not in static]))
                nested = _unique_ints(
                    static[r.retweet_of_id].quote_of_id
                    for r in list(static.values())
                    if r.retweet_of_id in static
                )
                static.update(await self._static.load(conn, [i for i in nested if i not in static]))
        # Who may see what: one users call for the page's authors (none for anonymous readers
        # or a page of the viewer's own tweets); what the viewer may not see is treated as gone.
        viewpoint = await Viewpoint.of(self._users, viewer, static.values(), feed=feed, known=known)
        static = {i: r for i, r in static.items() if viewpoint.may_see(r)}
        # Deleted tweets have no row: they drop out here, cached or not.
        # The viewer's flags (liked, retweeted, bookmarked) come with the counts, per tweet.
        counts: dict[int, Counts] = {}
        pinned: set[int] = set()
        #: The viewer's flags on each tweet (none for anonymous readers).
        flags: dict[int, Viewer] = {}
        rows: list[tuple[Any, ...]] = []
        unread = list(static)
        if counted:
            read = {r[0] for r in counted}
            rows = [r for r in counted if r[0] in static]
            unread = [i for i in unread if i not in read]
        if unread and viewer is None:
            rows += await self._store.fetch(_COUNTS_BY_IDS, {"ids": unread})
        elif unread:
            rows += await self._store.fetch(_COUNTS_AND_FLAGS_BY_IDS, {"viewer": viewer, "ids": unread})
        for r in rows:
            tid = r[0]
            counts[tid] = Counts(likes=r[1], retweets=r[2], replies=r[3], quotes=r[4])
            if r[5]:
                pinned.add(tid)
            if viewer is not None:
                flags[tid] = _VIEWERS[bool(r[6]), bool(r[7]), bool(r[8])]
        no_flags = None if viewer is None else _VIEWERS[False, False, False]
        author_ids = list(dict.fromkeys([static[i].author_id for i in counts]))
        authors = await self.authors.summaries(author_ids) if author_ids else {}

        def build(tid: int, *, with_retweet_of: bool, with_quoted: bool) -> Tweet:
            row = static[tid]
            shown = row.shown
            assert shown is not None  # every cached StaticTweet is built with it
            # A retweet row keeps its own (zero) counts; the viewer's flags are about the original.
            target = row.retweet_of_id if row.retweet_of_id is not None else tid
            original = row.retweet_of_id if with_retweet_of and row.retweet_of_id in counts else None
            quoted = row.quote_of_id if with_quoted and row.quote_of_id in counts else None
            return msgspec.structs.replace(
                shown,
                # An author the users module no longer knows still gets a (bare) summary.
                author=authors.get(row.author_id) or shown.author,
                counts=counts[tid],
                viewer=flags.get(target, no_flags),
                retweet_of=build(original, with_retweet_of=False, with_quoted=True) if original else None,
                quoted=build(quoted, with_retweet_of=False, with_quoted=False) if quoted else None,
                pinned=tid in pinned,
            )

        # A retweet of a tweet the viewer may not see (or that is gone) is not shown either.
        return [
            build(i, with_retweet_of=True, with_quoted=True)
            for i in wanted
            if i in counts and (static[i].retweet_of_id is None or static[i].retweet_of_id in counts)
        ]

    async def _page(
        self,
        ids: list[int],
        viewer_id: Id | None,
        limit: int,
        *,
        feed: bool = False,
        known: Viewpoint | None = None,
        counted: list[tuple[Any, ...]] | None = None,
    ) -> Page[Tweet]:
        """Hydrate up to ``limit`` of ``ids`` (fetched as limit + 1 to know if more follow)."""
        more = len(ids) > limit
        ids = ids[:limit]
        items = await self._hydrate([str(i) for i in ids], viewer_id, feed=feed, known=known, counted=counted)
        return Page(items=items, next_cursor=encode_cursor(ids[-1]) if more and ids else None)

    async def _id_bounded(
        self,
        condition: Any,
        viewer_id: Id | None,
        page: PageRequest,
        *,
        feed: bool = False,
        known: Viewpoint | None = None,
    ) -> Page[Tweet]:
        """A page of the tweets matching ``condition``, by id: the cursor or ``max_id`` above,
        ``since_id``/``min_id`` below; ``min_id`` reads the page just above it, newest first."""
        before, after = _page_before(page), _page_after(page)
        newest_first = page.min_id is None
        async with self._store.read() as conn:
            ids = list(
                (
                    await conn.execute(
                        sa.select(_t.c.id)
                        .where(condition, _t.c.id < before, _t.c.id > after)
                        .order_by(_t.c.id.desc() if newest_first else _t.c.id)
                        .limit(page.limit + 1)
                    )
                ).scalars()
            )
        if newest_first:
            return await self._page(ids, viewer_id, page.limit, feed=feed, known=known)
        ids = sorted(ids[: page.limit], reverse=True)
        items = await self._hydrate([str(i) for i in ids], viewer_id, feed=feed, known=known)
        # Older tweets follow (min_id's own at least): the next page continues below this one.
        return Page(items=items, next_cursor=encode_cursor(ids[-1]) if ids else None)

    async def user_tweets(
        self, author_id: Id, viewer_id: Id | None, page: PageRequest, filters: UserTweetsFilter | None = None
    ) -> Page[Tweet]:
        """A user's tweets and retweets the viewer may see, newest first, narrowed by ``filters``
        (pinned: newest pin first)."""
        author = _as_int(author_id)
        if author is None:
            return Page(items=[])
        viewer = _as_int(viewer_id)
        # A profile shows others the author's open tweets, and followers the followers-only ones
        # too; direct tweets only to their author. A block either way shows nothing.
        shown = ["public", "unlisted", "private", "direct"]
        viewpoint: Viewpoint | None = None
        if viewer != author:
            viewpoint = await Viewpoint.about(self._users, viewer, [author], [author])
            if viewpoint.hides_author(author):
                return Page(items=[])
            shown = ["public", "unlisted", "private"] if viewpoint.follows(author) else ["public", "unlisted"]
        if filters is not None and filters.pinned:
            return await self.pin_lists.pinned(author, viewer_id, page)
        narrowed = _narrowed(author, filters) if filters is not None else []
        if not narrowed and page.min_id is None:
            rows = await self._store.fetch(
                _USER_PAGE_COUNTED,
                {
                    "viewer": viewer,
                    "author": author,
                    "shown": shown,
                    "before": _page_before(page),
                    "after": _page_after(page),
                    "limit": page.limit + 1,
                },
            )
            ids = [r[0] for r in rows]
            return await self._page(ids, viewer_id, page.limit, known=viewpoint, counted=rows)
        return await self._id_bounded(
            sa.and_(_t.c.author_id == author, _t.c.visibility.in_(shown), *narrowed),
            viewer_id,
            page,
            known=viewpoint,
        )

    async def replies(self, tweet_id: Id, viewer_id: Id | None, page: PageRequest) -> Page[Tweet]:
        """Direct replies to a tweet the viewer may see, oldest first (those they may see)."""
        tid = _tweet_id(tweet_id)
        after = 0 if page.cursor is None else decode_cursor(page.cursor, int)
        async with self._store.read() as conn:
            if (await conn.execute(sa.select(_t.c.id).where(_t.c.id == tid))).first() is None:
                raise TweetNotFound(f"no tweet {tweet_id}")
        await self._visible_target(_as_int(viewer_id), tid)
        async with self._store.read() as conn:
            ids = list(
                (
                    await conn.execute(
                        sa.select(_t.c.id)
                        .where(_t.c.reply_to_id == tid, _t.c.id > after)
                        .order_by(_t.c.id)
                        .limit(page.limit + 1)
                    )
                ).scalars()
            )
        return await self._page(ids, viewer_id, page.limit)

    async def public_timeline(self, viewer_id: Id | None, page: PageRequest) -> Page[Tweet]:
        """Public tweets of everyone (no retweets), newest first, as the viewer may see them."""
        return await self._id_bounded(
            sa.and_(_t.c.visibility == PUBLIC, _t.c.retweet_of_id.is_(None)), viewer_id, page, feed=True
        )

    async def tag_timeline(self, tag: str, viewer_id: Id | None, page: PageRequest) -> Page[Tweet]:
        """Public tweets carrying a #hashtag (without the #, any case), newest first."""
        name = tag.removeprefix("#")
        if parse_entities(f"#{name}").hashtags != [name.lower()]:
            raise InvalidInput(f"not a hashtag: {tag!r}", field="tag")
        before, after = _page_before(page), _page_after(page)
        newest_first = page.min_id is None
        terms = search_terms(f"#{name}")
        async with self._store.read() as conn:
            ids = await self._search.search(
                conn,
                [Term(field="tags", phrase=t.phrase) for t in terms],
                before,
                page.limit + 1,
                after=after,
                oldest_first=not newest_first,
            )
        if newest_first:
            return await self._page(ids, viewer_id, page.limit, feed=True)
        # min_id: the page just above it (read oldest first), shown newest first, as _id_bounded.
        ids = sorted(ids[: page.limit], reverse=True)
        items = await self._hydrate([str(i) for i in ids], viewer_id, feed=True)
        return Page(items=items, next_cursor=encode_cursor(ids[-1]) if ids else None)

    async def search(self, query: str, viewer_id: Id | None, page: PageRequest) -> Page[Tweet]:
        """Full-text search over public tweets' text (words, #hashtags), newest first."""
        terms = search_terms(query)
        before = _page_before(page)
        if not terms:
            return Page(items=[])
        async with self._store.read() as conn:
            ids = await self._search.search(
                conn,
                [Term(field="tags" if t.hashtag else "body", phrase=t.phrase) for t in terms],
                before,
                page.limit + 1,
            )
        return await self._page(ids, viewer_id, page.limit)

    async def public_changes(self, after: str | None, hashtag: str | None, timeout_s: float) -> PublicChanges:
        """Public tweets posted or deleted since ``after`` (None: from now, at once), of one
        hashtag when given, waiting up to ``timeout_s`` (at most 30 s) for the first."""
        return await self.live.changes(after, hashtag, timeout_s)

    async def author_activity(self, author_ids: list[Id]) -> list[AuthorActivity]:
        """Many authors' statuses counts and last status times in one call, in the order asked."""
        return await activity.activity_of(self._store, author_ids)

    async def recent_refs(self, author_ids: list[Id], limit_per_author: int) -> list[TweetRef]:
        """The newest tweet refs of some authors, newest first (timeline back-fill and merge)."""
        authors = _unique_ints(_as_int(a) for a in author_ids)
        limit = min(limit_per_author, MAX_REFS_PER_AUTHOR)
        if not authors or limit < 1:
            return []
        refs: list[tuple[int, int, datetime]] = []
        for start in range(0, len(authors), _REFS_CHUNK):
            chunk = authors[start : start + _REFS_CHUNK]
            params: dict[str, int] = {f"a{i}": a for i, a in enumerate(chunk)}
            params["limit"] = limit
            rows = await self._store.fetch(_recent_refs(len(chunk)), params)
            refs.extend((int(r[0]), int(r[1]), hot_read_utc(r[2])) for r in rows)
        refs.sort(key=lambda r: r[0], reverse=True)
        return [TweetRef(tweet_id=str(i), author_id=str(a), created_at=c) for i, a, c in refs]

    # ---------------------------------------------------------------- bookmarks, pins, lists

    async def tweet_or_gone(self, tweet_id: int, viewer_id: str) -> Tweet:
        """One tweet as ``viewer_id`` sees it; raises TweetNotFound when gone (for the components)."""
        return await self._tweet_or_gone(tweet_id, viewer_id)

    async def load_target(self, conn: AsyncConnection, tweet_id: int) -> TweetRow:
        """The row a tweet action applies to (a retweet stands for its original); for the components."""
        return await self._load_target(conn, tweet_id)

    async def bookmark(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Bookmark a tweet (a retweet stands for its original); idempotent. Raises TweetNotFound."""
        return await self.bookmark_lists.bookmark(_actor(user_id), _tweet_id(tweet_id))

    async def unbookmark(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Remove a bookmark; idempotent. Raises TweetNotFound."""
        return await self.bookmark_lists.unbookmark(_actor(user_id), _tweet_id(tweet_id))

    async def bookmarks(self, user_id: Id, page: PageRequest) -> Page[Tweet]:
        """The tweets a user bookmarked, newest bookmark first (only the user may ask)."""
        return await self.bookmark_lists.list(_actor(user_id), page)

    async def pin(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Pin one's own tweet to one's profile; idempotent. Raises NotPinnable, TooManyPins."""
        return await self.pin_lists.pin(_actor(user_id), _tweet_id(tweet_id))

    async def unpin(self, user_id: Id, tweet_id: Id) -> Tweet:
        """Unpin a tweet; idempotent. Raises TweetNotFound."""
        return await self.pin_lists.unpin(_actor(user_id), _tweet_id(tweet_id))

    async def favourites(self, user_id: Id, page: PageRequest) -> Page[Tweet]:
        """The tweets a user liked, newest like first."""
        return await self.engagement.favourites(_actor(user_id), page)

    async def liked_by(self, tweet_id: Id, page: PageRequest, viewer_id: Id | None = None) -> Page[Id]:
        """Who liked a tweet the viewer may see (user ids), newest like first. Raises TweetNotFound."""
        return await self.engagement.liked_by(_tweet_id(tweet_id), page, viewer_id)

    async def retweeted_by(self, tweet_id: Id, page: PageRequest, viewer_id: Id | None = None) -> Page[Id]:
        """Who retweeted a tweet the viewer may see (user ids), newest retweet first. Raises TweetNotFound."""
        return await self.engagement.retweeted_by(_tweet_id(tweet_id), page, viewer_id)

    async def context(self, tweet_id: Id, viewer_id: Id | None) -> Context:
        """The reply chain above a tweet and the replies under it (both bounded). Raises TweetNotFound."""
        return await self.conversations.context(_tweet_id(tweet_id), viewer_id)


def _narrowed(author: int, filters: UserTweetsFilter) -> list[sa.ColumnElement[bool]]:
    """The conditions of a user's-tweets filter (the pinned filter reads the pins instead)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.exclude_replies:
        # A reply to oneself (a thread) stays, as on Mastodon.
        conditions.append(sa.or_(_t.c.reply_to_id.is_(None), _t.c.reply_to_author_id == author))
    if filters.exclude_retweets:
        conditions.append(_t.c.retweet_of_id.is_(None))
    if filters.only_media:
        conditions.append(sa.cast(_t.c.media_ids, sa.Text) != "[]")
    return conditions
