"""Data the media module accepts and returns."""

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from boundaries._kernel.ids import Id

Variant = Literal["original", "display", "thumb"]
#: What a profile shows an image as.
ProfileImageRole = Literal["avatar", "header"]
#: The most characters of alt text an image may carry (as on Mastodon).
MAX_DESCRIPTION = 1500
Description = Annotated[str, msgspec.Meta(max_length=MAX_DESCRIPTION)]
FocusCoordinate = Annotated[float, msgspec.Meta(ge=-1.0, le=1.0)]


class Focus(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The point of an image that crops keep in view: x left -1 to right 1, y bottom -1 to top 1."""

    x: FocusCoordinate = 0.0
    y: FocusCoordinate = 0.0


class Upload(msgspec.Struct, frozen=True, kw_only=True):
    """Bytes a user uploads; the type is decided from the content, never from the name."""

    owner_id: Id
    filename: str
    data: bytes
    #: Alt text: what the image shows, for readers who cannot see it.
    description: Description | None = None
    focus: Focus | None = None


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
    description: str | None = None
    focus: Focus | None = None
    #: "avatar" or "header" while the owner's profile shows it (public, and never swept).
    profile_role: ProfileImageRole | None = None
    #: The tweet whose audience alone may see the image (it is in a followers-only or direct
    #: tweet): whoever serves it asks the tweets module first. None: public, or a draft.
    audience_of: Id | None = None


class MediaContent(msgspec.Struct, frozen=True, kw_only=True):
    """The bytes of one rendition, with what a cache needs to know."""

    content_type: str
    etag: str
    data: bytes
    #: Shown in a tweet or on a profile; False for a draft, which only its owner may fetch.
    attached: bool = True
    #: As ``Media.audience_of``: the tweet whose audience alone may see these bytes.
    audience_of: Id | None = None


class MediaUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the owner may change about an image: a field left out stays; an empty description clears it."""

    description: Description | None = None
    focus: Focus | None = None
