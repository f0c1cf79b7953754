"""Errors the media port raises."""

from boundaries._kernel.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge, Unavailable


class MediaNotFound(NotFound):
    code = "media-not-found"


class UnsupportedMediaType(InvalidInput):
    code = "unsupported-media-type"


class CorruptImage(InvalidInput):
    code = "corrupt-image"


class MediaTooLarge(PayloadTooLarge):
    code = "media-too-large"


class NotMediaOwner(Forbidden):
    code = "not-media-owner"


class MediaBusy(Unavailable):
    """Every image worker is busy and the waiting line is full: try again shortly."""

    code = "media-busy"
