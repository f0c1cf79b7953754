"""What the gateway may ask of the notifications module."""

from typing import Protocol

from boundaries._kernel.ids import Id
from boundaries._kernel.pagination import Page, PageRequest
from boundaries.notifications.dto import Notification, UnreadCount


class NotificationsPort(Protocol):
    """Notifications per user, read markers, and a wait for new ones (the live stream)."""

    async def notifications(self, user_id: Id, page: PageRequest) -> Page[Notification]:
        """A user's notifications, newest first."""
        ...

    async def unread_count(self, user_id: Id) -> UnreadCount:
        """How many of a user's notifications are unread."""
        ...

    async def mark_read(self, user_id: Id, up_to_id: Id | None) -> UnreadCount:
        """Mark notifications read up to an id (or all); idempotent."""
        ...

    async def wait_for_new(self, user_id: Id, after_id: Id | None, timeout_s: float) -> list[Notification]:
        """Notifications newer than ``after_id``, waiting up to ``timeout_s`` for the first."""
        ...
