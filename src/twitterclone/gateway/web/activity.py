"""Web pages for what happens around one: notifications, search and trends, and the live stream.

The live stream (``GET /live``, Server-Sent Events) follows the rules of every stream
(``gateway/streams.py``): opened through the StreamGate (capped per user and per process), it
gives its admission slot back at once and re-checks its session every ``stream_recheck_s``.
It sends ``unread`` (the unread notification count, at once and whenever a notification comes:
the wait on the notifications port is what paces the loop) and, on the home page, ``tweet``
events carrying the rendered tweet for each new entry of the home timeline, which it reads
every ``LIVE_POLL_S`` (one page call, as the home page makes).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
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
from twitterclone.gateway.params import ID_PATTERN, Cursor
from twitterclone.gateway.streams import StreamGate, notification_baseline
from twitterclone.gateway.web.common import media_alts, read_form
from twitterclone.gateway.web.render import back, page, render_fragment
from twitterclone.gateway.web.session import SESSION_STATE_KEY, WebSession, current_session
from twitterclone.remote.deadline import deadline_scope
from twitterclone.settings import Settings

#: How long one wait for notifications lasts, and so how often the home timeline is read.
LIVE_POLL_S = 0.5
#: Time a stream's port call gets beyond the wait it asks for.
WAIT_MARGIN_S = 5.0
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


async def _live(
    request: HTMXRequest,
    me: WebSession,
    notifications: NotificationsPort,
    timeline: TimelinePort,
    media: MediaPort,
    *,
    home_after: int | None,
    recheck_s: float,
) -> AsyncIterator[ServerSentEventMessage]:
    with deadline_scope(WAIT_MARGIN_S):
        after_notification = await notification_baseline(notifications, me.user_id)
        unread = await notifications.unread_count(me.user_id)
    yield ServerSentEventMessage(event="unread", data=str(unread.unread))
    checked_at = quiet_since = time.monotonic()
    while True:
        now = time.monotonic()
        if now - checked_at >= recheck_s:
            if not await _still_signed_in(request, me.sid):
                yield ServerSentEventMessage(event="signed-out", data="sign in again")
                return
            checked_at = now
        with deadline_scope(LIVE_POLL_S + WAIT_MARGIN_S):
            fresh = await notifications.wait_for_new(me.user_id, after_notification, LIVE_POLL_S)
            if fresh:
                after_notification = fresh[-1].id
                unread = await notifications.unread_count(me.user_id)
                yield ServerSentEventMessage(event="unread", data=str(unread.unread))
                quiet_since = time.monotonic()
            if home_after is not None:
                latest = await timeline.home_timeline(me.user_id, PageRequest(limit=DEFAULT_PAGE_SIZE))
                new = [t for t in latest.items if int(t.id) > home_after]
                alts, pending = await _images(media, new, me.user_id)
                for tweet in reversed(new):  # oldest first
                    if tweet.id in pending and _age_s(tweet) < MEDIA_WAIT_S:
                        break  # its images are drafts until media hears of the tweet: next round
                    html = render_fragment(
                        "_tweet.html", tweet=tweet, alts=alts, session=me, csrf=me.csrf, full_path="/"
                    )
                    yield ServerSentEventMessage(event="tweet", id=tweet.id, data=" ".join(html.split("\n")))
                    home_after = int(tweet.id)
                    quiet_since = time.monotonic()
        if time.monotonic() - quiet_since >= KEEPALIVE_S:
            yield ServerSentEventMessage(data=None, comment="keep-alive")
            quiet_since = time.monotonic()
