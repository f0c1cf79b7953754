"""Analytics: engagement counters per tweet, daily stats per user, trending hashtags.

Everything is derived from other modules' events. Each handler gets a transaction and the
events its consumer has not applied before (the kernel records them in the inbox in that
transaction), so a redelivered event changes nothing. Days and trend buckets come from the
event's own time (not the time it is consumed), so a replay lands in the same place.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import Id, is_id
from boundaries.analytics.dto import (
    DailyStats,
    Trend,
    TrendingTweet,
    TrendingTweets,
    Trends,
    TrendWindow,
    TweetStats,
    UserStats,
)
from boundaries.analytics.errors import NotStatsOwner, StatsNotFound
from boundaries.timeline.events import TimelineServed
from boundaries.tweets.events import Retweeted, TweetDeleted, TweetLiked, TweetPosted, TweetUnliked
from boundaries.users.events import UserFollowed
from modules.analytics.tables import hashtag_buckets, tweet_buckets, tweet_stats, user_daily
from twitterclone.infra.sql import PerDialect, as_utc, upsertable
from twitterclone.infra.store import HotWrite, ModuleStore, Transaction

log = logging.getLogger("twitterclone.analytics")

MAX_DAYS = 90
MAX_TRENDS = 50
#: Trending tweets: at most this many a call, and this deep (offset + limit) in all.
MAX_TRENDING_TWEETS = 40
MAX_TRENDING_DEPTH = 200


@dataclass(frozen=True, slots=True)
class TrendWindowSpec:
    """How one trend window is bucketed and decayed."""

    length_s: int
    bucket_s: int
    half_life_s: float


#: 1h: one-minute buckets, 15-minute half-life; 24h: 15-minute buckets, 6-hour half-life.
WINDOWS: dict[str, TrendWindowSpec] = {
    "1h": TrendWindowSpec(length_s=3600, bucket_s=60, half_life_s=15 * 60),
    "24h": TrendWindowSpec(length_s=86_400, bucket_s=900, half_life_s=6 * 3600),
}


class AnalyticsService:
    """Implements AnalyticsPort; its ``on_*`` methods are the event handlers."""

    def __init__(self, store: ModuleStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock

    # ------------------------------------------------------------------ reads (the port)

    async def tweet_stats(self, requester_id: Id, tweet_id: Id) -> TweetStats:
        """A tweet's counters, for its author only; raises NotStatsOwner or StatsNotFound."""
        if not is_id(tweet_id):
            raise StatsNotFound("no stats for this tweet", field="tweet_id")
        t = tweet_stats
        async with self.store.read() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.tweet_id == int(tweet_id)))).first()
        if row is None or row.author_id is None or row.deleted:
            raise StatsNotFound("no stats for this tweet", field="tweet_id")
        if str(row.author_id) != requester_id:
            raise NotStatsOwner("only the author of a tweet may see its stats", field="tweet_id")
        return TweetStats(
            tweet_id=str(row.tweet_id),
            impressions=max(0, int(row.impressions)),
            likes=max(0, int(row.likes)),
            retweets=max(0, int(row.retweets)),
            replies=max(0, int(row.replies)),
        )

    async def user_stats(self, user_id: Id, days: int) -> UserStats:
        """A user's daily engagement over the last ``days`` UTC days (today included), oldest first;
        days with nothing are zeros. Likes are net (an unlike counts on the day it happens)."""
        if not 1 <= days <= MAX_DAYS:
            raise InvalidInput(f"days must be between 1 and {MAX_DAYS}", field="days")
        today = datetime.fromtimestamp(self._clock(), tz=UTC).date()
        first = today - timedelta(days=days - 1)
        found: dict[date, Any] = {}
        if is_id(user_id):
            d = user_daily
            async with self.store.read() as conn:
                rows = (
                    await conn.execute(
                        sa.select(d).where(d.c.user_id == int(user_id), d.c.day >= first, d.c.day <= today)
                    )
                ).all()
            found = {_as_date(row.day): row for row in rows}
        out: list[DailyStats] = []
        for i in range(days):
            day = first + timedelta(days=i)
            row = found.get(day)
            out.append(
                DailyStats(
                    day=day,
                    tweets=int(row.tweets) if row else 0,
                    impressions=int(row.impressions) if row else 0,
                    likes=int(row.likes) if row else 0,
                    retweets=int(row.retweets) if row else 0,
                    replies=int(row.replies) if row else 0,
                    new_followers=int(row.new_followers) if row else 0,
                )
            )
        return UserStats(user_id=user_id, days=out)

    async def trends(self, window: TrendWindow, limit: int) -> Trends:
        """The top hashtags of a window by exponentially decayed count, highest first."""
        spec = WINDOWS.get(window)
        if spec is None:
            raise InvalidInput("window must be 1h or 24h", field="window")
        if not 1 <= limit <= MAX_TRENDS:
            raise InvalidInput(f"limit must be between 1 and {MAX_TRENDS}", field="limit")
        first, weights = _decay(spec, self._clock())
        h = hashtag_buckets
        weighted = h.c.tweets * sa.case(weights, value=h.c.bucket_start, else_=1.0)
        score = sa.func.sum(weighted).label("score")
        count = sa.func.sum(h.c.tweets).label("tweets")
        query = (
            sa.select(h.c.hashtag, score, count)
            .where(h.c.window == window, h.c.bucket_start >= first)
            .group_by(h.c.hashtag)
            .order_by(score.desc(), count.desc(), h.c.hashtag)
            .limit(limit)
        )
        async with self.store.read() as conn:
            rows = (await conn.execute(query)).all()
        return Trends(
            window=window,
            trends=[
                Trend(hashtag=r.hashtag, score=round(float(r.score), 6), tweets=int(r.tweets)) for r in rows
            ],
        )

    async def trending_tweets(self, window: TrendWindow, limit: int, offset: int = 0) -> TrendingTweets:
        """The public, undeleted tweets of a window by decayed engagement (likes net of unlikes,
        retweets, replies), highest first, newest first among equals."""
        spec = WINDOWS.get(window)
        if spec is None:
            raise InvalidInput("window must be 1h or 24h", field="window")
        if not 1 <= limit <= MAX_TRENDING_TWEETS:
            raise InvalidInput(f"limit must be between 1 and {MAX_TRENDING_TWEETS}", field="limit")
        if not 0 <= offset <= MAX_TRENDING_DEPTH - limit:
            raise InvalidInput(
                f"offset must be between 0 and {MAX_TRENDING_DEPTH} less the limit", field="offset"
            )
        first, weights = _decay(spec, self._clock())
        b, t = tweet_buckets, tweet_stats
        score = sa.func.sum(b.c.engagements * sa.case(weights, value=b.c.bucket_start, else_=1.0)).label(
            "score"
        )
        count = sa.func.sum(b.c.engagements).label("engagements")
        query = (
            sa.select(b.c.tweet_id, score, count)
            .join(t, t.c.tweet_id == b.c.tweet_id)
            .where(
                b.c.window == window,
                b.c.bucket_start >= first,
                t.c.listed.is_(True),
                t.c.deleted.is_(False),
            )
            .group_by(b.c.tweet_id)
            .having(sa.func.sum(b.c.engagements) > 0)
            .order_by(score.desc(), count.desc(), b.c.tweet_id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self.store.read() as conn:
            rows = (await conn.execute(query)).all()
        return TrendingTweets(
            window=window,
            tweets=[
                TrendingTweet(
                    tweet_id=str(r.tweet_id), score=round(float(r.score), 6), engagements=int(r.engagements)
                )
                for r in rows
            ],
        )

    # ------------------------------------------------------------------ event handlers
    # Each gets the transaction that records its events in the inbox, and only new events.

    async def count_tweets_posted(self, tx: Transaction, events: list[TweetPosted]) -> None:
        """A tweet for its author's day; a reply for its parent and the parent's author.

        The whole run at once: one upsert of tweet rows, one of day rows per day and column."""
        authors: dict[int, int | None] = {}
        replies: Counter[int] = Counter()
        days: dict[tuple[date, str], Counter[int]] = {}
        for event in events:
            day = _day(event.created_at)
            tid = int(event.tweet_id)
            authors[tid] = _author(event.author_id) or authors.get(tid)
            days.setdefault((day, "tweets"), Counter())[int(event.author_id)] += 1
            if event.reply_to_id is not None:
                parent = int(event.reply_to_id)
                parent_author = _author(event.reply_to_author_id)
                authors[parent] = authors.get(parent) or parent_author
                replies[parent] += 1
                if parent_author is not None:
                    days.setdefault((day, "replies"), Counter())[parent_author] += 1
        await _bump_tweets(tx, authors, {"replies": replies})
        for (day, column), counts in days.items():
            await _bump_days(tx, day, column, counts)

    async def bucket_hashtags(self, tx: Transaction, events: list[TweetPosted]) -> None:
        """The public tweets' hashtags into the trend buckets of every window (a tag used only in
        unlisted, followers-only or direct tweets must not surface in trends: Mastodon's rule).

        Trending tweets too: whether each tweet is public (only those trend), and a reply as
        engagement with its parent."""
        now = self._clock()
        rows: list[dict[str, Any]] = []
        await _mark_listed(
            tx,
            [
                {
                    "tweet_id": int(e.tweet_id),
                    "author_id": _author(e.author_id),
                    "listed": e.visibility == "public",
                }
                for e in events
            ],
        )
        for event in events:
            if event.reply_to_id is not None:
                await self._bucket_engagement(tx, event.created_at, int(event.reply_to_id), 1)
            if event.visibility != "public":
                continue
            tags = list(dict.fromkeys(tag.lstrip("#").lower() for tag in event.hashtags if tag.lstrip("#")))
            at = event.created_at.timestamp()
            for name, spec in WINDOWS.items():
                if at < now - spec.length_s - spec.bucket_s:
                    continue  # already outside this window: nothing to count
                bucket = int(at // spec.bucket_s) * spec.bucket_s
                rows.extend(
                    {"window": name, "hashtag": tag[:280], "bucket_start": bucket, "tweets": 1}
                    for tag in tags
                )
        # One row per bucket and tag per statement (an upsert may not touch a row twice).
        merged: Counter[tuple[str, str, int]] = Counter()
        for row in rows:
            merged[(row["window"], row["hashtag"], row["bucket_start"])] += row["tweets"]
        if merged:
            await _upsert_add(
                tx,
                hashtag_buckets,
                ["window", "hashtag", "bucket_start"],
                [
                    {"window": w, "hashtag": h, "bucket_start": b, "tweets": n}
                    for (w, h, b), n in merged.items()
                ],
                ["tweets"],
            )

    async def count_likes(self, tx: Transaction, events: list[TweetLiked]) -> None:
        for event in events:
            await self._engagement(tx, event.occurred_at, "likes", 1, event.tweet_id, event.author_id)

    async def count_unlikes(self, tx: Transaction, events: list[TweetUnliked]) -> None:
        for event in events:
            await self._engagement(tx, event.occurred_at, "likes", -1, event.tweet_id, event.author_id)

    async def count_retweets(self, tx: Transaction, events: list[Retweeted]) -> None:
        for event in events:
            await self._engagement(tx, event.occurred_at, "retweets", 1, event.tweet_id, event.author_id)

    async def count_follows(self, tx: Transaction, events: list[UserFollowed]) -> None:
        """New followers per followee and day: one upsert per day."""
        per_day: dict[date, Counter[int]] = {}
        for event in events:
            per_day.setdefault(_day(event.occurred_at), Counter())[int(event.followee_id)] += 1
        for day, counts in per_day.items():
            await _bump_days(tx, day, "new_followers", counts)

    async def count_impressions(self, tx: Transaction, events: list[TimelineServed]) -> None:
        """The events' impressions, for each tweet and for its author's day.

        Impressions of a tweet whose TweetPosted has not arrived yet count for the tweet but
        not for the author's day (the author is not known yet).
        """
        for event in events:
            shown: Counter[int] = Counter()
            for tweet_id, times in event.impressions():
                if is_id(tweet_id) and times > 0:
                    shown[int(tweet_id)] += times
            if not shown:
                continue
            day = _day(event.occurred_at)
            await _bump_tweets(tx, dict.fromkeys(shown), {"impressions": dict(shown)})
            t = tweet_stats
            authors = (
                await tx.conn.execute(
                    sa.select(t.c.tweet_id, t.c.author_id).where(
                        t.c.tweet_id.in_(list(shown)), t.c.author_id.is_not(None)
                    )
                )
            ).all()
            per_author: Counter[int] = Counter()
            for tweet_id, author_id in authors:
                per_author[int(author_id)] += shown[int(tweet_id)]
            if per_author:
                await _bump_days(tx, day, "impressions", dict(per_author))

    async def mark_deleted(self, tx: Transaction, events: list[TweetDeleted]) -> None:
        """A deleted tweet has no stats any more (its counters stop mattering)."""
        t = tweet_stats
        for event in events:
            stmt = upsertable(tx.conn, t).values(tweet_id=int(event.tweet_id), deleted=True)
            await tx.conn.execute(
                stmt.on_conflict_do_update(index_elements=[t.c.tweet_id], set_={"deleted": True})
            )

    # ------------------------------------------------------------------ maintenance

    async def prune(self) -> int:
        """Drop trend buckets that fell out of their window; return how many went."""
        now = self._clock()
        h = hashtag_buckets
        removed = 0
        async with self.store.transaction() as tx:
            for name, spec in WINDOWS.items():
                oldest = now - spec.length_s - spec.bucket_s
                for buckets in (h, tweet_buckets):
                    result = await tx.conn.execute(
                        sa.delete(buckets).where(buckets.c.window == name, buckets.c.bucket_start < oldest)
                    )
                    removed += result.rowcount or 0
        return removed

    async def prune_forever(self, interval_s: float = 60.0) -> None:
        """Prune old trend buckets every ``interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.prune()
            except Exception:
                log.exception("could not prune trend buckets; will retry")

    # ------------------------------------------------------------------ internals

    async def _engagement(
        self, tx: Transaction, at: datetime, column: str, delta: int, tweet_id: str, author_id: str
    ) -> None:
        tid, aid = int(tweet_id), int(author_id)
        await _bump_tweets(tx, {tid: aid}, {column: {tid: delta}})
        await _bump_days(tx, _day(at), column, {aid: delta})
        await self._bucket_engagement(tx, at, tid, delta)

    async def _bucket_engagement(self, tx: Transaction, at: datetime, tweet_id: int, delta: int) -> None:
        """Engagement with a tweet into the trend buckets of every window (whether the tweet is
        public is decided at read time: its TweetPosted may not have arrived yet)."""
        now, moment = self._clock(), as_utc(at).timestamp()
        rows = [
            {
                "window": name,
                "tweet_id": tweet_id,
                "bucket_start": int(moment // spec.bucket_s) * spec.bucket_s,
            }
            for name, spec in WINDOWS.items()
            if moment >= now - spec.length_s - spec.bucket_s  # else already outside the window
        ]
        if rows:
            await _upsert_add(
                tx,
                tweet_buckets,
                ["window", "tweet_id", "bucket_start"],
                [{**row, "engagements": delta} for row in rows],
                ["engagements"],
            )


def _mark_listed_upsert(dialect: str) -> HotWrite:
    t = tweet_stats
    insert = upsertable(dialect, t)
    return HotWrite(
        insert.on_conflict_do_update(
            index_elements=[t.c.tweet_id],
            set_={
                "listed": insert.excluded.listed,
                "author_id": sa.func.coalesce(t.c.author_id, insert.excluded.author_id),
            },
        ),
        ("tweet_id", "author_id", "listed"),
    )


#: ``_mark_listed``'s upsert, built once per dialect (building it per tweet cost more than running it).
_MARK_LISTED = PerDialect(_mark_listed_upsert)


async def _mark_listed(tx: Transaction, rows: list[dict[str, Any]]) -> None:
    """Record whether tweets are public (``tweet_id``, ``author_id``, ``listed`` a row; a stats
    row may not exist yet: counters run apart). One statement for all."""
    if not rows:
        return
    stmt = _MARK_LISTED(tx.conn)
    for chunk in _chunks(rows):
        await tx.write_rows(stmt, chunk)


def _decay(spec: TrendWindowSpec, now: float) -> tuple[int, dict[int, float]]:
    """The window's first bucket, and one weight per bucket (its middle's age, halved every
    half-life); newer-than-now buckets (clock skew between processes) weigh 1."""
    step = spec.bucket_s
    first = math.ceil((now - spec.length_s) / step) * step
    current = math.floor(now / step) * step
    weights = {
        b: 0.5 ** (max(0.0, now - (b + step / 2)) / spec.half_life_s)
        for b in range(first, current + step, step)
    }
    return first, weights


#: Upsert statements, built once per dialect, table, row columns and counters. Each runs with one
#: parameter set per row (executemany), so SQLAlchemy compiles it once and reuses the compiled form;
#: a multi-row VALUES statement was a new statement for every batch size, compiled every time (a
#: flush of 500 impressions spent more in the compiler than in SQLite). On SQLite they run as
#: ``HotWrite``s: one statement of many rows, its SQL made once per row count, no compiling.
_UPSERTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...], bool], HotWrite] = {}
#: Rows per statement on SQLite (under its 32,766 bound values for any of these tables).
_ROWS_PER_STATEMENT = 1000


def _chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i : i + _ROWS_PER_STATEMENT] for i in range(0, len(rows), _ROWS_PER_STATEMENT)]


async def _upsert_add(
    tx: Transaction,
    table: sa.Table,
    keys: list[str],
    rows: list[dict[str, Any]],
    counters: list[str],
    *,
    learn_author: bool = False,
) -> None:
    """Insert rows, or add their counters to the existing rows (every row has the same columns).

    ``learn_author``: an existing row without an author takes the row's (tweet_stats).
    """
    if not rows:
        return
    dialect = tx.conn.dialect.name
    cache_key = (dialect, table.name, tuple(keys), tuple(rows[0]), tuple(counters), learn_author)
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        insert = upsertable(dialect, table)
        set_: dict[str, Any] = {c: table.c[c] + insert.excluded[c] for c in counters}
        if learn_author:
            set_["author_id"] = sa.func.coalesce(table.c.author_id, insert.excluded.author_id)
        stmt = HotWrite(
            insert.on_conflict_do_update(index_elements=[table.c[k] for k in keys], set_=set_), tuple(rows[0])
        )
        _UPSERTS[cache_key] = stmt
    for chunk in _chunks(rows):
        await tx.write_rows(stmt, chunk)


async def _bump_tweets(
    tx: Transaction, authors: Mapping[int, int | None], deltas: Mapping[str, Mapping[int, int]]
) -> None:
    """Add ``deltas[column][tweet_id]`` to tweets' counters, learning authors that are known."""
    t = tweet_stats
    columns = ["impressions", "likes", "retweets", "replies"]
    rows = [
        {
            "tweet_id": tid,
            "author_id": author,
            **{c: deltas.get(c, {}).get(tid, 0) for c in columns},
        }
        for tid, author in authors.items()
    ]
    await _upsert_add(tx, t, ["tweet_id"], rows, columns, learn_author=True)


async def _bump_days(tx: Transaction, day: date, column: str, deltas: Mapping[int, int]) -> None:
    """Add ``deltas[user_id]`` to one column of users' day rows."""
    rows = [{"user_id": uid, "day": day, column: delta} for uid, delta in deltas.items()]
    await _upsert_add(tx, user_daily, ["user_id", "day"], rows, [column])


def _author(author_id: str | None) -> int | None:
    return int(author_id) if author_id is not None and is_id(author_id) else None


def _day(moment: datetime) -> date:
    return as_utc(moment).date()


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
