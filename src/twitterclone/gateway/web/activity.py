"""Web pages for what happens around one: notifications, search and trends, and the live stream.

The live stream (``GET /live``, Server-Sent Events) follows the rules of every stream
(``gateway/streams.py``): opened through the StreamGate (capped per user and per process), it
gives its admission slot back at once and re-checks its session every ``stream_recheck_s``.
It sends ``unread`` (the unread notification count, at once and whenever a notification comes)
and, on the home page, ``tweet`` events carrying the rendered tweet for each new entry of the
home timeline. Both come from the ports' long-polls, followed as the Mastodon streams follow them
(``gateway/livefeeds.py``): ``NotificationsPort.wait_for_new`` and ``TimelinePort.home_changes``,
each a feed of its own, so an idle stream makes one call per feed every ``LONG_POLL_S`` and a
change arrives as soon as the module has it. The page's newest entry (``after``) is where the
home feed catches up from: one home page read for what came between the page and the stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage, Template

from boundaries._kernel.errors import DomainError, InvalidInput
from boundaries._kernel.pagination import DEFAULT_PAGE_SIZE, PageRequest
from boundaries.analytics.port import AnalyticsPort
from boundaries.media.port import MediaPort
from boundaries.notifications.port import NotificationsPort
from boundaries.timeline.port import TimelinePort
from boundaries.tweets.dto import Tweet
from boundaries.tweets.port import TweetsPort
from boundaries.users.port import UsersPort
from twitterclone.gateway.admission import hold_as_stream
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.livefeeds import LONG_POLL_S, WAIT_MARGIN_S, follow, home_changes
from twitterclone.gateway.params import ID_PATTERN, Cursor
from twitterclone.gateway.streams import StreamGate, notification_baseline
from twitterclone.gateway.web.common import media_alts, read_form
from twitterclone.gateway.web.render import back, page, render_fragment
from twitterclone.gateway.web.session import SESSION_STATE_KEY, WebSession, current_session
from twitterclone.remote.deadline import deadline_scope
from twitterclone.settings import Settings

#: How soon a tweet held back for its images (drafts until media hears of it) is looked at again.
HELD_RECHECK_S = 0.5
#: Tweet ids a stream remembers having sent (the catch-up read and the feed may both see one).
SENT_KEPT = 200
#: Send a comment this often when nothing happens, so proxies keep the connection.
KEEPALIVE_S = 15.0
#: How long a browser waits before reconnecting after the stream drops, in ms.
RECONNECT_MS = 3000
#: How long a new tweet whose images are still drafts is held back from the live stream.
MEDIA_WAIT_S = 3.0
#: Trends shown beside search.
TRENDS_SHOWN = 10

Query = Annotated[str, QueryParameter(name="q", max_length=200, required=False)]
AfterId = Annotated[str | None, QueryParameter(name="after", pattern=ID_PATTERN, required=False)]


class ActivityPages(Controller):
    """Notifications, search and trends, and the live stream."""

    path = "/"
    include_in_schema = False

    @get("/notifications", name="web-notifications")
    @inject
    async def notifications(
        self,
        request: HTMXRequest,
        me: NamedDependency[WebSession],
        notifications: FromDishka[NotificationsPort],
        users: FromDishka[UsersPort],
        tweets: FromDishka[TweetsPort],
        cursor: Cursor = None,
    ) -> Template:
        found = await notifications.notifications(
            me.user_id, PageRequest(cursor=cursor, limit=DEFAULT_PAGE_SIZE)
        )
        actor_ids = list(dict.fromkeys(n.actor_id for n in found.items))
        tweet_ids = list(dict.fromkeys(n.tweet_id for n in found.items if n.tweet_id))
        actors = {a.id: a for a in await users.authors(actor_ids)} if actor_ids else {}
        shown = {t.id: t for t in await tweets.get_many(tweet_ids, me.user_id)} if tweet_ids else {}
        unread = sum(1 for n in found.items if not n.read)
        return page(
            request,
            me,
            "notifications.html",
            items=found.items,
            actors=actors,
            tweets=shown,
            unread=unread,
            next_url=f"/notifications?cursor={found.next_cursor}" if found.next_cursor else None,
        )

    @post("/notifications/read", name="web-notifications-read")
    @inject
    async def mark_read(
        self,
        request: HTMXRequest,
        me: NamedDependency[WebSession],
        notifications: FromDishka[NotificationsPort],
    ) -> Redirect:
        form = await read_form(request, me)
        up_to = form.text("up_to") or None
        await notifications.mark_read(me.user_id, up_to)
        return back(request, "/notifications")

    @get("/search", name="web-search")
    @inject
    async def search(
        self,
        request: HTMXRequest,
        web: NamedDependency[WebSession | None],
        users: FromDishka[UsersPort],
        tweets: FromDishka[TweetsPort],
        media: FromDishka[MediaPort],
        analytics: FromDishka[AnalyticsPort],
        q: Query = "",
        cursor: Cursor = None,
    ) -> Template:
        query = q.strip()
        viewer = web.user_id if web else None
        people: list[Any] = []
        found: list[Any] = []
        next_url = None
        error = None
        if query:
            name = query.lstrip("@")
            try:
                if not query.startswith("#") and name and len(name) <= 50 and cursor is None:
                    people = (await users.search(name, PageRequest(limit=5))).items
                page_of = await tweets.search(
                    query, viewer, PageRequest(cursor=cursor, limit=DEFAULT_PAGE_SIZE)
                )
            except InvalidInput as exc:
                error = exc.detail
            else:
                found = page_of.items
                if page_of.next_cursor:
                    next_url = f"/search?q={quote(query, safe='')}&cursor={page_of.next_cursor}"
        alts = await media_alts(media, found, viewer)
        if request.htmx and cursor:
            return page(request, web, "_feed.html", tweets=found, next_url=next_url, alts=alts)
        trends = await analytics.trends("24h", TRENDS_SHOWN)
        return page(
            request,
            web,
            "search.html",
            status=422 if error else 200,
            q=query,
            people=people,
            tweets=found,
            alts=alts,
            next_url=next_url,
            trends=trends.trends,
            error=error,
        )

    @get("/live", name="web-live")
    @inject
    async def live(
        self,
        request: HTMXRequest,
        me: NamedDependency[WebSession],
        settings: FromDishka[Settings],
        notifications: FromDishka[NotificationsPort],
        timeline: FromDishka[TimelinePort],
        tweets: FromDishka[TweetsPort],
        media: FromDishka[MediaPort],
        after: AfterId = None,
        home: Annotated[bool, QueryParameter(name="home", required=False)] = False,
    ) -> ServerSentEvent:
        gate: StreamGate = request.app.state.streams
        ticket = gate.open(me.user_id)  # 429/503 past a cap
        hold_as_stream(request.scope, ticket.close)  # no request slot, no request deadline from here
        events = _live(
            request,
            me,
            notifications,
            timeline,
            tweets,
            media,
            home_after=(int(after) if after else 0) if home else None,
            recheck_s=settings.stream_recheck_s,
        )
        return ServerSentEvent(events, retry_duration=RECONNECT_MS)


async def _still_signed_in(request: HTMXRequest, sid: str) -> bool:
    """The stream's session still stands (refreshing its access token when due)."""
    request.scope.setdefault("state", {}).pop(SESSION_STATE_KEY, None)
    try:
        session = await current_session(request)
    except (DomainError, OSError, TimeoutError):
        return False
    return session is not None and session.sid == sid


