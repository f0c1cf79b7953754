"""Mastodon's streaming API: ``/api/v1/streaming`` (WebSocket, multiplexed) and its SSE endpoints.

Streams: ``user`` (home timeline updates and deletions, and notifications), ``user:notification``,
``public`` and ``public:local`` (the same here: every account is local; ``:media`` variants keep
statuses with media), ``hashtag`` and ``hashtag:local`` (``tag``). Events: ``update`` (a Status,
JSON in a string), ``delete`` (a status id), ``notification`` (a Notification, JSON in a string).

Nothing here decides what anyone may see: the events come from the ports' long-polls
(``TimelinePort.home_changes``, ``TweetsPort.public_changes``, ``NotificationsPort.wait_for_new``),
which the modules answer in every topology, and statuses are hydrated through
``TweetsPort.get_feed`` as the viewer (blocks, mutes, visibility). Shapes are the adapter's
(``shaping.Shaper``).

Like the native notification stream, a stream is counted by the ``StreamGate`` (a few per user,
a cap per process, both in /metrics), holds no admission slot, and re-checks its token every
``stream_recheck_s``: it ends once the token expires or is revoked or the account is suspended.
The token is taken from the ``Authorization`` header, the ``access_token`` query parameter, or
(WebSocket) the ``Sec-WebSocket-Protocol`` header, which the server then echoes, as browsers need.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Request, Response, WebSocket, get, websocket
from litestar.connection import ASGIConnection
from litestar.exceptions import WebSocketDisconnect
from litestar.response import ServerSentEvent, ServerSentEventMessage

from boundaries._kernel.errors import DomainError, InvalidInput
from boundaries._kernel.ids import is_id
from boundaries.media.port import MediaPort
from boundaries.notifications.dto import Notification
from boundaries.notifications.port import NotificationsPort
from boundaries.timeline.port import TimelinePort
from boundaries.tweets.port import TweetsPort
from boundaries.users.port import UsersPort
from boundaries.users.scopes import covers
from twitterclone.gateway.admission import hold_as_stream
from twitterclone.gateway.auth import (
    InsufficientScope,
    InvalidToken,
    Principal,
    TokenVerifier,
    UserTokenRequired,
)
from twitterclone.gateway.livefeeds import LONG_POLL_S, WAIT_MARGIN_S, follow, home_changes
from twitterclone.gateway.mastodon.deps import TAG, may_answer
from twitterclone.gateway.mastodon.params import Flag, StreamTag
from twitterclone.gateway.mastodon.routes.notifications import _shape as shape_notifications
from twitterclone.gateway.mastodon.shaping import Shaper
from twitterclone.gateway.media_urls import media_urls_of
from twitterclone.gateway.params import BEARER
from twitterclone.gateway.streams import StreamGate, StreamTicket, notification_baseline
from twitterclone.remote.deadline import deadline_scope, deadline_var
from twitterclone.settings import Settings

log = logging.getLogger("twitterclone.gateway.streaming")

#: Seconds of silence after which an SSE stream sends a heartbeat comment.
KEEPALIVE_S = 15.0
#: Subscriptions one WebSocket may hold at once.
MAX_SUBSCRIPTIONS = 16
#: Messages a client may send on one WebSocket: a burst, then so many a second. A subscribe
#: starts feeds and reads a baseline, and messages pass neither the rate limiter nor admission,
#: so a socket past its budget is closed (1008) rather than left to make the server work.
MESSAGE_BURST = 32
MESSAGES_PER_S = 2.0
#: Streams one may ask for, and the scope each needs (besides the stream itself: ``read``).
STREAMS: dict[str, str] = {
    "user": "read:statuses",
    "user:notification": "read:notifications",
    "public": "read:statuses",
    "public:local": "read:statuses",
    "public:media": "read:statuses",
    "public:local:media": "read:statuses",
    "public:remote": "read:statuses",
    "public:remote:media": "read:statuses",
    "hashtag": "read:statuses",
    "hashtag:local": "read:statuses",
}

_encoder = msgspec.json.Encoder()
#: SSE lines end with a bare LF, as Mastodon's server sends them: clients (Mastodon.py) split on
#: ``\n`` and take a lone ``\r`` for a field, never seeing the blank line that ends an event.
LF = "\n"


class UnknownStream(InvalidInput):
    """A stream name Mastodon does not define (or a hashtag stream without a tag)."""

    code = "unknown-stream"


@dataclass(frozen=True, slots=True)
class Channel:
    """One subscription: a stream and, for hashtag streams, its tag."""

    stream: str
    tag: str | None = None

    @classmethod
    def of(cls, stream: str | None, tag: str | None) -> Channel:
        if stream not in STREAMS:
            raise UnknownStream("Unknown stream type")
        if stream.startswith("hashtag"):
            if not tag:
                raise UnknownStream("No tag for stream provided")
            return cls(stream, tag.removeprefix("#").lower())
        return cls(stream)

    def names(self) -> list[str]:
        """The ``stream`` field of a WebSocket message (``["hashtag", "cats"]`` for a tag)."""
        return [self.stream, self.tag] if self.tag is not None else [self.stream]


#: One event for a channel: (channel, event name, payload).
Event = tuple[Channel, str, str]
Put = Callable[[Event], Awaitable[None]]


# ------------------------------------------------------------------------------------ tokens


def _token(
    connection: ASGIConnection[Any, Any, Any, Any], *, websocket_protocol: bool
) -> tuple[str | None, bool]:
    """The access token of a stream request, and whether it came as the WebSocket subprotocol."""
    header = connection.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("use the Authorization header as 'Bearer <access token>'")
        return token.strip(), False
    query = connection.query_params.get("access_token")
    if query:
        return query, False
    if websocket_protocol:
        protocol = connection.headers.get("sec-websocket-protocol")
        if protocol:
            return protocol.split(",")[0].strip(), True
    return None, False


async def _principal(verifier: TokenVerifier, token: str | None, channel: Channel | None) -> Principal:
    """The stream's user: a valid user token (not a client's) with the scope the stream needs."""
    if token is None:
        raise InvalidToken("Missing access token")
    principal = await verifier.verify(token)
    if not is_id(principal.user_id):
        raise UserTokenRequired("This method requires an authenticated user")
    if channel is None:
        if not (covers(principal.scopes, "read:statuses") or covers(principal.scopes, "read:notifications")):
            raise InsufficientScope("Access token does not have the required scopes")
    else:
        _check_scope(principal, channel)
    return principal


def _check_scope(principal: Principal, channel: Channel) -> None:
    if not covers(principal.scopes, STREAMS[channel.stream]):
        raise InsufficientScope("Access token does not have the required scopes")


def _authority(verifier: TokenVerifier, token: str) -> Callable[[], Awaitable[bool]]:
    """A check to repeat while the stream lasts: does its token still stand?"""

    async def still_authorised() -> bool:
        try:
            await verifier.verify(token)
        except (DomainError, OSError, TimeoutError):
            return False
        return True

    return still_authorised


def _base(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The HTTP origin (links in entities), for a WebSocket too."""
    base = str(connection.base_url).rstrip("/")
    if base.startswith("ws"):
        base = "http" + base[2:]
    return base


