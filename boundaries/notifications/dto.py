"""Data the notifications module returns."""

from datetime import datetime
from typing import Literal

import msgspec

from boundaries._kernel.ids import Id

NotificationKind = Literal["mention", "reply", "like", "retweet", "follow"]


class Notification(msgspec.Struct, frozen=True, kw_only=True):
    """Something someone did that concerns the recipient."""

    id: Id
    kind: NotificationKind
    actor_id: Id
    tweet_id: Id | None
    created_at: datetime
    read: bool


class UnreadCount(msgspec.Struct, frozen=True, kw_only=True):
    """How many notifications are unread."""

    unread: int


class MarkRead(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Mark notifications read: up to and including an id, or all when absent."""

    up_to_id: Id | None = None
