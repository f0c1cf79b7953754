"""What MediaPort promises, written as port calls (the same suite will run over HTTP)."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from boundaries._kernel.errors import InvalidInput
from boundaries.media.dto import Media, Upload
from boundaries.media.errors import CorruptImage, MediaNotFound, NotMediaOwner, UnsupportedMediaType
from boundaries.media.port import MediaPort

ALICE = "1001"
BOB = "2002"


def image(fmt: str, size: tuple[int, int] = (300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 40, 60)).save(out, fmt)
    return out.getvalue()


async def upload(
    port: MediaPort, owner: str = ALICE, data: bytes | None = None, name: str = "a.png"
) -> Media:
    return await port.upload(Upload(owner_id=owner, filename=name, data=data or image("PNG")))


async def test_upload_returns_the_image_and_its_three_renditions(media_port: MediaPort) -> None:
    media = await upload(media_port, data=image("JPEG", (2000, 500)))
    assert media.owner_id == ALICE
    assert media.attached_to is None
    assert (media.content_type, media.width, media.height) == ("image/jpeg", 2000, 500)
    assert media.created_at.tzinfo is not None
    assert [(v.name, v.width, v.height) for v in media.variants] == [
        ("original", 2000, 500),
        ("display", 1200, 300),
        ("thumb", 150, 38),
    ]


async def test_the_type_is_decided_by_decoding(media_port: MediaPort) -> None:
    media = await upload(media_port, data=image("GIF"), name="looks-like.jpg")
    assert media.content_type == "image/gif"
    with pytest.raises(UnsupportedMediaType):
        await upload(media_port, data=b"plain text\n" * 10, name="x.png")
    noisy = io.BytesIO()
    Image.effect_noise((200, 200), 60).save(noisy, "PNG")
    with pytest.raises(CorruptImage):
        await upload(media_port, data=noisy.getvalue()[:-300])


async def test_get_many_in_the_order_asked_unknown_left_out(media_port: MediaPort) -> None:
    a = await upload(media_port)
    b = await upload(media_port)
    assert await media_port.get_many([b.id, "424242", a.id], ALICE) == [b, a]
    assert await media_port.get_many([], ALICE) == []


async def test_a_draft_is_its_owners_only(media_port: MediaPort) -> None:
    mine = await upload(media_port)
    theirs = await upload(media_port, owner=BOB)
    assert await media_port.get_many([theirs.id, mine.id], ALICE) == [mine]
    assert await media_port.get_many([theirs.id, mine.id]) == []  # no viewer: no drafts
    assert (await media_port.content(mine.id, "thumb", ALICE)).attached is False
    for viewer in (BOB, None):
        with pytest.raises(MediaNotFound):
            await media_port.content(mine.id, "thumb", viewer)


async def test_content_is_the_bytes_behind_the_etag(media_port: MediaPort) -> None:
    media = await upload(media_port, data=image("WEBP"))
    for variant in media.variants:
        content = await media_port.content(media.id, variant.name, ALICE)
        assert content.content_type == "image/webp"
        assert content.etag == variant.etag == f'"{hashlib.sha256(content.data).hexdigest()}"'
        assert Image.open(io.BytesIO(content.data)).size == (variant.width, variant.height)
    with pytest.raises(MediaNotFound):
        await media_port.content("424242", "original")


async def test_check_attachable(media_port: MediaPort) -> None:
    mine = [(await upload(media_port)).id for _ in range(5)]
    theirs = await upload(media_port, owner=BOB)
    await media_port.check_attachable(ALICE, mine[:4])
    await media_port.check_attachable(ALICE, [])
    with pytest.raises(NotMediaOwner):
        await media_port.check_attachable(ALICE, [mine[0], theirs.id])
    with pytest.raises(MediaNotFound):
        await media_port.check_attachable(ALICE, ["424242"])
    with pytest.raises(InvalidInput):
        await media_port.check_attachable(ALICE, mine)  # five images: one too many