# ------------------------------------------------------------------------------------- feeds


@dataclass
class Feeds:
    """The event sources of one stream's user: each runs until cancelled, putting events."""

    user_id: str
    shaper: Shaper
    tweets: TweetsPort
    timeline: TimelinePort
    notifications: NotificationsPort
    #: How long one long-poll waits; how often the stream's token is checked again.
    wait_s: float
    recheck_s: float

    async def _statuses(self, ids: list[str], *, only_media: bool = False) -> list[str]:
        """Status JSON for tweet ids, as the user may see them (one batch), in their order."""
        if not ids:
            return []
        with deadline_scope(self.wait_s + WAIT_MARGIN_S):
            tweets = await self.tweets.get_feed(ids, self.user_id)
            shaped, _ = await self.shaper.statuses(tweets, self.user_id)
        if only_media:
            shaped = [s for s in shaped if s.media_attachments or (s.reblog and s.reblog.media_attachments)]
        return [_encoder.encode(s).decode() for s in shaped]

    async def _shaped_notifications(self, items: list[Notification]) -> list[str]:
        """Notification JSON, shaped as the notifications routes shape them (one hydration)."""
        with deadline_scope(self.wait_s + WAIT_MARGIN_S):
            shaped = await shape_notifications(items, self.user_id, self.tweets, self.shaper)
        return [_encoder.encode(n).decode() for n in shaped]

    # Each step makes one wait of a feed and returns where the next one resumes; a step that
    # fails leaves the position as it was, so a port that fails for a moment loses nothing.

    async def home(self, channel: Channel, put: Put, position: str | None) -> str:
        changes = await home_changes(self.timeline, self.user_id, position, self.wait_s)
        for payload in await self._statuses(changes.added):
            await put((channel, "update", payload))
        for tweet_id in changes.removed:
            await put((channel, "delete", tweet_id))
        return changes.position

    async def user_notifications(self, channel: Channel, put: Put, after: str | None) -> str:
        if after is None:  # from now: the newest existing notification is the baseline
            with deadline_scope(self.wait_s + WAIT_MARGIN_S):
                newest = await notification_baseline(self.notifications, self.user_id)
            return newest or "0"
        with deadline_scope(self.wait_s + WAIT_MARGIN_S):
            items = await self.notifications.wait_for_new(self.user_id, after, self.wait_s)
        if not items:
            return after
        for payload in await self._shaped_notifications(items):
            await put((channel, "notification", payload))
        return items[-1].id

    async def public(self, channel: Channel, put: Put, position: str | None) -> str | None:
        if channel.stream.startswith("public:remote"):  # every account is local: nothing, ever
            await asyncio.sleep(3600)
            return position
        with deadline_scope(self.wait_s + WAIT_MARGIN_S):
            changes = await self.tweets.public_changes(position, channel.tag, self.wait_s)
        for payload in await self._statuses(changes.posted, only_media=channel.stream.endswith(":media")):
            await put((channel, "update", payload))
        for tweet_id in changes.deleted:  # a status id is its tweet's id
            await put((channel, "delete", tweet_id))
        return changes.position

    async def baseline(self, source: Step, channel: Channel) -> Any:
        """Where a feed starts, taken before the stream is answered. A feed asked from "now"
        counts what is already there as seen, so a start read later by the feed's task could
        already include (and so skip) a post or notification made after the client saw the
        stream open. This is the feed's first step, moved ahead: no call is added."""
        if channel.stream.startswith("public:remote"):  # silent: nothing to start from
            return None
        try:
            return await source(channel, _discard, None)
        except Exception:  # the feed takes its start itself, as before
            log.warning("stream baseline failed", exc_info=True, extra={"stream": channel.stream})
            return None

    def sources(self, channel: Channel) -> list[Step]:
        if channel.stream == "user":
            return [self.home, self.user_notifications]
        if channel.stream == "user:notification":
            return [self.user_notifications]
        return [self.public]


