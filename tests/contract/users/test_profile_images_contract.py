"""Avatars and headers: a profile shows images its user uploaded, checked by the media module."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from boundaries._kernel.errors import InvalidInput
from boundaries.media.dto import Upload
from boundaries.media.errors import MediaNotFound, NotMediaOwner
from boundaries.users.dto import ProfileUpdate
from tests.contract.users.conftest import UsersPorts
from tests.contract.users.users_contract_kit import make


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 128, 255)).save(out, "PNG")
    return out.getvalue()


async def test_avatar_and_header_from_ones_own_uploads(users_ports: UsersPorts) -> None:
    users, media = users_ports.port, users_ports.media
    alice = await make(users, "alice")
    face = await media.upload(Upload(owner_id=alice, filename="face.png", data=png()))
    banner = await media.upload(Upload(owner_id=alice, filename="banner.png", data=png()))

    account = await users.update_profile(alice, ProfileUpdate(avatar_id=face.id, header_id=banner.id))
    assert (account.profile.avatar_id, account.profile.header_id) == (face.id, banner.id)
    profile = await users.profile(alice)
    assert (profile.avatar_id, profile.header_id) == (face.id, banner.id)
    assert [p.avatar_id for p in await users.profiles([alice])] == [face.id]
    # The media module now shows them to anyone, as what they are.
    shown = {m.id: m.profile_role for m in await media.get_many([face.id, banner.id], None)}
    assert shown == {face.id: "avatar", banner.id: "header"}

    # Other fields leave the images alone; "" removes one.
    await users.update_profile(alice, ProfileUpdate(bio="hi"))
    assert (await users.profile(alice)).avatar_id == face.id
    account = await users.update_profile(alice, ProfileUpdate(header_id=""))
    assert (account.profile.avatar_id, account.profile.header_id) == (face.id, None)
    [released] = await media.get_many([banner.id], alice)
    assert released.profile_role is None


async def test_someone_elses_or_unknown_image_is_refused(users_ports: UsersPorts) -> None:
    users, media = users_ports.port, users_ports.media
    alice = await make(users, "alice")
    bob = await make(users, "bob")
    bobs = await media.upload(Upload(owner_id=bob, filename="b.png", data=png()))
    with pytest.raises(NotMediaOwner):
        await users.update_profile(alice, ProfileUpdate(avatar_id=bobs.id))
    with pytest.raises(MediaNotFound):
        await users.update_profile(alice, ProfileUpdate(header_id="4242"))
    profile = await users.profile(alice)
    assert (profile.avatar_id, profile.header_id) == (None, None)
    # An image cannot be both the avatar and the header.
    own = await media.upload(Upload(owner_id=alice, filename="a.png", data=png()))
    with pytest.raises(InvalidInput):
        await users.update_profile(alice, ProfileUpdate(avatar_id=own.id, header_id=own.id))
    [untouched] = await media.get_many([own.id], alice)
    assert untouched.profile_role is None  # refused before anything changed
