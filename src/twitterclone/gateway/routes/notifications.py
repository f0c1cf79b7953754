"""Notifications (/api/notifications): list, unread count, mark read, and a live SSE stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import Body, HeaderParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import is_id
from boundaries._kernel.pagination import DEFAULT_PAGE_SIZE, Page, PageRequest
from boundaries.notifications.dto import MarkRead, Notification, UnreadCount
from boundaries.notifications.port import NotificationsPort
from twitterclone.gateway.auth import READ, WRITE, Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.params import BEARER, Cursor, Limit
from twitterclone.gateway.problems import errors

#: How long one wait lasts before the stream sends a keep-alive comment.
KEEPALIVE_S = 15.0
#: How long a browser waits before reconnecting after the stream drops (SSE ``retry``), in ms.
RECONNECT_MS = 3000

LastEventId = Annotated[
    str | None,
    HeaderParameter(
        name="Last-Event-ID",
        max_length=20,
        required=False,
        description="Resume after this notification id (browsers send it when reconnecting).",
    ),
]

_encoder = msgspec.json.Encoder()


class NotificationsController(Controller):
    """One's own notifications."""

    path = "/notifications"
    tags = ["notifications"]

    @get(
        "/",
        operation_id="listNotifications",
        summary="One's notifications, newest first",
        security=BEARER,
        guards=[READ],
    )
    @inject
    async def list_notifications(
        self,
        user: NamedDependency[Principal],
        notifications: FromDishka[NotificationsPort],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[Notification]:
        return await notifications.notifications(user.user_id, PageRequest(cursor=cursor, limit=limit))

    @get(
        "/unread-count",
        operation_id="countUnreadNotifications",
        summary="How many notifications are unread",
        security=BEARER,
        guards=[READ],
    )
    @inject
    async def unread_count(
        self, user: NamedDependency[Principal], notifications: FromDishka[NotificationsPort]
    ) -> UnreadCount:
        return await notifications.unread_count(user.user_id)

    @post(
        "/read",
        operation_id="markNotificationsRead",
        summary="Mark notifications read up to an id, or all",
        status_code=200,
        security=BEARER,
        guards=[WRITE],
        responses=errors(InvalidInput),  # an up_to_id of 20 digits beyond the 64-bit range
    )
    @inject
    async def mark_read(
        self,
        data: Annotated[MarkRead, Body()],
        user: NamedDependency[Principal],
        notifications: FromDishka[NotificationsPort],
    ) -> UnreadCount:
        return await notifications.mark_read(user.user_id, data.up_to_id)

    @get(
        "/stream",
        operation_id="streamNotifications",
        summary="New notifications as Server-Sent Events (event: notification, id: its id)",
        description=(
            "Each new notification is sent as `event: notification` with its id and JSON data; "
            f"a comment is sent every {int(KEEPALIVE_S)} s when nothing happens. Reconnect with "
            "`Last-Event-ID` to resume; without it the stream starts from now."
        ),
        security=BEARER,
        guards=[READ],
    )
    @inject
    async def stream(
        self,
        user: NamedDependency[Principal],
        notifications: FromDishka[NotificationsPort],
        last_event_id: LastEventId = None,
    ) -> ServerSentEvent:
        after = last_event_id if last_event_id and is_id(last_event_id) else None
        return ServerSentEvent(_events(notifications, user.user_id, after), retry_duration=RECONNECT_MS)


async def _events(
    notifications: NotificationsPort, user_id: str, after: str | None
) -> AsyncIterator[ServerSentEventMessage]:
    if after is None:
        # Start from now: the newest existing notification is the baseline.
        newest = await notifications.notifications(user_id, PageRequest(limit=1))
        after = newest.items[0].id if newest.items else "0"
    yield ServerSentEventMessage(data=None, comment="connected")
    while True:
        items = await notifications.wait_for_new(user_id, after, KEEPALIVE_S)
        if not items:
            yield ServerSentEventMessage(data=None, comment="keep-alive")
            continue
        for item in items:
            yield ServerSentEventMessage(
                event="notification", id=item.id, data=_encoder.encode(item).decode()
            )
            after = item.id
