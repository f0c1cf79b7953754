"""MediaService against a real SQLite store and a real blob directory."""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from media_samples import (  # type: ignore[import-not-found]
    GPS_IFD,
    big_jpeg,
    decode,
    gif,
    jpeg_with_metadata,
    png,
    png_header_only,
    truncated_jpeg,
    truncated_png,
    webp,
)
from PIL import Image

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.events import Event
from boundaries.media.dto import Upload
from boundaries.media.errors import (
    CorruptImage,
    MediaBusy,
    MediaNotFound,
    MediaTooLarge,
    NotMediaOwner,
    UnsupportedMediaType,
)
from boundaries.media.events import MediaUploaded
from boundaries.tweets.events import TweetDeleted, TweetPosted
from modules.media.blobs import LocalBlobStore
from modules.media.consumer import MediaConsumer
from modules.media.images import ImageWorkers
from modules.media.service import MediaService
from modules.media.tables import media, media_variants
from tests.support.consumers import apply
from tests.support.databases import SchemaPool
from twitterclone.infra.events import decode_event
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, sqlite_url
from twitterclone.migrate import migrate
from twitterclone.settings import Settings

OWNER = "1001"
OTHER = "2002"


class World:
    """A migrated media store, its blob directory and the service over them."""

    def __init__(self, tmp_path: Path, store: ModuleStore | None = None, **overrides: Any) -> None:
        self.settings = Settings(data_dir=str(tmp_path), **overrides)
        self.store = store or ModuleStore("media", sqlite_url(tmp_path, "media"))
        self.root = tmp_path / "media"
        self.blobs = LocalBlobStore(self.root)
        self.ids = IdGenerator(1)
        self.service = MediaService(self.store, self.ids, self.settings, self.blobs)
        self.consumer = MediaConsumer(self.service)

    async def deliver(self, event: Event) -> None:
        """Apply one event through the consumer's subscriptions, as the kernel does."""
        await apply(self.consumer.subscriptions(), event)

    def files(self) -> set[str]:
        return {p.name for p in self.root.iterdir()} if self.root.exists() else set()

    async def rows(self) -> tuple[int, int]:
        async with self.store.read() as conn:
            n_media = (await conn.execute(sa.select(sa.func.count()).select_from(media))).scalar_one()
            n_variants = (
                await conn.execute(sa.select(sa.func.count()).select_from(media_variants))
            ).scalar_one()
        return int(n_media), int(n_variants)

    async def events(self) -> list[Any]:
        async with self.store.read() as conn:
            payloads = (await conn.execute(sa.select(self.store.outbox.c.payload))).scalars().all()
        return [decode_event(p) for p in payloads]

    async def upload(self, data: bytes, owner: str = OWNER, filename: str = "photo.jpg") -> Any:
        return await self.service.upload(Upload(owner_id=owner, filename=filename, data=data))


