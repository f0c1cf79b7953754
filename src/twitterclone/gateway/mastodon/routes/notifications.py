"""Notifications (/api/v1/notifications) and markers (/api/v1/markers).

Mastodon's notification types map onto ours: a reply is a ``mention``, a like a ``favourite``,
a retweet a ``reblog``. A page is one notifications call, one tweets call for the statuses
they are about, and the Shaper's one users and one media call.

The unread count (Mastodon 4.3) counts what is newer than the notifications read marker (which
``POST /api/v1/markers`` moves), capped by ``limit``; notifications from accounts one blocked,
was blocked by or muted are not counted, as the list leaves them out.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from boundaries._kernel.ids import is_id
from boundaries._kernel.pagination import MAX_PAGE_SIZE, PageRequest
from boundaries.notifications.dto import MarkerUpdate, NotificationFilter, NotificationKind
from boundaries.notifications.dto import Notification as NativeNotification
from boundaries.notifications.errors import NotificationNotFound
from boundaries.notifications.port import NotificationsPort
from boundaries.tweets.port import TweetsPort
from twitterclone.gateway.auth import Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.mastodon import entities as m
from twitterclone.gateway.mastodon.body import BadParams, body_operation, raw_params
from twitterclone.gateway.mastodon.deps import TAG, may_answer, shaper_for
from twitterclone.gateway.mastodon.paging import Limit, MaxId, MinId, SinceId, clamp, id_links, id_page
from twitterclone.gateway.mastodon.params import NotificationId
from twitterclone.gateway.mastodon.scopes import scope
from twitterclone.gateway.mastodon.shaping import NOTIFICATION_TYPES, Shaper, timestamp
from twitterclone.gateway.params import BEARER

#: Mastodon's types as ours (several of theirs have no counterpart here: they match nothing).
KINDS: dict[str, list[NotificationKind]] = {}
for _ours, _theirs in NOTIFICATION_TYPES.items():
    KINDS.setdefault(_theirs, []).append(_ours)  # type: ignore[arg-type]

TypeList = Annotated[list[str] | None, QueryParameter(required=False)]
Types = Annotated[list[str] | None, QueryParameter(name="types[]", required=False)]
ExcludeTypes = Annotated[list[str] | None, QueryParameter(name="exclude_types[]", required=False)]
#: The unread count's cap: Mastodon's default and greatest ``limit``.
UNREAD_LIMIT, MAX_UNREAD_LIMIT = 100, 1000


def _kinds(types: list[str] | None) -> list[NotificationKind]:
    return [kind for t in types or [] for kind in KINDS.get(t, [])]


class MarkerForm(msgspec.Struct, frozen=True, kw_only=True):
    """POST /api/v1/markers: ``home[last_read_id]``, ``notifications[last_read_id]``."""

    home: dict[str, str] | None = None
    notifications: dict[str, str] | None = None


async def _shape(
    items: list[NativeNotification], viewer_id: str, tweets: TweetsPort, shaper: Shaper
) -> list[m.Notification]:
    """Notifications with their actors and statuses: one tweets call and one Shaper hydration."""
    tweet_ids = list(dict.fromkeys(n.tweet_id for n in items if n.tweet_id is not None))
    found = await tweets.get_many(tweet_ids, viewer_id) if tweet_ids else []
    shaped, accounts = await shaper.statuses(found, viewer_id, extra_accounts=[n.actor_id for n in items])
    statuses = {s.id: s for s in shaped}
    out: list[m.Notification] = []
    for item in items:
        account = accounts.get(item.actor_id)
        if account is None:
            continue  # the actor's account is gone
        status = statuses.get(item.tweet_id) if item.tweet_id is not None else None
        if item.tweet_id is not None and status is None:
            continue  # the status is gone or no longer visible: Mastodon leaves such out too
        out.append(shaper.notification(item, account, status))
    return out


class NotificationsController(Controller):
    """Notifications: list, one, dismiss, clear."""

    path = "/v1/notifications"
    tags = [TAG]

    @get(
        "/",
        operation_id="mastodonNotifications",
        summary="One's notifications, newest first (types[] / exclude_types[] filter them)",
        security=BEARER,
        guards=[scope("read:notifications")],
    )
    @inject
    async def list_notifications(
        self,
        request: Request[Any, Any, Any],
        user: NamedDependency[Principal],
        notifications: FromDishka[NotificationsPort],
        tweets: FromDishka[TweetsPort],
        max_id: MaxId = None,
        since_id: SinceId = None,
        min_id: MinId = None,
        limit: Limit = None,
        types: Types = None,
        exclude_types: ExcludeTypes = None,
    ) -> Response[list[m.Notification]]:
        shaper = await shaper_for(request)
        page = id_page(max_id, since_id, min_id, limit)
        if types and not _kinds(types):  # only types this server never makes: nothing to show
            return Response([], media_type="application/json")
        only = NotificationFilter(kinds=_kinds(types), exclude=_kinds(exclude_types))
        found = await notifications.notifications(user.user_id, page, only)
        shaped = await _shape(found.items, user.user_id, tweets, shaper)
        links = id_links(request, [n.id for n in found.items], more=found.next_cursor is not None)
        return Response(shaped, media_type="application/json", headers=links)

    @get(
        "/unread_count",
        operation_id="mastodonUnreadNotificationsCount",
        summary="How many notifications are newer than the notifications marker (capped by limit)",
        security=BEARER,
        guards=[scope("read:notifications")],
    )
    @inject
    async def unread_count(
        self,
        user: NamedDependency[Principal],
        notifications: FromDishka[NotificationsPort],
        limit: Annotated[
            int | None,
            QueryParameter(
                description=f"The cap; {UNREAD_LIMIT} by default, clamped to 1-{MAX_UNREAD_LIMIT}."
            ),
        ] = None,
        types: Types = None,
        exclude_types: ExcludeTypes = None,
        account_id: Annotated[
            str | None, QueryParameter(max_length=200, description="Only those this account caused.")
        ] = None,
    ) -> m.UnreadCount:
        cap = clamp(limit, UNREAD_LIMIT, MAX_UNREAD_LIMIT)
        if not (types or exclude_types or account_id):  # the module counts them
            return m.UnreadCount(count=min(cap, (await notifications.unread_count(user.user_id)).unread))
        if (types and not _kinds(types)) or (account_id and not is_id(account_id)):
            return m.UnreadCount(count=0)
        only = NotificationFilter(kinds=_kinds(types), exclude=_kinds(exclude_types))
        # Filtered: the unread ones are the newest, down to the first read one. Read page by page,
        # at most the greatest cap of them (Mastodon's count is capped the same way).
        count = 0
        page = PageRequest(limit=MAX_PAGE_SIZE)
        for _ in range(MAX_UNREAD_LIMIT // MAX_PAGE_SIZE):
            found = await notifications.notifications(user.user_id, page, only)
            for item in found.items:
                if item.read:
                    return m.UnreadCount(count=count)
                if account_id is None or item.actor_id == account_id:
                    count += 1
                    if count >= cap:
                        return m.UnreadCount(count=count)
            if found.next_cursor is None:
                break
            page = PageRequest(cursor=found.next_cursor, limit=MAX_PAGE_SIZE)
        return m.UnreadCount(count=count)

    @post(
        "/clear",
        operation_id="mastodonClearNotifications",
        summary="Delete all of one's notifications",
        status_code=200,
        security=BEARER,
        guards=[scope("write:notifications")],
    )
    @inject
    async def clear(
        self, user: NamedDependency[Principal], notifications: FromDishka[NotificationsPort]
    ) -> dict[str, Any]:
        await notifications.clear(user.user_id)
        return {}

    @get(
        "/{notification_id:str}",
        operation_id="mastodonGetNotification",
        summary="One notification",
        security=BEARER,
        guards=[scope("read:notifications")],
        opt=may_answer(404),
    )
    @inject
    async def get_notification(
        self,
        request: Request[Any, Any, Any],
        notification_id: NotificationId,
        user: NamedDependency[Principal],
        notifications: FromDishka[NotificationsPort],
        tweets: FromDishka[TweetsPort],
    ) -> m.Notification:
        shaper = await shaper_for(request)
        item = await notifications.notification(user.user_id, notification_id)
        shaped = await _shape([item], user.user_id, tweets, shaper)
        if not shaped:
            raise NotificationNotFound("Record not found")
        return shaped[0]

    @post(
        "/{notification_id:str}/dismiss",
        operation_id="mastodonDismissNotification",
        summary="Delete one notification",
        status_code=200,
        security=BEARER,
        guards=[scope("write:notifications")],
    )
    @inject
    async def dismiss(
        self,
        notification_id: NotificationId,
        user: NamedDependency[Principal],
        notifications: FromDishka[NotificationsPort],
    ) -> dict[str, Any]:
        await notifications.dismiss(user.user_id, notification_id)
        return {}


def _markers(found: list[Any]) -> m.Markers:
    shaped = {
        x.timeline: m.Marker(
            last_read_id=x.last_read_id, version=x.version, updated_at=timestamp(x.updated_at)
        )
        for x in found
    }
    return m.Markers(**shaped)


class MarkersController(Controller):
    """Reading positions in the home timeline and notifications."""

    path = "/v1/markers"
    tags = [TAG]

    @get(
        "/",
        operation_id="mastodonGetMarkers",
        summary="Where one has read up to (timeline[] = home, notifications)",
        security=BEARER,
        guards=[scope("read:statuses")],
    )
    @inject
    async def get_markers(
        self,
        user: NamedDependency[Principal],
        notifications: FromDishka[NotificationsPort],
        timeline: Annotated[list[str] | None, QueryParameter(name="timeline[]", required=False)] = None,
    ) -> m.Markers:
        found = await notifications.markers(user.user_id)
        wanted = set(timeline or [])
        return _markers([x for x in found if x.timeline in wanted])

    @post(
        "/",
        operation_id="mastodonSaveMarkers",
        summary="Save where one has read up to",
        status_code=200,
        security=BEARER,
        guards=[scope("write:statuses")],
        operation_class=body_operation(MarkerForm),
    )
    @inject
    async def save_markers(
        self,
        request: Request[Any, Any, Any],
        user: NamedDependency[Principal],
        notifications: FromDishka[NotificationsPort],
    ) -> m.Markers:
        params = await raw_params(request)
        updates: list[MarkerUpdate] = []
        for name in ("home", "notifications"):
            value = params.get(name)
            if value is None:
                continue
            last_read = value.get("last_read_id") if isinstance(value, dict) else None
            if not isinstance(last_read, (str, int)) or not is_id(str(last_read)):
                raise BadParams(f"{name}[last_read_id] must be a status or notification id")
            updates.append(MarkerUpdate(timeline=name, last_read_id=str(last_read)))
        if not updates:
            raise BadParams("give home[last_read_id] or notifications[last_read_id]")
        return _markers(await notifications.set_markers(user.user_id, updates))
