"""Events the media module publishes."""

from boundaries._kernel.events import Event
from boundaries._kernel.ids import Id


class MediaUploaded(Event, frozen=True, kw_only=True, tag=True):
    """An image was uploaded and its renditions stored."""

    media_id: Id
    owner_id: Id
    content_type: str
