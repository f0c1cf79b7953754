"""What the gateway and other modules may ask of the media module."""

from typing import Protocol

from boundaries._kernel.ids import Id
from boundaries._kernel.markers import not_idempotent
from boundaries.media.dto import Media, MediaContent, MediaUpdate, ProfileImageRole, Upload, Variant


class MediaPort(Protocol):
    """Image uploads, their renditions, and the bytes behind them."""

    @not_idempotent
    async def upload(self, upload: Upload) -> Media:
        """Store an image (checked by decoding, stripped of metadata) and its renditions."""
        ...

    async def get_many(self, media_ids: list[Id], viewer_id: Id | None = None) -> list[Media]:
        """Metadata of many media in the order asked; unknown ones, and others' drafts, left out."""
        ...

    async def content(self, media_id: Id, variant: Variant, viewer_id: Id | None = None) -> MediaContent:
        """The bytes of one rendition; raises MediaNotFound (also for someone else's draft)."""
        ...

    async def check_attachable(self, owner_id: Id, media_ids: list[Id]) -> None:
        """Raise unless every id is the owner's and not attached to another tweet."""
        ...

    async def update(self, owner_id: Id, media_id: Id, update: MediaUpdate) -> Media:
        """Change the alt text or focus of one's own image; raises MediaNotFound or NotMediaOwner."""
        ...

    async def set_profile_image(
        self, owner_id: Id, role: ProfileImageRole, media_id: Id | None
    ) -> Media | None:
        """Make one's own uploaded image the avatar or header (None clears it); idempotent."""
        ...
