"""Home timelines: fan-out on write into a capped store, popular authors merged at read time.

The store (a ``HomeTimelineStore``: SQL rows or Redis sorted sets) is derived data. The source
of truth is the follow graph (users port) and the tweets (tweets port): a timeline the store
has no usable copy of is rebuilt from them on read, and ``rebuild`` recomputes one on demand.
Who is popular, and which popular authors each viewer follows, the module keeps itself from the
follow events it consumes (``popular.py``), so neither a home read nor a fan-out asks users.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from prometheus_client import Histogram
from redis.asyncio import Redis

from boundaries._kernel.events import Event
from boundaries._kernel.ids import Id, parse_id
from boundaries._kernel.pagination import Page, PageRequest
from boundaries.timeline.dto import HomeChanges, RebuildResult
from boundaries.timeline.errors import InvalidCursor
from boundaries.tweets.dto import Tweet, TweetRef, UserTweetsFilter
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetPosted
from boundaries.tweets.port import TweetsPort
from boundaries.users.directory import UserDirectoryPort
from boundaries.users.errors import UserNotFound
from boundaries.users.events import UserFollowed, UserUnfollowed
from modules.timeline.home import Entry, HomeTimelineStore, SqlHomeTimelines
from modules.timeline.impressions import ImpressionBuffer
from modules.timeline.live import LiveHome
from modules.timeline.popular import PopularFollowees
from twitterclone.infra.cursor import decode_cursor, encode_cursor
from twitterclone.infra.events import Handle, record_only
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, Transaction
from twitterclone.settings import Settings

log = logging.getLogger("twitterclone.timeline")

#: Follower ids asked for per users.follower_ids call during fan-out.
FOLLOWER_PAGE = 5000
#: Timeline entries written per fan-out round (one transaction or pipelined run): large enough
#: that an author just under the threshold takes one round, small enough to bound memory and
#: how long one write holds SQLite's single writer.
FANOUT_ROUND = 10_000
#: Tweets of a new followee copied into the follower's timeline.
BACKFILL_PER_AUTHOR = 50
#: Newest tweets per popular followee merged in at read time (one full page at most).
HYBRID_PER_AUTHOR = 100
#: Fewest tweets per followee asked for when a timeline is rebuilt.
REBUILD_MIN_PER_AUTHOR = 50

#: Fan-out lag: from the event (the tweet's commit) until every follower's timeline has it.
FANOUT_LAG = Histogram(
    "twitterclone_fanout_lag_seconds",
    "Seconds from a TweetPosted/Retweeted event until the tweet is in its followers' home timelines.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)


class TimelineService:
    """Implements TimelinePort, and applies the events that keep home timelines current."""

    def __init__(
        self,
        store: ModuleStore,
        ids: IdGenerator,
        settings: Settings,
        users: UserDirectoryPort,
        tweets: TweetsPort,
        impressions: ImpressionBuffer | None = None,
        home: HomeTimelineStore | None = None,
        live_redis: Redis | None = None,
        key_prefix: str = "",
    ) -> None:
        self.store = store
        self.users = users
        self.tweets = tweets
        self.cap = settings.home_timeline_size
        self.threshold = settings.fanout_follower_threshold
        self.impressions = impressions or ImpressionBuffer(store, ids)
        #: Which popular authors each viewer follows (kept from the follow events).
        self.popular = PopularFollowees(store, users, self.threshold)
        #: Where home timelines are kept (SQL rows by default; Redis when the manifest says so).
        self.home: HomeTimelineStore = home or SqlHomeTimelines(store, self.cap)
        #: What a timeline gained or lost since a position, for live streams (``live.py``).
        self.live = LiveHome(
            store, ids, self.home, self.popular, users, tweets, redis=live_redis, key_prefix=key_prefix
        )

    # --- the port ----------------------------------------------------------------------------

    async def home_timeline(self, user_id: Id, page: PageRequest) -> Page[Tweet]:
        """The newest tweets of the accounts a user follows (and their own), hydrated."""
        before = _decode_cursor(page.cursor)
        if page.max_id is not None:
            before = int(page.max_id) if before is None else min(before, int(page.max_id))
        bounds = [int(b) for b in (page.since_id, page.min_id) if b is not None]
        after = max(bounds) if bounds else None
        # min_id asks for the entries just above it: read down to it (a timeline is capped).
        want = page.limit + 1 if page.min_id is None else 2 * self.cap
        stored, usable = await self.home.page(int(user_id), before, want)
        if not usable and await self._rebuild_on_miss(user_id):
            stored, _ = await self.home.page(int(user_id), before, want)
        merged = set(stored)
        popular = await self.popular.followees(int(user_id))
        if popular:  # hybrid: popular authors were not fanned out; merge them in now
            for ref in await self.tweets.recent_refs([str(a) for a in popular], HYBRID_PER_AUTHOR):
                tid = int(ref.tweet_id)
                if before is None or tid < before:
                    merged.add(tid)
        ordered = sorted((i for i in merged if after is None or i > after), reverse=True)
        if page.min_id is not None:
            page_ids = ordered[-page.limit :]
            next_cursor = encode_cursor(str(page_ids[-1])) if page_ids else None
        else:
            page_ids = ordered[: page.limit]
            next_cursor = encode_cursor(str(page_ids[-1])) if len(ordered) > page.limit else None
        # One hydration call per page; deleted tweets, and those the viewer may no longer see
        # (a block since the fan-out, a mute, an unfollow not yet applied), simply drop out.
        items = await self.tweets.get_feed([str(i) for i in page_ids], user_id) if page_ids else []
        self.impressions.record(user_id, [t.id for t in items])
        return Page(items=items, next_cursor=next_cursor)

    async def user_timeline(
        self, author_id: Id, viewer_id: Id | None, page: PageRequest, filters: UserTweetsFilter | None = None
    ) -> Page[Tweet]:
        """One user's tweets and retweets, newest first, hydrated; ``filters`` narrow them."""
        result = await self.tweets.user_tweets(author_id, viewer_id, page, filters)
        if viewer_id is not None:
            self.impressions.record(viewer_id, [t.id for t in result.items])
        return result

    async def rebuild(self, user_id: Id) -> RebuildResult:
        """Rebuild a home timeline from the source of truth (follows and tweets)."""
        uid = int(user_id)
        # Entries present before we ask the source of truth; one a fan-out adds meanwhile is
        # newer than our snapshot and must survive the replacement.
        before = await self.home.tweet_ids(uid)
        following = await self.users.following_ids(user_id)
        entries = self._newest(await self._source_refs(user_id, following), uid)
        fresh = {e[1] for e in entries}
        count = await self.home.replace(uid, entries, before - fresh)
        return RebuildResult(entries=count)

    async def home_changes(self, user_id: Id, after: str | None, timeout_s: float) -> HomeChanges:
        """Tweets a home timeline gained or lost since ``after`` (None: from now, at once),
        waiting up to ``timeout_s`` (at most 30 s) for the first."""
        return await self.live.changes(user_id, after, timeout_s)

    # --- events ------------------------------------------------------------------------------
    # The handlers ``consumer.py`` subscribes. Each gets only events its consumer has not applied
    # before; the kernel records them in the inbox in a transaction on this module's store.
    # Fan-out and removals page through users (remote calls: no transaction may be held across
    # them) and write in rounds of their own, so they run before that transaction (``prepare``)
    # and are idempotent: inserts keep existing entries (SQL: insert-or-ignore, Redis: ZADD)
    # and removals of what is gone remove nothing, so a run cut short and run again by the
    # redelivery ends where one whole run would.

    async def fan_out_posts(self, events: list[TweetPosted]) -> Handle[TweetPosted]:
        """TweetPosted: fan the tweets out to their authors' and followers' timelines."""
        return await self._fan_out_in_transaction([(e.tweet_id, e.author_id, e) for e in events])

    async def fan_out_retweets(self, events: list[Retweeted]) -> Handle[Retweeted]:
        """Retweeted: fan the retweets out to the retweeters' and their followers' timelines."""
        return await self._fan_out_in_transaction([(e.retweet_id, e.user_id, e) for e in events])

    async def _fan_out_in_transaction(self, posts: Sequence[tuple[Id, Id, Event]]) -> Handle[Any]:
        """Fan out before the kernel's transaction what must be; the rest in it (the ``Handle``).

        Followers are paged here (port calls, outside any transaction). When the home timelines
        are rows of this module's store, the last round of entries (all of them, for a batch of
        small authors' tweets) is written by the returned handle, in the transaction that
        records the events in the inbox: one commit for the entries and their record, and the
        entries commit exactly when the events count as applied. Rounds that fill before it
        (an author with many followers) are written as they fill, as are Redis timelines; those
        writes are idempotent, so a redelivery after a crash only writes them again.
        """
        if not self.home.transactional:
            await self.fan_out_many(posts)
            return record_only
        last: list[tuple[list[Entry], list[Event]]] = []
        await self.fan_out_many(posts, last=last)
        if not last:
            return record_only
        entries, ready = last[0]

        async def write(tx: Transaction, fresh: list[Any]) -> None:
            await self.home.add(entries, tx)

            async def written() -> None:
                await self.live.touched({e[0] for e in entries})
                _observe_lag(ready)

            tx.after_commit(written)

        return write

    async def remove_deleted(self, events: list[TweetDeleted]) -> Handle[TweetDeleted]:
        """TweetDeleted: remove the tweets from every home timeline."""
        for event in events:
            author_id = event.author_id

            async def holders(author_id: Id = author_id) -> AsyncIterator[list[int]]:
                # Who may hold it: the author, and (fan-out or back-fill) their followers.
                yield [int(author_id)]
                cursor: str | None = None
                while True:
                    try:
                        page = await self.users.follower_ids(author_id, cursor, FOLLOWER_PAGE)
                    except UserNotFound:
                        return
                    yield [int(f) for f in page.ids]
                    cursor = page.next_cursor
                    if not cursor or not page.ids:
                        return

            await self.home.remove_tweet(int(event.tweet_id), holders)
        return self.live.record_removals(events)

    async def backfill(self, events: list[UserFollowed]) -> Handle[UserFollowed]:
        """UserFollowed: back-fill the followers' timelines with the followees' recent tweets.

        Asks the tweets port (one call for every followee) before the transaction; the entries
        are written in it (SQL store), so a redelivery after an unfollow cannot bring them back.
        """
        followees = list(dict.fromkeys(e.followee_id for e in events))
        recent: dict[int, list[tuple[int, int]]] = {}  # followee -> (tweet id, author id)
        for ref in await self.tweets.recent_refs(followees, BACKFILL_PER_AUTHOR):
            recent.setdefault(int(ref.author_id), []).append((int(ref.tweet_id), int(ref.author_id)))

        async def write(tx: Transaction, fresh: list[UserFollowed]) -> None:
            entries = [
                (int(e.follower_id), tweet_id, author_id)
                for e in fresh
                for tweet_id, author_id in recent.get(int(e.followee_id), ())
            ]
            await self.home.add(entries, tx)
            await self.popular.apply(tx, fresh)

        return write

    async def remove_unfollowed(self, tx: Transaction, events: list[UserUnfollowed]) -> None:
        """UserUnfollowed: remove the followees' entries from the followers' timelines, in order;
        once only, so a redelivery after a re-follow does not remove the back-filled tweets."""
        for e in events:
            await self.home.remove_author(int(e.follower_id), int(e.followee_id), tx)
        await self.popular.apply(tx, events)

    async def fan_out_many(
        self,
        posts: Sequence[tuple[Id, Id, Event]],
        *,
        last: list[tuple[list[Entry], list[Event]]] | None = None,
    ) -> int:
        """Fan out several tweets (tweet id, author id, event) at once; return the entries written.

        One ``profiles`` call for every author; each author's followers are paged once however
        many of the tweets are theirs; entries are written in rounds of up to ``FANOUT_ROUND``
        (one transaction or Redis pipeline run each), so a burst of small authors' tweets costs
        a few writes, not one per tweet. An author with ``threshold`` followers or more is not
        fanned out (their tweets are merged in at read time): only their own timeline gets it.
        With ``last``, the last round is not written but appended there (its entries and the
        events they complete), for the caller to write (counted among the entries returned).
        """
        by_author: dict[str, list[tuple[int, Event]]] = {}
        direct: list[tuple[int, int, TweetPosted]] = []
        for tweet_id, author_id, event in posts:
            if isinstance(event, TweetPosted) and event.visibility == "direct":
                direct.append((int(tweet_id), int(author_id), event))
                continue
            by_author.setdefault(str(author_id), []).append((int(tweet_id), event))
        if direct:
            # A direct tweet reaches its author and the mentioned users who follow the author
            # (as Mastodon delivers it), never the other followers.
            others = [
                (t, a, e) for t, a, e in posts if not isinstance(e, TweetPosted) or e.visibility != "direct"
            ]
            return await self._fan_out_direct(direct) + await self.fan_out_many(others, last=last)
        if not by_author:
            return 0
        followers_count = await self.popular.follower_counts([int(a) for a in by_author])
        written = 0
        pending: list[Entry] = []
        ready: list[Event] = []  # events whose every entry is in ``pending``

        async def flush() -> None:
            nonlocal written, pending, ready
            written += await self._write_entries(pending)
            _observe_lag(ready)
            pending, ready = [], []

        for author_id, tweets in by_author.items():
            aid = int(author_id)
            if aid not in followers_count:
                log.info("fan-out skipped: unknown author", extra={"author_id": author_id})
                continue
            pending.extend((aid, tid, aid) for tid, _ in tweets)  # the author sees their own tweets
            if followers_count[aid] < self.threshold:
                async for followers in self._follower_pages(author_id):
                    pending.extend((f, tid, aid) for f in followers for tid, _ in tweets)
                    if len(pending) >= FANOUT_ROUND:
                        await flush()
            ready.extend(event for _, event in tweets)
        if last is not None and pending:
            last.append((pending, ready))
            return written + len(pending)
        if pending or ready:
            await flush()
        return written

    async def _fan_out_direct(self, posts: list[tuple[int, int, TweetPosted]]) -> int:
        """Direct tweets: into the author's timeline and the mentioned followers' ones."""
        entries: list[Entry] = []
        for tweet_id, author, event in posts:
            entries.append((author, tweet_id, author))
            mentioned = {int(m) for m in event.mentioned_user_ids} - {author}
            if mentioned:
                async for followers in self._follower_pages(str(author)):
                    entries.extend((f, tweet_id, author) for f in followers if f in mentioned)
        written = await self._write_entries(entries)
        _observe_lag(e for _, _, e in posts)
        return written

    async def _follower_pages(self, author_id: Id) -> AsyncIterator[list[int]]:
        """Every follower id of an author, a page (``FOLLOWER_PAGE``) at a time."""
        cursor: str | None = None
        while True:
            page = await self.users.follower_ids(author_id, cursor, FOLLOWER_PAGE)
            if page.ids:
                yield [int(f) for f in page.ids]
            cursor = page.next_cursor
            if not cursor or not page.ids:
                return

    # --- storage -----------------------------------------------------------------------------

    async def _write_entries(self, entries: list[Entry]) -> int:
        """Insert entries (batched) and trim the timelines touched; return how many."""
        if not entries:
            return 0
        await self.home.add(entries)
        await self.live.touched({e[0] for e in entries})
        return len(entries)

    async def _source_refs(self, user_id: Id, following: list[Id]) -> list[TweetRef]:
        """Recent tweets of everyone a user follows, and their own, from the source of truth."""
        authors = list(dict.fromkeys([*following, user_id]))
        per_author = min(max(REBUILD_MIN_PER_AUTHOR, math.ceil(self.cap / len(authors))), self.cap)
        return await self.tweets.recent_refs(authors, per_author)

    def _newest(self, refs: Iterable[TweetRef], user_id: int) -> list[Entry]:
        unique = {int(r.tweet_id): int(r.author_id) for r in refs}
        newest = sorted(unique, reverse=True)[: self.cap]
        return [(user_id, t, unique[t]) for t in newest]

    async def _rebuild_on_miss(self, user_id: Id) -> bool:
        """A timeline the store has no usable copy of is rebuilt from the source of truth.

        In SQL an empty timeline of someone who follows nobody needs nothing. A volatile store
        (Redis) may have lost the user's own tweets too, so it is always rebuilt there, once:
        it is then marked complete.
        """
        following = await self.users.following_ids(user_id)
        if not following and not self.home.volatile:
            return False
        entries = self._newest(await self._source_refs(user_id, following), int(user_id))
        await self.home.fill(int(user_id), entries)
        return bool(entries)


def _observe_lag(events: Iterable[Event]) -> None:
    """Record the fan-out lag of tweets whose entries are all written now."""
    now = time.time()
    for event in events:
        lag = max(now - event.occurred_at.timestamp(), 0.0)
        FANOUT_LAG.observe(lag)
        log.debug("fan-out done", extra={"event_id": event.event_id, "lag_s": round(lag, 4)})


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    position = parse_id(decode_cursor(cursor, str))
    if position is None:
        raise InvalidCursor("the cursor is not one this API handed out", field="cursor")
    return position
