"""What the gateway may ask of the notifications module."""

from typing import Protocol

from boundaries._kernel.ids import Id
from boundaries._kernel.markers import waits
from boundaries._kernel.pagination import Page, PageRequest
from boundaries.notifications.dto import Marker, MarkerUpdate, Notification, NotificationFilter, UnreadCount


class NotificationsPort(Protocol):
    """Notifications per user, read markers, and a wait for new ones (the live stream)."""

    async def notifications(
        self, user_id: Id, page: PageRequest, only: NotificationFilter | None = None
    ) -> Page[Notification]:
        """A user's notifications, newest first (id bounds honoured), of the kinds ``only`` lets through."""
        ...

    async def notification(self, user_id: Id, notification_id: Id) -> Notification:
        """One of a user's notifications; raises NotificationNotFound (also for someone else's)."""
        ...

    async def dismiss(self, user_id: Id, notification_id: Id) -> None:
        """Delete one of a user's notifications; idempotent (an unknown id is no error)."""
        ...

    async def clear(self, user_id: Id) -> None:
        """Delete every notification of a user."""
        ...

    async def markers(self, user_id: Id) -> list[Marker]:
        """Where a user has read up to, per timeline that has a marker."""
        ...

    async def set_markers(self, user_id: Id, updates: list[MarkerUpdate]) -> list[Marker]:
        """Move markers (the notifications one also marks notifications read up to it); the markers set."""
        ...

    async def unread_count(self, user_id: Id) -> UnreadCount:
        """How many of a user's notifications are unread."""
        ...

    async def mark_read(self, user_id: Id, up_to_id: Id | None) -> UnreadCount:
        """Mark notifications read up to an id (or all); idempotent."""
        ...

    @waits
    async def wait_for_new(self, user_id: Id, after_id: Id | None, timeout_s: float) -> list[Notification]:
        """Notifications newer than ``after_id``, waiting up to ``timeout_s`` for the first."""
        ...
