"""Media (/api/v2/media, /api/v1/media): upload an image, read and update its attachment.

Uploads go to the media port as the native upload does (same size guard, same checks by
content); the image is processed before the answer, so v2 answers 200 with its URLs at once
(Mastodon answers 202 while it processes).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency

from boundaries.media.dto import Focus, MediaUpdate, Upload
from boundaries.media.errors import MediaNotFound
from boundaries.media.port import MediaPort
from boundaries.tweets.port import TweetsPort
from twitterclone.gateway.auth import Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.mastodon import entities as m
from twitterclone.gateway.mastodon.body import BadParams, body_operation, convert, raw_params
from twitterclone.gateway.mastodon.deps import TAG, may_answer, shaper_for
from twitterclone.gateway.mastodon.params import MediaId
from twitterclone.gateway.mastodon.scopes import scope
from twitterclone.gateway.mastodon.shaping import Shaper
from twitterclone.gateway.media_audience import check_audience
from twitterclone.gateway.params import BEARER
from twitterclone.gateway.routes.media import upload_body_limit


class MediaForm(msgspec.Struct, frozen=True, kw_only=True):
    """The fields of an upload or an update besides the file: alt text and focal point."""

    description: Annotated[str, msgspec.Meta(max_length=1500)] | None = None
    focus: Annotated[str, msgspec.Meta(max_length=64)] | None = None


def _focus(text: str | None) -> Focus | None:
    """Mastodon's focus parameter, ``"x,y"`` with each in -1..1."""
    if text is None or text == "":
        return None
    try:
        x, y = (float(part) for part in text.split(","))
        return msgspec.convert({"x": x, "y": y}, Focus)
    except (ValueError, msgspec.ValidationError) as exc:
        raise BadParams('focus must be two numbers from -1.0 to 1.0, as "x,y"') from exc


async def _upload(
    request: Request[Any, Any, Any], user: Principal, media: MediaPort, shaper: Shaper
) -> m.MediaAttachment:
    params = await raw_params(request)
    file = params.get("file")
    if not isinstance(file, UploadFile):
        raise BadParams("Validation failed: File can't be blank (send it as multipart/form-data)")
    form = convert(params, MediaForm)
    upload = Upload(
        owner_id=user.user_id,
        filename=file.filename,
        data=await file.read(),
        description=form.description or None,
        focus=_focus(form.focus),
    )
    stored = await media.upload(upload)
    return shaper.attachment(stored, user.user_id)


class MediaController(Controller):
    """Image uploads and their attachments."""

    path = ""
    tags = [TAG]

    @post(
        "/v2/media",
        operation_id="mastodonUploadMediaV2",
        summary="Upload an image (JPEG, PNG, GIF or WebP) as a draft attachment",
        status_code=200,
        security=BEARER,
        guards=[scope("write:media"), upload_body_limit],
        request_max_body_size=None,  # the guard enforces the upload's own limit
        operation_class=body_operation(MediaForm, file_field="file", required=True),
        opt=may_answer(413, 422, 503),
    )
    @inject
    async def upload_v2(
        self,
        request: Request[Any, Any, Any],
        user: NamedDependency[Principal],
        media: FromDishka[MediaPort],
    ) -> m.MediaAttachment:
        shaper = await shaper_for(request)
        return await _upload(request, user, media, shaper)

    @post(
        "/v1/media",
        operation_id="mastodonUploadMediaV1",
        summary="Upload an image (the v1 route, same answer as v2)",
        status_code=200,
        security=BEARER,
        guards=[scope("write:media"), upload_body_limit],
        request_max_body_size=None,
        operation_class=body_operation(MediaForm, file_field="file", required=True),
        opt=may_answer(413, 422, 503),
    )
    @inject
    async def upload_v1(
        self,
        request: Request[Any, Any, Any],
        user: NamedDependency[Principal],
        media: FromDishka[MediaPort],
    ) -> m.MediaAttachment:
        shaper = await shaper_for(request)
        return await _upload(request, user, media, shaper)

    @get(
        "/v1/media/{media_id:str}",
        operation_id="mastodonGetMedia",
        summary="One of one's own attachments",
        security=BEARER,
        guards=[scope("write:media")],
        opt=may_answer(404),
    )
    @inject
    async def get_media(
        self,
        request: Request[Any, Any, Any],
        media_id: MediaId,
        user: NamedDependency[Principal],
        media: FromDishka[MediaPort],
        tweets: FromDishka[TweetsPort],
    ) -> m.MediaAttachment:
        shaper = await shaper_for(request)
        found = await media.get_many([media_id], user.user_id)
        # One's own attachments only, as on Mastodon; the owner is in the audience of their
        # tweet, and the audience check stays should this route ever show others' media.
        if not found or found[0].owner_id != user.user_id:
            raise MediaNotFound("Record not found")
        await check_audience(tweets, found[0].audience_of, user.user_id)
        return shaper.attachment(found[0], user.user_id)

    @put(
        "/v1/media/{media_id:str}",
        operation_id="mastodonUpdateMedia",
        summary="Change one's attachment (alt text, focal point)",
        security=BEARER,
        guards=[scope("write:media")],
        operation_class=body_operation(MediaForm),
        opt=may_answer(403, 404, 422),
    )
    @inject
    async def update_media(
        self,
        request: Request[Any, Any, Any],
        media_id: MediaId,
        user: NamedDependency[Principal],
        media: FromDishka[MediaPort],
    ) -> m.MediaAttachment:
        shaper = await shaper_for(request)
        form = convert(await raw_params(request), MediaForm)
        update = MediaUpdate(description=form.description, focus=_focus(form.focus))
        return shaper.attachment(await media.update(user.user_id, media_id, update), user.user_id)