async def _discard(event: Any) -> None:
    """A put for a baseline read, which has nothing to deliver."""


#: One wait of a feed: (channel, put, where to resume) -> where the next one resumes.
Step = Callable[[Channel, Put, Any], Awaitable[Any]]


@dataclass
class Subscriptions:
    """The channels one stream follows, each with its running feeds, feeding one queue."""

    feeds: Feeds
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    running: dict[Channel, list[asyncio.Task[None]]] = field(default_factory=dict)

    async def _put(self, event: Event) -> None:
        if event[0] in self.running:  # not after an unsubscribe
            await self.queue.put(event)

    async def subscribe(self, channel: Channel) -> None:
        if channel in self.running:
            return
        if len(self.running) >= MAX_SUBSCRIPTIONS:
            raise UnknownStream(f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection")
        tasks: list[asyncio.Task[None]] = []
        self.running[channel] = tasks
        sources = self.feeds.sources(channel)
        starts = await asyncio.gather(*(self.feeds.baseline(source, channel) for source in sources))
        for source, start in zip(sources, starts, strict=True):
            tasks.append(
                asyncio.create_task(
                    follow(functools.partial(source, channel, self._put), start, name=channel.stream),
                    name=f"stream-{channel.stream}",
                )
            )

    def unsubscribe(self, channels: Iterable[Channel]) -> None:
        for channel in list(channels):
            for task in self.running.pop(channel, []):
                task.cancel()

    async def close(self) -> None:
        tasks = [t for ts in self.running.values() for t in ts]
        self.running.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _feeds(connection: ASGIConnection[Any, Any, Any, Any], user_id: str) -> Feeds:
    container = connection.app.state.dishka_container
    settings: Settings = await container.get(Settings)
    shaper = Shaper(
        _base(connection),
        await container.get(UsersPort),
        await container.get(MediaPort),
        await container.get(TweetsPort),
        urls=media_urls_of(connection.app),
    )
    return Feeds(
        user_id=user_id,
        shaper=shaper,
        tweets=await container.get(TweetsPort),
        timeline=await container.get(TimelinePort),
        notifications=await container.get(NotificationsPort),
        wait_s=min(settings.stream_recheck_s, LONG_POLL_S),
        recheck_s=settings.stream_recheck_s,
    )


# --------------------------------------------------------------------------------------- SSE


async def _sse_events(
    subscriptions: Subscriptions, still_authorised: Callable[[], Awaitable[bool]], recheck_s: float
) -> AsyncIterator[ServerSentEventMessage]:
    try:
        yield ServerSentEventMessage(data=None, comment=")", sep=LF)
        last_check = quiet_since = time.monotonic()
        while True:
            now = time.monotonic()
            if now - last_check >= recheck_s:
                if not await still_authorised():
                    return  # Mastodon closes the stream; the client signs in again
                last_check = now
            try:
                _, event, payload = await asyncio.wait_for(
                    subscriptions.queue.get(), timeout=min(recheck_s, KEEPALIVE_S)
                )
            except TimeoutError:
                if time.monotonic() - quiet_since >= KEEPALIVE_S:
                    yield ServerSentEventMessage(data=None, comment="thump", sep=LF)
                    quiet_since = time.monotonic()
                continue
            yield ServerSentEventMessage(event=event, data=payload, sep=LF)
            quiet_since = time.monotonic()
    finally:
        await subscriptions.close()


async def _open_sse(request: Request[Any, Any, Any], channel: Channel) -> ServerSentEvent:
    verifier: TokenVerifier = request.app.state.token_verifier
    token, _ = _token(request, websocket_protocol=False)
    principal = await _principal(verifier, token, channel)
    assert token is not None
    feeds = await _feeds(request, principal.user_id)
    gate: StreamGate = request.app.state.streams
    ticket = gate.open(principal.user_id)  # 429/503 past a cap
    hold_as_stream(request.scope, ticket.close)  # no request slot, no request deadline from here
    subscriptions = Subscriptions(feeds)
    await subscriptions.subscribe(channel)
    events = _sse_events(subscriptions, _authority(verifier, token), feeds.recheck_s)
    return ServerSentEvent(events, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


_SSE: dict[str, Any] = {
    "tags": [TAG],
    "security": BEARER,
    "opt": may_answer(400, 401, 403, 429, 503),
    "description": (
        "Server-sent events (`event: update|delete|notification`, `data: <payload>`), as Mastodon's "
        "streaming server sends them; a `:thump` comment when idle. The stream ends when its token "
        "lapses (re-checked every few seconds). Token: `Authorization: Bearer` or `access_token`."
    ),
}


@get("/v1/streaming/health", operation_id="mastodonStreamingHealth", tags=[TAG], summary="Is streaming alive")
async def streaming_health() -> Response[str]:
    return Response("OK", media_type="text/plain")


@get(
    "/v1/streaming/user", operation_id="mastodonStreamUser", summary="Home timeline and notifications", **_SSE
)
async def stream_user(request: Request[Any, Any, Any]) -> ServerSentEvent:
    return await _open_sse(request, Channel("user"))


@get(
    "/v1/streaming/user/notification",
    operation_id="mastodonStreamUserNotification",
    summary="Notifications",
    **_SSE,
)
async def stream_user_notification(request: Request[Any, Any, Any]) -> ServerSentEvent:
    return await _open_sse(request, Channel("user:notification"))


def _public_channel(local: bool, only_media: bool) -> Channel:
    return Channel("public" + (":local" if local else "") + (":media" if only_media else ""))


@get("/v1/streaming/public", operation_id="mastodonStreamPublic", summary="Public statuses", **_SSE)
async def stream_public(request: Request[Any, Any, Any], only_media: Flag = False) -> ServerSentEvent:
    return await _open_sse(request, _public_channel(False, only_media))


@get("/v1/streaming/public/local", operation_id="mastodonStreamPublicLocal", summary="Local statuses", **_SSE)
async def stream_public_local(request: Request[Any, Any, Any], only_media: Flag = False) -> ServerSentEvent:
    return await _open_sse(request, _public_channel(True, only_media))


@get(
    "/v1/streaming/hashtag", operation_id="mastodonStreamHashtag", summary="Public statuses of a tag", **_SSE
)
async def stream_hashtag(request: Request[Any, Any, Any], tag: StreamTag = None) -> ServerSentEvent:
    return await _open_sse(request, Channel.of("hashtag", tag))


@get(
    "/v1/streaming/hashtag/local",
    operation_id="mastodonStreamHashtagLocal",
    summary="Local statuses of a tag",
    **_SSE,
)
async def stream_hashtag_local(request: Request[Any, Any, Any], tag: StreamTag = None) -> ServerSentEvent:
    return await _open_sse(request, Channel.of("hashtag:local", tag))


# --------------------------------------------------------------------------------- WebSocket

#: Close codes: the token lapsed or was refused (policy), the server is full (try again later).
CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013


def _error(message: str, status: int) -> str:
    return _encoder.encode({"error": message, "status": status}).decode()


class TooManyMessages(Exception):
    """A WebSocket client sent messages faster than its budget."""


async def _receive(
    socket: WebSocket[Any, Any, Any], subscriptions: Subscriptions, principal: Principal
) -> None:
    """Apply subscribe/unsubscribe messages until the client leaves (TooManyMessages past the
    socket's message budget)."""
    allowance, last = float(MESSAGE_BURST), time.monotonic()
    while True:
        text = await socket.receive_text()
        now = time.monotonic()
        allowance = min(float(MESSAGE_BURST), allowance + (now - last) * MESSAGES_PER_S)
        last = now
        if allowance < 1:
            raise TooManyMessages(
                f"at most {MESSAGE_BURST} messages at once, then {MESSAGES_PER_S:g} a second"
            )
        allowance -= 1
        try:
            message = msgspec.json.decode(text)
            if not isinstance(message, dict) or message.get("type") not in ("subscribe", "unsubscribe"):
                raise UnknownStream("Unknown message type")
            stream, tag = message.get("stream"), message.get("tag")
            if not isinstance(stream, str) or (tag is not None and not isinstance(tag, str)):
                raise UnknownStream("Unknown stream type")
            channel = Channel.of(stream, tag)
            if message["type"] == "subscribe":
                _check_scope(principal, channel)
                await subscriptions.subscribe(channel)
            else:
                subscriptions.unsubscribe([channel])
        except msgspec.DecodeError:
            await socket.send_text(_error("Invalid JSON", 400))
        except InsufficientScope as exc:
            await socket.send_text(_error(str(exc), 401))
        except UnknownStream as exc:
            await socket.send_text(_error(str(exc), 400))


async def _send(
    socket: WebSocket[Any, Any, Any],
    subscriptions: Subscriptions,
    still_authorised: Callable[[], Awaitable[bool]],
    recheck_s: float,
) -> None:
    """Send events as they come; return once the token no longer stands."""
    last_check = time.monotonic()
    while True:
        if time.monotonic() - last_check >= recheck_s:
            if not await still_authorised():
                return
            last_check = time.monotonic()
        try:
            channel, event, payload = await asyncio.wait_for(subscriptions.queue.get(), timeout=recheck_s)
        except TimeoutError:
            continue
        await socket.send_text(
            _encoder.encode({"stream": channel.names(), "event": event, "payload": payload}).decode()
        )


@websocket("/v1/streaming", name="mastodonStreaming")
async def streaming_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """The multiplexed WebSocket: ``stream`` (and ``tag``) in the query, or subscribe messages."""
    deadline_var.set(None)  # a stream's own calls set their own deadlines
    verifier: TokenVerifier = socket.app.state.token_verifier
    query = socket.query_params
    try:
        token, as_protocol = _token(socket, websocket_protocol=True)
        first = Channel.of(query.get("stream"), query.get("tag")) if query.get("stream") else None
        principal = await _principal(verifier, token, first)
    except (InvalidToken, InsufficientScope, UserTokenRequired, UnknownStream) as exc:
        await socket.close(code=CLOSE_POLICY, reason=str(exc)[:120])
        return
    except DomainError:
        await socket.close(code=CLOSE_TRY_LATER, reason="the server cannot check the token now")
        return
    assert token is not None
    gate: StreamGate = socket.app.state.streams
    ticket: StreamTicket | None = None
    try:
        ticket = gate.open(principal.user_id)
    except DomainError as exc:
        await socket.close(code=CLOSE_TRY_LATER, reason=str(exc)[:120])
        return
    subscriptions = Subscriptions(await _feeds(socket, principal.user_id))
    try:
        await socket.accept(subprotocols=token if as_protocol else None)
        if first is not None:
            await subscriptions.subscribe(first)
        receiving = asyncio.create_task(_receive(socket, subscriptions, principal))
        sending = asyncio.create_task(
            _send(socket, subscriptions, _authority(verifier, token), subscriptions.feeds.recheck_s)
        )
        done, _ = await asyncio.wait({receiving, sending}, return_when=asyncio.FIRST_COMPLETED)
        for task in (receiving, sending):
            task.cancel()
        await asyncio.gather(receiving, sending, return_exceptions=True)
        reason = None
        if sending in done and not sending.cancelled() and sending.exception() is None:
            reason = "the access token no longer stands"
        elif receiving in done and not receiving.cancelled():
            flooded = receiving.exception()
            if isinstance(flooded, TooManyMessages):
                reason = f"too many messages: {flooded}"
        if reason is not None:
            with contextlib.suppress(Exception):
                await socket.close(code=CLOSE_POLICY, reason=reason[:120])
    except WebSocketDisconnect:
        pass
    finally:
        await subscriptions.close()
        ticket.close()


#: The route handlers the Mastodon router mounts (under /api).
STREAMING_HANDLERS: list[Any] = [
    streaming_health,
    stream_user,
    stream_user_notification,
    stream_public,
    stream_public_local,
    stream_hashtag,
    stream_hashtag_local,
    streaming_socket,
]

__all__ = ["STREAMING_HANDLERS", "STREAMS", "Channel"]
