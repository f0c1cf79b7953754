"""Data the media module accepts and returns."""

from datetime import datetime
from typing import Literal

import msgspec

from boundaries._kernel.ids import Id

Variant = Literal["original", "display", "thumb"]


class Upload(msgspec.Struct, frozen=True, kw_only=True):
    """Bytes a user uploads; the type is decided from the content, never from the name."""

    owner_id: Id
    filename: str
    data: bytes


class MediaVariant(msgspec.Struct, frozen=True, kw_only=True):
    """One stored rendition of an image."""

    name: Variant
    content_type: str
    width: int
    height: int
    size: int
    etag: str


class Media(msgspec.Struct, frozen=True, kw_only=True):
    """An uploaded image and its renditions; a draft until ``attached_to`` names a tweet."""

    id: Id
    owner_id: Id
    content_type: str
    width: int
    height: int
    created_at: datetime
    variants: list[MediaVariant]
    attached_to: Id | None = None


class MediaContent(msgspec.Struct, frozen=True, kw_only=True):
    """The bytes of one rendition, with what a cache needs to know."""

    content_type: str
    etag: str
    data: bytes
    #: Shown in a tweet (public); False for a draft, which only its owner may fetch.
    attached: bool = True
