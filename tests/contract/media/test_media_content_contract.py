"""Alt text, focus points, the owner's update, and profile images, written as MediaPort calls."""

from __future__ import annotations

import io

import msgspec
import pytest
from PIL import Image

from boundaries._kernel.errors import InvalidInput
from boundaries.media.dto import MAX_DESCRIPTION, Focus, MediaUpdate, Upload
from boundaries.media.errors import MediaNotFound, NotMediaOwner
from boundaries.media.port import MediaPort

ALICE = "1001"
BOB = "2002"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


async def test_upload_keeps_alt_text_and_focus(media_port: MediaPort) -> None:
    up = await media_port.upload(
        Upload(
            owner_id=ALICE,
            filename="a.png",
            data=png(),
            description=" a red square ",
            focus=Focus(x=0.5, y=-1),
        )
    )
    assert (up.description, up.focus) == ("a red square", Focus(x=0.5, y=-1.0))
    [got] = await media_port.get_many([up.id], ALICE)
    assert (got.description, got.focus, got.profile_role) == ("a red square", Focus(x=0.5, y=-1.0), None)
    bare = await media_port.upload(Upload(owner_id=ALICE, filename="b.png", data=png()))
    assert (bare.description, bare.focus) == (None, None)


async def test_alt_text_and_focus_limits(media_port: MediaPort) -> None:
    with pytest.raises(InvalidInput):
        await media_port.upload(
            Upload(owner_id=ALICE, filename="a.png", data=png(), description="d" * (MAX_DESCRIPTION + 1))
        )
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"x": 1.5, "y": 0}, Focus)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"description": "d" * (MAX_DESCRIPTION + 1)}, MediaUpdate)


async def test_only_the_owner_updates_alt_text_and_focus(media_port: MediaPort) -> None:
    up = await media_port.upload(Upload(owner_id=ALICE, filename="a.png", data=png(), description="old"))
    changed = await media_port.update(ALICE, up.id, MediaUpdate(focus=Focus(x=-0.25, y=0.75)))
    assert (changed.description, changed.focus) == ("old", Focus(x=-0.25, y=0.75))  # left out: kept
    changed = await media_port.update(ALICE, up.id, MediaUpdate(description="new"))
    assert (changed.description, changed.focus) == ("new", Focus(x=-0.25, y=0.75))
    cleared = await media_port.update(ALICE, up.id, MediaUpdate(description=""))
    assert cleared.description is None
    with pytest.raises(NotMediaOwner):
        await media_port.update(BOB, up.id, MediaUpdate(description="mine now"))
    with pytest.raises(MediaNotFound):
        await media_port.update(ALICE, "42", MediaUpdate(description="x"))
    with pytest.raises(InvalidInput):
        await media_port.update(ALICE, up.id, MediaUpdate(description="d" * (MAX_DESCRIPTION + 1)))


async def test_a_profile_image_is_public_and_one_per_role(media_port: MediaPort) -> None:
    first = await media_port.upload(Upload(owner_id=ALICE, filename="a.png", data=png()))
    assert await media_port.get_many([first.id], BOB) == []  # a draft is the owner's
    avatar = await media_port.set_profile_image(ALICE, "avatar", first.id)
    assert avatar is not None
    assert avatar.profile_role == "avatar"
    assert [m.id for m in await media_port.get_many([first.id], None)] == [first.id]  # now public
    content = await media_port.content(first.id, "thumb", None)
    assert content.attached  # served publicly and cacheable
    assert await media_port.set_profile_image(ALICE, "avatar", first.id) == avatar  # idempotent

    second = await media_port.upload(Upload(owner_id=ALICE, filename="b.png", data=png()))
    await media_port.set_profile_image(ALICE, "avatar", second.id)
    [released] = await media_port.get_many([first.id], ALICE)
    assert released.profile_role is None  # the replaced avatar is an ordinary upload again
    with pytest.raises(InvalidInput):
        await media_port.set_profile_image(ALICE, "header", second.id)  # already the avatar
    with pytest.raises(NotMediaOwner):
        await media_port.set_profile_image(BOB, "avatar", first.id)
    with pytest.raises(MediaNotFound):
        await media_port.set_profile_image(ALICE, "header", "42")
    with pytest.raises(InvalidInput):
        await media_port.check_attachable(ALICE, [second.id])  # a profile image is not for tweets

    assert await media_port.set_profile_image(ALICE, "avatar", None) is None
    [cleared] = await media_port.get_many([second.id], ALICE)
    assert cleared.profile_role is None