def _age_s(tweet: Tweet) -> float:
    created = tweet.created_at if tweet.created_at.tzinfo else tweet.created_at.replace(tzinfo=UTC)
    return (datetime.now(UTC) - created).total_seconds()


async def _images(media: MediaPort, tweets: list[Tweet], viewer_id: str) -> tuple[dict[str, str], set[str]]:
    """The alt text of the tweets' images, and the tweets whose images others cannot see yet."""
    wanted = {t.id: _media_ids(t) for t in tweets}
    ids = list(dict.fromkeys(i for ids in wanted.values() for i in ids))
    if not ids:
        return {}, set()
    found = await media.get_many(ids, viewer_id)
    visible = {m.id for m in found}  # another's draft is left out: not visible yet
    alts = {m.id: m.description for m in found if m.description}
    return alts, {tweet_id for tweet_id, ids in wanted.items() if not set(ids) <= visible}


def _media_ids(tweet: Tweet) -> list[str]:
    ids: list[str] = []
    for shown in (tweet, tweet.retweet_of, tweet.quoted):
        if shown is not None:
            ids.extend(shown.media_ids)
    return ids


@dataclass
class _LiveHome:
    """The home feed of one live stream: new entries, rendered, oldest first.

    A tweet whose images are still drafts (media has not heard of the tweet yet) is held back
    and looked at again every ``HELD_RECHECK_S``, for at most ``MEDIA_WAIT_S``.
    """

    me: WebSession
    timeline: TimelinePort
    tweets: TweetsPort
    media: MediaPort
    put: Callable[[ServerSentEventMessage], Awaitable[None]]
    held: list[Tweet] = field(default_factory=list)
    sent: dict[str, None] = field(default_factory=dict)

    def take(self, found: list[Tweet]) -> None:
        known = set(self.sent) | {t.id for t in self.held}
        self.held.extend(t for t in found if t.id not in known)

    async def step(self, position: str | None) -> str:
        await self.send()  # what the catch-up read found, or what was held back
        wait = HELD_RECHECK_S if self.held else LONG_POLL_S
        changes = await home_changes(self.timeline, self.me.user_id, position, wait)
        if changes.added:
            with deadline_scope(WAIT_MARGIN_S):
                self.take(await self.tweets.get_feed(changes.added, self.me.user_id))
        await self.send()
        return changes.position

    async def send(self) -> None:
        if not self.held:
            return
        with deadline_scope(WAIT_MARGIN_S):
            alts, pending = await _images(self.media, self.held, self.me.user_id)
        while self.held:
            tweet = self.held[0]
            if tweet.id in pending and _age_s(tweet) < MEDIA_WAIT_S:
                return  # its images are drafts until media hears of the tweet: look again soon
            html = render_fragment(
                "_tweet.html", tweet=tweet, alts=alts, session=self.me, csrf=self.me.csrf, full_path="/"
            )
            await self.put(
                ServerSentEventMessage(event="tweet", id=tweet.id, data=" ".join(html.split("\n")))
            )
            self.held.pop(0)
            self.sent[tweet.id] = None
            if len(self.sent) > SENT_KEPT:
                del self.sent[next(iter(self.sent))]