@pytest.fixture(params=["sqlite", "postgres"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """The service on its SQLite file, and on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        w = World(tmp_path)
        await migrate(w.store)
        yield w
        await w.store.dispose()
        return
    # A migrated schema of this test's own in the session's database (tests/support/databases.py).
    pool: SchemaPool = request.getfixturevalue("schema_pool")
    schemas = await pool.acquire(("media",))
    w = World(tmp_path, ModuleStore("media", pool.url, schema=schemas["media"]))
    try:
        yield w
    finally:
        await w.store.dispose()
        pool.release(schemas)


def posted(tweet_id: str, media_ids: list[str], author: str = OWNER) -> TweetPosted:
    now = datetime.now(UTC)
    return TweetPosted(
        event_id=str(hash((tweet_id, "p")) & 0xFFFFFFFF),
        occurred_at=now,
        tweet_id=tweet_id,
        author_id=author,
        created_at=now,
        text="look",
        conversation_id=tweet_id,
        media_ids=media_ids,
    )


def deleted(tweet_id: str, media_ids: list[str], author: str = OWNER) -> TweetDeleted:
    return TweetDeleted(
        event_id=str(hash((tweet_id, "d")) & 0xFFFFFFFF),
        occurred_at=datetime.now(UTC),
        tweet_id=tweet_id,
        author_id=author,
        media_ids=media_ids,
    )


# -- decoding, stripping, renditions ---------------------------------------------------------


async def test_jpeg_with_exif_and_gps_is_stored_without_any_metadata(world: World) -> None:
    uploaded = await world.upload(jpeg_with_metadata())
    assert uploaded.content_type == "image/jpeg"
    for variant in ("original", "display", "thumb"):
        content = await world.service.content(uploaded.id, variant, OWNER)
        assert content.content_type == "image/jpeg"
        assert b"Exif" not in content.data
        assert b"secret comment" not in content.data
        img = decode(content.data)
        assert dict(img.getexif()) == {}
        assert dict(img.getexif().get_ifd(GPS_IFD)) == {}
        assert not {"icc_profile", "exif", "comment", "xmp"} & set(img.info)


async def test_exif_orientation_is_applied_before_stripping(world: World) -> None:
    # Orientation 6: the camera was turned; the upright picture is taller than wide.
    uploaded = await world.upload(jpeg_with_metadata(size=(64, 32), orientation=6))
    assert (uploaded.width, uploaded.height) == (32, 64)
    img = decode((await world.service.content(uploaded.id, "original", OWNER)).data)
    assert img.size == (32, 64)
    top, bottom = img.getpixel((16, 4)), img.getpixel((16, 60))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[2] > top[0]  # the blue half ends up on top after rotating 90 degrees clockwise
    assert bottom[0] > bottom[2]


@pytest.mark.parametrize(
    ("data", "content_type", "fmt"),
    [
        (png(text="GPS 52.5N"), "image/png", "PNG"),
        (gif(), "image/gif", "GIF"),
        (webp(), "image/webp", "WEBP"),
        (jpeg_with_metadata(), "image/jpeg", "JPEG"),
    ],
)
async def test_accepted_formats_keep_their_format(
    world: World, data: bytes, content_type: str, fmt: str
) -> None:
    uploaded = await world.upload(data, filename="whatever.bin")
    assert uploaded.content_type == content_type
    assert [v.name for v in uploaded.variants] == ["original", "display", "thumb"]
    for variant in uploaded.variants:
        content = await world.service.content(uploaded.id, variant.name, OWNER)
        img = decode(content.data)
        assert img.format == fmt
        assert (img.width, img.height) == (variant.width, variant.height)
        assert variant.size == len(content.data)
        assert content.etag == variant.etag == f'"{hashlib.sha256(content.data).hexdigest()}"'
        assert "GPS" not in str(img.info)


async def test_renditions_fit_their_boxes_and_keep_the_aspect_ratio(world: World) -> None:
    uploaded = await world.upload(big_jpeg((2400, 1600)))
    sizes = {v.name: (v.width, v.height) for v in uploaded.variants}
    assert sizes == {"original": (2400, 1600), "display": (1200, 800), "thumb": (150, 100)}


async def test_animated_gif_is_stored_as_its_first_frame(world: World) -> None:
    uploaded = await world.upload(gif(frames=3))
    img = Image.open(io.BytesIO((await world.service.content(uploaded.id, "original", OWNER)).data))
    assert getattr(img, "n_frames", 1) == 1


async def test_the_type_comes_from_the_content_not_the_name(world: World) -> None:
    uploaded = await world.upload(png(), filename="holiday.jpg")
    assert uploaded.content_type == "image/png"


async def test_upload_emits_media_uploaded(world: World) -> None:
    uploaded = await world.upload(png())
    events = await world.events()
    assert [type(e) for e in events] == [MediaUploaded]
    assert events[0].media_id == uploaded.id
    assert events[0].owner_id == OWNER
    assert events[0].content_type == "image/png"


# -- rejections leave nothing behind --------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"just some text, not an image\n", UnsupportedMediaType),
        (b"", UnsupportedMediaType),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", UnsupportedMediaType),
        (truncated_jpeg(), CorruptImage),
        (truncated_png(), CorruptImage),
        (png_header_only(7000, 7000), MediaTooLarge),  # 49 MP: above our 40 MP limit
        (png_header_only(20000, 20000), MediaTooLarge),  # 400 MP: Pillow itself calls it a bomb
    ],
    ids=["text", "empty", "pdf", "truncated-jpeg", "truncated-png", "too-many-pixels", "bomb"],
)
async def test_rejected_uploads_leave_no_file_and_no_row(world: World, data: bytes, error: type) -> None:
    await world.upload(png())  # something already there
    files, rows = world.files(), await world.rows()
    with pytest.raises(error):
        await world.upload(data, filename="x.png")
    assert world.files() == files
    assert await world.rows() == rows
    assert len(await world.events()) == 1


async def test_too_many_bytes_is_rejected_before_decoding(tmp_path: Path) -> None:
    w = World(tmp_path, media_max_bytes=1000)
    await migrate(w.store)
    try:
        with pytest.raises(MediaTooLarge):
            await w.upload(big_jpeg((300, 300)))
        assert w.files() == set()
        assert await w.rows() == (0, 0)
    finally:
        await w.store.dispose()


async def test_pixel_limit_comes_from_the_settings(tmp_path: Path) -> None:
    w = World(tmp_path, media_max_pixels=100 * 100)
    await migrate(w.store)
    try:
        await w.upload(png(size=(100, 100)))
        with pytest.raises(MediaTooLarge):
            await w.upload(png(size=(101, 100)))
    finally:
        await w.store.dispose()


def grey_png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("L", size, 120).save(out, "PNG")
    return out.getvalue()


async def test_decoded_size_limit_counts_bytes_per_pixel_from_the_header(tmp_path: Path) -> None:
    # 100x100 takes 40,000 bytes in colour (4 per pixel) and 10,000 in grey (1 per pixel).
    w = World(tmp_path, media_max_decoded_bytes=40_000)
    await migrate(w.store)
    try:
        await w.upload(png(size=(100, 100)))
        await w.upload(grey_png((200, 200)))
        too_big = [png(size=(101, 100)), png(size=(101, 100), mode="RGB"), grey_png((201, 200))]
        for data in too_big:
            with pytest.raises(MediaTooLarge, match="decoded"):
                await w.upload(data)
        assert await w.rows() == (2, 6)
    finally:
        await w.store.dispose()


async def test_image_work_is_bounded_and_a_job_holds_its_slot_until_its_thread_ends() -> None:
    workers = ImageWorkers(workers=1, queue=1)
    started, release = threading.Event(), threading.Event()

    def job(n: int) -> int:
        started.set()
        release.wait(5)
        assert threading.current_thread().name.startswith("media-image")
        return n

    first = asyncio.create_task(workers.run(job, 1))
    second = asyncio.create_task(workers.run(job, 2))
    await asyncio.to_thread(started.wait, 5)
    with pytest.raises(MediaBusy):
        await workers.run(job, 3)
    first.cancel()  # the caller gives up; its job still runs, so its slot stays taken
    await asyncio.sleep(0.05)
    with pytest.raises(MediaBusy):
        await workers.run(job, 4)
    release.set()
    assert await second == 2
    for _ in range(500):  # the cancelled caller's job ends on its thread, then frees its slot
        if not workers.admitted:
            break
        await asyncio.sleep(0.01)
    assert workers.admitted == 0
    assert await workers.run(job, 5) == 5


async def test_a_draft_is_visible_to_its_owner_only_until_it_is_attached(world: World) -> None:
    draft = await world.upload(png())
    assert await world.service.get_many([draft.id]) == []
    assert await world.service.get_many([draft.id], OTHER) == []
    assert await world.service.get_many([draft.id], OWNER) == [draft]
    for viewer in (None, OTHER):
        with pytest.raises(MediaNotFound):
            await world.service.content(draft.id, "thumb", viewer)
    assert not (await world.service.content(draft.id, "thumb", OWNER)).attached
    await world.deliver(posted("5000", [draft.id]))
    for viewer in (None, OTHER, OWNER):
        assert [m.id for m in await world.service.get_many([draft.id], viewer)] == [draft.id]
        assert (await world.service.content(draft.id, "thumb", viewer)).attached


class FailingBlobs(LocalBlobStore):
    """Writes blobs until the ``fail_on``-th put, which fails."""

    def __init__(self, root: Path, fail_on: int) -> None:
        super().__init__(root)
        self.puts = 0
        self.fail_on = fail_on

    async def put(self, key: str, data: bytes) -> None:
        self.puts += 1
        if self.puts == self.fail_on:
            raise OSError("disk full")
        await super().put(key, data)


async def test_a_failing_blob_write_removes_the_blobs_already_written(world: World) -> None:
    world.service.blobs = FailingBlobs(world.root, fail_on=3)
    with pytest.raises(OSError, match="disk full"):
        await world.upload(png())
    assert world.files() == set()
    assert await world.rows() == (0, 0)


class FixedIds(IdGenerator):
    def next_int(self) -> int:
        return 4242


async def test_a_failing_commit_removes_every_blob_of_the_upload(world: World) -> None:
    world.service = MediaService(world.store, FixedIds(1), world.settings, world.blobs)
    await world.upload(png())
    files, rows = world.files(), await world.rows()
    with pytest.raises(sa.exc.IntegrityError):  # the same media id again: the insert fails
        await world.upload(jpeg_with_metadata())
    assert world.files() == files
    assert await world.rows() == rows


# -- reads ---------------------------------------------------------------------------------


async def test_get_many_keeps_the_order_asked_and_leaves_out_unknown_ids(world: World) -> None:
    a = await world.upload(png())
    b = await world.upload(gif())
    found = await world.service.get_many([b.id, "999", a.id, "not-an-id", b.id], OWNER)
    assert [m.id for m in found] == [b.id, a.id]
    assert found[1] == a
    assert msgspec.json.decode(msgspec.json.encode(found[0])) == msgspec.json.decode(msgspec.json.encode(b))


async def test_content_of_unknown_media_is_not_found(world: World) -> None:
    with pytest.raises(MediaNotFound):
        await world.service.content("12345", "original", OWNER)
    with pytest.raises(MediaNotFound):
        await world.service.content("abc", "original", OWNER)


async def test_blobs_are_written_under_generated_names(world: World) -> None:
    uploaded = await world.upload(png(), filename="../../etc/passwd.png")
    names = world.files()
    assert len(names) == 3
    assert all(name.startswith(f"{uploaded.id}-") and name.endswith(".png") for name in names)
    assert not any(name.startswith(".tmp-") for name in names)


# -- attaching ------------------------------------------------------------------------------


async def test_check_attachable(world: World) -> None:
    mine = await world.upload(png())
    theirs = await world.upload(png(), owner=OTHER)
    await world.service.check_attachable(OWNER, [mine.id])
    await world.service.check_attachable(OWNER, [])
    with pytest.raises(NotMediaOwner):
        await world.service.check_attachable(OWNER, [mine.id, theirs.id])
    with pytest.raises(MediaNotFound):
        await world.service.check_attachable(OWNER, [mine.id, "777"])
    with pytest.raises(InvalidInput):
        await world.service.check_attachable(OWNER, ["nope"])
    with pytest.raises(InvalidInput):
        await world.service.check_attachable(OWNER, [mine.id, mine.id])
    more = [(await world.upload(png())).id for _ in range(4)]
    with pytest.raises(InvalidInput):
        await world.service.check_attachable(OWNER, [mine.id, *more])


async def test_tweet_posted_attaches_and_double_delivery_changes_nothing(world: World) -> None:
    m = await world.upload(png())
    event = posted("5000", [m.id])
    await world.deliver(event)
    [after_first] = await world.service.get_many([m.id], OWNER)
    assert after_first.attached_to == "5000"
    await world.deliver(event)
    assert await world.service.get_many([m.id], OWNER) == [after_first]
    # Attached media cannot go into another tweet, and another tweet cannot take it over.
    with pytest.raises(InvalidInput):
        await world.service.check_attachable(OWNER, [m.id])
    await world.deliver(posted("5001", [m.id]))
    assert (await world.service.get_many([m.id], OWNER))[0].attached_to == "5000"


async def test_tweet_posted_does_not_attach_someone_elses_media(world: World) -> None:
    theirs = await world.upload(png(), owner=OTHER)
    await world.deliver(posted("5000", [theirs.id], author=OWNER))
    assert (await world.service.get_many([theirs.id], OTHER))[0].attached_to is None


async def test_tweet_deleted_removes_media_and_blobs_and_double_delivery_changes_nothing(
    world: World,
) -> None:
    keep = await world.upload(png())
    gone = await world.upload(jpeg_with_metadata())
    await world.deliver(posted("5000", [gone.id]))
    event = deleted("5000", [gone.id])
    await world.deliver(event)
    assert await world.service.get_many([gone.id, keep.id], OWNER) == [keep]
    with pytest.raises(MediaNotFound):
        await world.service.content(gone.id, "thumb", OWNER)
    assert len(world.files()) == 3
    assert all(name.startswith(keep.id) for name in world.files())
    await world.deliver(event)
    assert await world.service.get_many([keep.id], OWNER) == [keep]
    assert await world.rows() == (1, 3)


async def test_tweet_deleted_keeps_media_shown_in_another_tweet(world: World) -> None:
    m = await world.upload(png())
    await world.deliver(posted("5000", [m.id]))
    await world.deliver(deleted("6000", [m.id]))
    assert [x.id for x in await world.service.get_many([m.id], OWNER)] == [m.id]


class FlakyDeletes(LocalBlobStore):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.fail_next = True

    async def delete(self, key: str) -> None:
        if self.fail_next:
            self.fail_next = False
            raise OSError("storage hiccup")
        await super().delete(key)


async def test_an_interrupted_removal_is_finished_by_the_redelivery(world: World) -> None:
    m = await world.upload(png())
    world.service.blobs = FlakyDeletes(world.root)
    event = deleted("5000", [m.id])
    with pytest.raises(OSError, match="hiccup"):  # the relay will deliver it again
        await world.deliver(event)
    assert await world.service.get_many([m.id], OWNER) == []  # already invisible
    await world.deliver(event)
    assert world.files() == set()
    assert await world.rows() == (0, 0)


# -- the sweep -----------------------------------------------------------------------------


async def test_sweep_removes_uploads_never_attached_after_the_grace_period(world: World) -> None:
    attached = await world.upload(png())
    orphan = await world.upload(gif())
    await world.deliver(posted("5000", [attached.id]))

    assert await world.service.sweep_unattached() == 0  # default grace: a day
    assert len(await world.service.get_many([attached.id, orphan.id], OWNER)) == 2

    assert await world.service.sweep_unattached(grace_s=0) == 1
    assert [m.id for m in await world.service.get_many([attached.id, orphan.id], OWNER)] == [attached.id]
    assert {name.split("-")[0] for name in world.files()} == {attached.id}
    assert await world.rows() == (1, 3)
    assert await world.service.sweep_unattached(grace_s=0) == 0


async def test_sweep_keeps_profile_images_and_takes_replaced_ones(world: World) -> None:
    avatar = await world.upload(png())
    await world.service.set_profile_image(OWNER, "avatar", avatar.id)
    assert await world.service.sweep_unattached(grace_s=0) == 0  # shown on a profile: kept
    replacement = await world.upload(gif())
    await world.service.set_profile_image(OWNER, "avatar", replacement.id)
    assert await world.service.sweep_unattached(grace_s=0) == 1  # the replaced avatar goes
    assert [m.id for m in await world.service.get_many([avatar.id, replacement.id], OWNER)] == [
        replacement.id
    ]


async def test_consumer_subscribes_to_tweet_events_and_runs_the_sweep_job(world: World) -> None:
    subs = {s.consumer: s.event_type for s in world.consumer.subscriptions()}
    assert subs == {"media.attach": TweetPosted, "media.cleanup": TweetDeleted}
    assert world.consumer.background_jobs() == [world.consumer.sweep_forever]
