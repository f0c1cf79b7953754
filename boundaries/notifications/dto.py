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


#: Where a client keeps its reading position (Mastodon's markers): the home timeline, notifications.
MarkerTimeline = Literal["home", "notifications"]


class Marker(msgspec.Struct, frozen=True, kw_only=True):
    """How far a user has read one timeline; ``version`` counts the moves."""

    timeline: MarkerTimeline
    last_read_id: Id
    version: int
    updated_at: datetime


class MarkerUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Move one timeline's marker to ``last_read_id``."""

    timeline: MarkerTimeline
    last_read_id: Id


class NotificationFilter(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """Which kinds of notifications a list shows: only ``kinds`` (all when empty), none of ``exclude``."""

    kinds: list[NotificationKind] = msgspec.field(default_factory=list)
    exclude: list[NotificationKind] = msgspec.field(default_factory=list)
