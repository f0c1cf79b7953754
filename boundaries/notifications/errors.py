"""Errors the notifications port raises."""

from boundaries._kernel.errors import NotFound


class NotificationNotFound(NotFound):
    code = "notification-not-found"
