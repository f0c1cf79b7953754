"""The media service: checked, stripped image uploads, their renditions and their bytes."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import sqlalchemy as sa

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import Id, parse_id
from boundaries.media.dto import (
    MAX_DESCRIPTION,
    Focus,
    Media,
    MediaContent,
    MediaUpdate,
    MediaVariant,
    ProfileImageRole,
    Upload,
    Variant,
)
from boundaries.media.errors import MediaNotFound, MediaTooLarge, NotMediaOwner, UnsupportedMediaType
from boundaries.media.events import MediaUploaded
from boundaries.tweets.dto import OPEN_VISIBILITIES
from modules.media.blobs import BlobNotFound, BlobStore
from modules.media.images import ImageWorkers, ProcessedImage, process_image
from modules.media.tables import media, media_variants
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, Transaction
from twitterclone.settings import Settings

log = logging.getLogger("twitterclone.media")

#: Renditions in the order they are listed.
VARIANTS: tuple[str, ...] = get_args(Variant)
#: The most images one tweet may carry.
MAX_MEDIA_PER_TWEET = 4
#: The most ids one get_many call may ask for.
MAX_BATCH = 1000
#: Media purged per round of a cleanup.
PURGE_BATCH = 200


def _now() -> datetime:
    return datetime.now(UTC)


def _int_ids(values: Iterable[object]) -> list[int]:
    """Valid ids of ``values`` as ints, first occurrence order, duplicates and junk dropped."""
    seen: dict[int, None] = {}
    for value in values:
        as_int = parse_id(value)
        if as_int is not None:
            seen.setdefault(as_int, None)
    return list(seen)


class MediaService:
    """Implements MediaPort over the module's store and a blob store."""

    def __init__(self, store: ModuleStore, ids: IdGenerator, settings: Settings, blobs: BlobStore) -> None:
        self.store = store
        self._ids = ids
        self._settings = settings
        self.blobs = blobs
        #: Decoding and re-encoding run here, bounded, never on the default executor.
        self.images = ImageWorkers(settings.media_image_workers, settings.media_image_queue)

    # -- the port -----------------------------------------------------------------------

    async def upload(self, upload: Upload) -> Media:
        """Store an image (checked by decoding, stripped of metadata) and its renditions."""
        owner = parse_id(upload.owner_id)
        if owner is None:
            raise InvalidInput("owner_id is not a valid id", field="owner_id")
        max_bytes = self._settings.media_max_bytes
        if len(upload.data) > max_bytes:
            raise MediaTooLarge(f"the file is {len(upload.data)} bytes; at most {max_bytes} are accepted")
        if not upload.data:
            raise UnsupportedMediaType("the file is empty")
        description = _checked_description(upload.description)
        image = await self.images.run(
            process_image,
            upload.data,
            self._settings.media_max_pixels,
            self._settings.media_max_decoded_bytes,
        )

        media_id = self._ids.next_int()
        now = _now()
        rows: list[dict[str, Any]] = [
            {
                "media_id": media_id,
                "name": r.name,
                "blob_key": f"{media_id}-{r.name}-{secrets.token_hex(6)}.{image.extension}",
                "content_type": image.content_type,
                "width": r.width,
                "height": r.height,
                "size": len(r.data),
                "etag": r.etag,
            }
            for r in image.renditions
        ]
        written: list[str] = []
        try:
            # Blobs first: a committed row always points at blobs that exist.
            for row, rendition in zip(rows, image.renditions, strict=True):
                written.append(row["blob_key"])
                await self.blobs.put(row["blob_key"], rendition.data)
            async with self.store.transaction() as tx:
                await tx.conn.execute(
                    media.insert().values(
                        id=media_id,
                        owner_id=owner,
                        content_type=image.content_type,
                        width=image.width,
                        height=image.height,
                        created_at=now,
                        attached_to=None,
                        deleting=False,
                        description=description,
                        focus_x=upload.focus.x if upload.focus else None,
                        focus_y=upload.focus.y if upload.focus else None,
                    )
                )
                await tx.conn.execute(media_variants.insert(), rows)
                await tx.emit(
                    MediaUploaded(
                        event_id=self._ids.next(),
                        occurred_at=now,
                        media_id=str(media_id),
                        owner_id=str(owner),
                        content_type=image.content_type,
                    )
                )
        except BaseException:
            # Nothing of a failed upload stays behind: not a row, not a blob.
            await self._delete_blobs(written)
            raise
        return _to_media(media_id, owner, image, now, rows, description, upload.focus)

    async def get_many(self, media_ids: list[Id], viewer_id: Id | None = None) -> list[Media]:
        """Metadata of many media in one call, in the order asked; unknown ones left out.

        A draft (not yet attached to a tweet) is seen by its owner only: for anyone else, or
        no viewer, it is left out like an unknown id.
        """
        if len(media_ids) > MAX_BATCH:
            raise InvalidInput(f"ask for at most {MAX_BATCH} media at once", field="media_ids")
        wanted = _int_ids(media_ids)
        if not wanted:
            return []
        query = (
            sa.select(
                media.c.id,
                media.c.owner_id,
                media.c.content_type.label("media_content_type"),
                media.c.width.label("media_width"),
                media.c.height.label("media_height"),
                media.c.created_at,
                media.c.attached_to,
                media.c.description,
                media.c.focus_x,
                media.c.focus_y,
                media.c.profile_role,
                media.c.tweet_visibility,
                media_variants.c.name,
                media_variants.c.content_type,
                media_variants.c.width,
                media_variants.c.height,
                media_variants.c.size,
                media_variants.c.etag,
            )
            .select_from(media.join(media_variants, media_variants.c.media_id == media.c.id))
            .where(media.c.id.in_(wanted), media.c.deleting.is_(False), _visible_to(viewer_id))
        )
        async with self.store.read() as conn:
            result = (await conn.execute(query)).all()
        heads: dict[int, Any] = {}
        variants: dict[int, list[MediaVariant]] = {}
        for row in result:
            heads.setdefault(row.id, row)
            variants.setdefault(row.id, []).append(
                MediaVariant(
                    name=row.name,
                    content_type=row.content_type,
                    width=row.width,
                    height=row.height,
                    size=row.size,
                    etag=row.etag,
                )
            )
        found: list[Media] = []
        for media_id in wanted:
            head = heads.get(media_id)
            if head is None:
                continue
            found.append(
                Media(
                    id=str(head.id),
                    owner_id=str(head.owner_id),
                    content_type=head.media_content_type,
                    width=head.media_width,
                    height=head.media_height,
                    created_at=head.created_at,
                    variants=sorted(variants[media_id], key=lambda v: VARIANTS.index(v.name)),
                    attached_to=str(head.attached_to) if head.attached_to is not None else None,
                    description=head.description,
                    focus=_focus(head.focus_x, head.focus_y),
                    profile_role=head.profile_role,
                    audience_of=_audience_of(head.attached_to, head.tweet_visibility),
                )
            )
        return found

    async def content(self, media_id: Id, variant: Variant, viewer_id: Id | None = None) -> MediaContent:
        """The bytes of one rendition; raises MediaNotFound (also for someone else's draft)."""
        if variant not in VARIANTS:
            raise InvalidInput(f"variant must be one of {', '.join(VARIANTS)}", field="variant")
        as_int = parse_id(media_id)
        if as_int is None:
            raise MediaNotFound("no such media")
        query = (
            sa.select(
                media_variants.c.blob_key,
                media_variants.c.content_type,
                media_variants.c.etag,
                media.c.attached_to,
                media.c.profile_role,
                media.c.tweet_visibility,
            )
            .select_from(media_variants.join(media, media.c.id == media_variants.c.media_id))
            .where(
                media_variants.c.media_id == as_int,
                media_variants.c.name == variant,
                media.c.deleting.is_(False),
                _visible_to(viewer_id),
            )
        )
        async with self.store.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise MediaNotFound("no such media")
        try:
            data = await self.blobs.get(row.blob_key)
        except BlobNotFound:  # removed between the query and the read
            raise MediaNotFound("no such media") from None
        return MediaContent(
            content_type=row.content_type,
            etag=row.etag,
            data=data,
            attached=row.attached_to is not None or row.profile_role is not None,
            audience_of=_audience_of(row.attached_to, row.tweet_visibility),
        )

    async def check_attachable(self, owner_id: Id, media_ids: list[Id]) -> None:
        """Raise unless every id is the owner's and not attached to another tweet."""
        if not media_ids:
            return
        if len(media_ids) > MAX_MEDIA_PER_TWEET:
            raise InvalidInput(f"a tweet carries at most {MAX_MEDIA_PER_TWEET} images", field="media_ids")
        if len(set(media_ids)) != len(media_ids):
            raise InvalidInput("the same image is listed twice", field="media_ids")
        owner = parse_id(owner_id)
        wanted = [parse_id(m) for m in media_ids]
        if owner is None or any(m is None for m in wanted):
            raise InvalidInput("media ids must be ids (decimal strings)", field="media_ids")
        async with self.store.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(media.c.id, media.c.owner_id, media.c.attached_to, media.c.profile_role).where(
                        media.c.id.in_(wanted), media.c.deleting.is_(False)
                    )
                )
            ).all()
        by_id = {row.id: row for row in rows}
        for media_id in media_ids:
            if int(media_id) not in by_id:
                raise MediaNotFound(f"media {media_id} does not exist", field="media_ids")
        for media_id in media_ids:
            if by_id[int(media_id)].owner_id != owner:
                raise NotMediaOwner(f"media {media_id} was uploaded by someone else", field="media_ids")
        for media_id in media_ids:
            if by_id[int(media_id)].attached_to is not None:
                raise InvalidInput(f"media {media_id} is already attached to a tweet", field="media_ids")
            if by_id[int(media_id)].profile_role is not None:
                raise InvalidInput(f"media {media_id} is shown on a profile", field="media_ids")

    async def update(self, owner_id: Id, media_id: Id, update: MediaUpdate) -> Media:
        """Change the alt text or focus of one's own image; raises MediaNotFound or NotMediaOwner."""
        values: dict[str, Any] = {}
        if update.description is not None:
            values["description"] = _checked_description(update.description)
        if update.focus is not None:
            values["focus_x"], values["focus_y"] = update.focus.x, update.focus.y
        async with self.store.transaction() as tx:
            await self._owned(tx, owner_id, media_id)
            if values:
                await tx.conn.execute(sa.update(media).where(media.c.id == int(media_id)).values(**values))
        return (await self.get_many([media_id], owner_id))[0]

    async def set_profile_image(
        self, owner_id: Id, role: ProfileImageRole, media_id: Id | None
    ) -> Media | None:
        """Make one's own uploaded image (not shown in a tweet) the profile's avatar or header,
        releasing the one it replaces; None clears the role. Idempotent. Raises MediaNotFound,
        NotMediaOwner, or InvalidInput for an image already in a tweet."""
        if role not in ("avatar", "header"):
            raise InvalidInput("a profile image is an avatar or a header", field="role")
        owner = parse_id(owner_id)
        if owner is None:
            raise InvalidInput("owner_id is not a valid id", field="owner_id")
        async with self.store.transaction() as tx:
            if media_id is not None:
                row = await self._owned(tx, owner_id, media_id)
                if row.attached_to is not None:
                    raise InvalidInput(
                        "an image shown in a tweet cannot also be a profile image; upload it again",
                        field="media_id",
                    )
                if row.profile_role not in (None, role):
                    raise InvalidInput(
                        f"this image is already the profile's {row.profile_role}", field="media_id"
                    )
            # The image it replaces becomes an ordinary old upload, which the sweep removes.
            released = sa.update(media).where(media.c.owner_id == owner, media.c.profile_role == role)
            if media_id is not None:
                released = released.where(media.c.id != int(media_id))
            await tx.conn.execute(released.values(profile_role=None))
            if media_id is not None:
                await tx.conn.execute(
                    sa.update(media).where(media.c.id == int(media_id)).values(profile_role=role)
                )
        if media_id is None:
            return None
        return (await self.get_many([media_id], owner_id))[0]

    async def _owned(self, tx: Transaction, owner_id: Id, media_id: Id) -> Any:
        """The row of one's own (live) image; raises MediaNotFound or NotMediaOwner."""
        owner, wanted = parse_id(owner_id), parse_id(media_id)
        if owner is None:
            raise InvalidInput("owner_id is not a valid id", field="owner_id")
        row = None
        if wanted is not None:
            row = (
                await tx.conn.execute(
                    sa.select(media.c.id, media.c.owner_id, media.c.attached_to, media.c.profile_role).where(
                        media.c.id == wanted, media.c.deleting.is_(False)
                    )
                )
            ).first()
        if row is None:
            raise MediaNotFound("no such media", field="media_id")
        if row.owner_id != owner:
            raise NotMediaOwner("only its owner may change an image", field="media_id")
        return row

    # -- consumers and jobs (not on the port) -------------------------------------------

    async def attach(
        self, tx: Transaction, tweet_id: Id, author_id: Id, media_ids: list[Id], visibility: str = "public"
    ) -> int:
        """Mark the author's unattached media as shown in ``tweet_id`` (of ``visibility``), in
        ``tx``; idempotent."""
        tweet, author, wanted = parse_id(tweet_id), parse_id(author_id), _int_ids(media_ids)
        if tweet is None or author is None or not wanted:
            return 0
        result = await tx.conn.execute(
            sa.update(media)
            .where(
                media.c.id.in_(wanted),
                media.c.owner_id == author,
                media.c.attached_to.is_(None),
                media.c.deleting.is_(False),
            )
            .values(attached_to=tweet, tweet_visibility=visibility)
        )
        return int(result.rowcount or 0)

    async def remove_for_tweet(self, tweet_id: Id, author_id: Id, media_ids: list[Id]) -> int:
        """Delete the media of a deleted tweet (rows and blobs); idempotent, and safe to run again
        after an interruption (rows are marked first, then blobs go, then rows).

        Only the author's media that are attached to this tweet (or to none yet, when the
        deletion overtook the attachment) go; media shown in another tweet stay.
        """
        tweet, author, wanted = parse_id(tweet_id), parse_id(author_id), _int_ids(media_ids)
        if tweet is None or author is None or not wanted:
            return 0
        async with self.store.transaction() as tx:
            await tx.conn.execute(
                sa.update(media)
                .where(
                    media.c.id.in_(wanted),
                    media.c.owner_id == author,
                    sa.or_(media.c.attached_to.is_(None), media.c.attached_to == tweet),
                )
                .values(deleting=True)
            )
        return await self._purge(wanted)

    async def sweep_unattached(self, grace_s: float | None = None) -> int:
        """Delete uploads never attached to a tweet within ``grace_s`` seconds; return how many.

        ``grace_s`` defaults to the ``media_unattached_grace_s`` setting. Also finishes any
        removal a crash interrupted.
        """
        grace = self._settings.media_unattached_grace_s if grace_s is None else grace_s
        cutoff = _now() - timedelta(seconds=grace)
        async with self.store.transaction() as tx:
            await tx.conn.execute(
                sa.update(media)
                .where(
                    media.c.attached_to.is_(None),
                    media.c.profile_role.is_(None),
                    media.c.created_at <= cutoff,
                    media.c.deleting.is_(False),
                )
                .values(deleting=True)
            )
        return await self._purge(None)

    # -- internals ----------------------------------------------------------------------

    async def _purge(self, only: list[int] | None) -> int:
        """Delete blobs, then rows, of media marked ``deleting`` (of ``only``, or all)."""
        purged = 0
        while True:
            select_ids = sa.select(media.c.id).where(media.c.deleting.is_(True))
            if only is not None:
                select_ids = select_ids.where(media.c.id.in_(only))
            async with self.store.read() as conn:
                ids = list((await conn.execute(select_ids.limit(PURGE_BATCH))).scalars())
                if not ids:
                    return purged
                keys = list(
                    (
                        await conn.execute(
                            sa.select(media_variants.c.blob_key).where(media_variants.c.media_id.in_(ids))
                        )
                    ).scalars()
                )
            # Blobs first: should this stop half-way, the rows are still marked and the next
            # attempt (a redelivery, the next sweep) finishes the job.
            for key in keys:
                await self.blobs.delete(key)
            async with self.store.transaction() as tx:
                await tx.conn.execute(sa.delete(media_variants).where(media_variants.c.media_id.in_(ids)))
                await tx.conn.execute(sa.delete(media).where(media.c.id.in_(ids), media.c.deleting.is_(True)))
            purged += len(ids)
            log.info("media removed", extra={"count": len(ids)})

    async def _delete_blobs(self, keys: list[str]) -> None:
        # Shielded: a cancelled upload still removes what it wrote.
        results = await asyncio.shield(
            asyncio.gather(*(self.blobs.delete(key) for key in keys), return_exceptions=True)
        )
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, BaseException):  # pragma: no cover - best effort on a failing path
                log.error("could not delete the blob of a failed upload", extra={"blob_key": key})