async def _live(
    request: HTMXRequest,
    me: WebSession,
    notifications: NotificationsPort,
    timeline: TimelinePort,
    tweets: TweetsPort,
    media: MediaPort,
    *,
    home_after: int | None,
    recheck_s: float,
) -> AsyncIterator[ServerSentEventMessage]:
    queue: asyncio.Queue[ServerSentEventMessage] = asyncio.Queue(maxsize=1000)
    home = _LiveHome(me, timeline, tweets, media, queue.put) if home_after is not None else None
    with deadline_scope(WAIT_MARGIN_S):
        after_notification = await notification_baseline(notifications, me.user_id)
        unread = await notifications.unread_count(me.user_id)
    # Both feeds start from before the stream is answered; the home feed first takes where
    # "now" is, then catches up from the page's newest entry (what came in between).
    home_position = None
    if home is not None:
        home_position = (await home_changes(timeline, me.user_id, None, 0)).position
        with deadline_scope(WAIT_MARGIN_S):
            latest = await timeline.home_timeline(me.user_id, PageRequest(limit=DEFAULT_PAGE_SIZE))
        home.take([t for t in reversed(latest.items) if int(t.id) > (home_after or 0)])

    async def unread_step(after: str) -> str:
        with deadline_scope(LONG_POLL_S + WAIT_MARGIN_S):
            fresh = await notifications.wait_for_new(me.user_id, after, LONG_POLL_S)
            if not fresh:
                return after
            count = await notifications.unread_count(me.user_id)
        await queue.put(ServerSentEventMessage(event="unread", data=str(count.unread)))
        return fresh[-1].id

    feeds = [asyncio.create_task(follow(unread_step, after_notification, name="web-unread"))]
    if home is not None:
        feeds.append(asyncio.create_task(follow(home.step, home_position, name="web-home")))
    try:
        yield ServerSentEventMessage(event="unread", data=str(unread.unread))
        checked_at = quiet_since = time.monotonic()
        while True:
            if time.monotonic() - checked_at >= recheck_s:
                if not await _still_signed_in(request, me.sid):
                    yield ServerSentEventMessage(event="signed-out", data="sign in again")
                    return
                checked_at = time.monotonic()
            try:
                message = await asyncio.wait_for(queue.get(), timeout=min(recheck_s, KEEPALIVE_S))
            except TimeoutError:
                if time.monotonic() - quiet_since >= KEEPALIVE_S:
                    yield ServerSentEventMessage(data=None, comment="keep-alive")
                    quiet_since = time.monotonic()
                continue
            yield message
            quiet_since = time.monotonic()
    finally:
        for task in feeds:
            task.cancel()
        await asyncio.gather(*feeds, return_exceptions=True)