def _visible_to(viewer_id: Id | None) -> sa.ColumnElement[bool]:
    """Media shown in a tweet or on a profile are visible to all; a draft only to its owner."""
    viewer = parse_id(viewer_id)
    shown = sa.or_(media.c.attached_to.is_not(None), media.c.profile_role.is_not(None))
    if viewer is None:
        return shown
    return sa.or_(shown, media.c.owner_id == viewer)


def _audience_of(attached_to: int | None, tweet_visibility: str | None) -> str | None:
    """The tweet whose audience decides who sees an attached image, unless anyone may see the
    tweet (an image attached before the visibility was recorded counts as restricted)."""
    if attached_to is None or tweet_visibility in OPEN_VISIBILITIES:
        return None
    return str(attached_to)


def _checked_description(description: str | None) -> str | None:
    """Alt text within its limit, "" (no alt text) as None."""
    if description is None:
        return None
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"alt text has at most {MAX_DESCRIPTION} characters", field="description")
    return description.strip() or None


def _focus(x: float | None, y: float | None) -> Focus | None:
    return None if x is None or y is None else Focus(x=x, y=y)


def _to_media(
    media_id: int,
    owner: int,
    image: ProcessedImage,
    created_at: datetime,
    rows: list[dict[str, Any]],
    description: str | None = None,
    focus: Focus | None = None,
) -> Media:
    return Media(
        id=str(media_id),
        owner_id=str(owner),
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        created_at=created_at,
        variants=[
            MediaVariant(
                name=row["name"],
                content_type=row["content_type"],
                width=row["width"],
                height=row["height"],
                size=row["size"],
                etag=row["etag"],
            )
            for row in rows
        ],
        attached_to=None,
        description=description,
        focus=focus,
    )
