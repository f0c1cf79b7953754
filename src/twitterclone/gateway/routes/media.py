"""Image uploads and the bytes behind them: /api/media."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Body, HeaderParameter, PathParameter, QueryParameter
from litestar.types import Receive, ReceiveMessage

from boundaries._kernel.errors import InvalidInput
from boundaries.media.dto import Focus, Media, MediaUpdate, Upload, Variant
from boundaries.media.errors import (
    CorruptImage,
    MediaBusy,
    MediaNotFound,
    MediaTooLarge,
    NotMediaOwner,
    UnsupportedMediaType,
)
from boundaries.media.port import MediaPort
from boundaries.tweets.port import TweetsPort
from twitterclone.gateway.auth import READ, WRITE, Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.media_audience import RESTRICTED_CACHE, check_audience
from twitterclone.gateway.media_urls import media_urls_of
from twitterclone.gateway.params import BEARER, MediaId
from twitterclone.gateway.problems import answer, errors, refuses
from twitterclone.settings import Settings

#: Room for the multipart envelope (boundaries, part headers) around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
#: Renditions never change under their URL (a new upload gets a new id).
IMMUTABLE = "public, max-age=31536000, immutable"
#: A draft's bytes are its owner's: no shared cache keeps them, the browser revalidates.
DRAFT = "private, no-cache"


@dataclass
class MediaUploadForm:
    """A multipart/form-data upload: the image in the field ``file``; optionally its alt text
    (``description``, at most 1,500 characters) and focus point (``focus_x``, ``focus_y`` in [-1, 1])."""

    file: UploadFile
    description: str | None = None
    focus_x: float | None = None
    focus_y: float | None = None


def _focus(x: float | None, y: float | None) -> Focus | None:
    """Both coordinates or neither; each in [-1, 1]."""
    if x is None and y is None:
        return None
    try:
        return msgspec.convert({"x": x, "y": y}, Focus)
    except msgspec.ValidationError:
        raise InvalidInput("focus_x and focus_y go together, each from -1 to 1", field="focus") from None


@refuses(MediaTooLarge)
async def upload_body_limit(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: allow bodies up to media_max_bytes plus the multipart envelope, 413 above.

    The app-wide body limit (``max_body_bytes``) is lifted for the upload route only, so this
    guard enforces the upload's own limit from the settings: at once when Content-Length
    says too much, and while the body streams in when it does not say.
    """
    settings: Settings = await connection.app.state.dishka_container.get(Settings)
    limit = settings.media_max_bytes + MULTIPART_OVERHEAD_BYTES
    detail = f"an upload may be at most {settings.media_max_bytes} bytes"
    declared = connection.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise MediaTooLarge(detail)
    connection.receive = _capped(connection.receive, limit, detail)


def _capped(receive: Receive, limit: int, detail: str) -> Receive:
    received = 0

    async def capped_receive() -> ReceiveMessage:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise MediaTooLarge(detail)
        return message

    return capped_receive


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: weak comparison against a list of tags, or ``*``."""
    if not if_none_match:
        return False
    candidates = [tag.strip() for tag in if_none_match.split(",")]
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in candidates)


class MediaController(Controller):
    path = "/media"
    tags = ["media"]

    @post(
        "/",
        operation_id="uploadMedia",
        summary="Upload an image (JPEG, PNG, GIF or WebP); metadata is stripped",
        description=(
            "multipart/form-data with the image in the field `file`. The type is decided from "
            "the content. Answers 413 above the size, pixel or decoded-size limit, 422 for other "
            "files, 503 when every image worker is busy. The upload is a draft, visible to its "
            "owner only, until a tweet shows it."
        ),
        status_code=201,
        security=BEARER,
        guards=[WRITE, upload_body_limit],
        request_max_body_size=None,  # the guard enforces the upload's own limit
        # InvalidInput: a caller that is no user (a service client) cannot own media.
        responses=errors(MediaTooLarge, UnsupportedMediaType, CorruptImage, InvalidInput, MediaBusy),
    )
    @inject
    async def upload(
        self,
        user: NamedDependency[Principal],
        port: FromDishka[MediaPort],
        data: Annotated[MediaUploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Media:
        focus = _focus(data.focus_x, data.focus_y)
        content = await data.file.read()
        return await port.upload(
            Upload(
                owner_id=user.user_id,
                filename=data.file.filename,
                data=content,
                description=data.description,
                focus=focus,
            )
        )

    @patch(
        "/{media_id:str}",
        operation_id="updateMedia",
        summary="Change the alt text or focus point of one's own image",
        description='A field left out stays as it is; `"description": ""` removes the alt text.',
        security=BEARER,
        guards=[WRITE],
        responses=errors(MediaNotFound, NotMediaOwner, InvalidInput),
    )
    @inject
    async def update(
        self,
        media_id: MediaId,
        data: Annotated[MediaUpdate, Body()],
        user: NamedDependency[Principal],
        port: FromDishka[MediaPort],
    ) -> Media:
        return await port.update(user.user_id, media_id, data)

    @get(
        "/{media_id:str}",
        operation_id="getMedia",
        summary="An image's metadata and renditions",
        description=(
            "A draft (not yet in a tweet or on a profile) is found by its owner only; an image in a "
            "followers-only or direct tweet by whoever may see that tweet."
        ),
        guards=[READ],
        responses=errors(MediaNotFound),
    )
    @inject
    async def get_media(
        self,
        media_id: MediaId,
        viewer: NamedDependency[Principal | None],
        port: FromDishka[MediaPort],
        tweets: FromDishka[TweetsPort],
    ) -> Media:
        viewer_id = viewer.user_id if viewer else None
        found = await port.get_many([media_id], viewer_id)
        if not found:
            raise MediaNotFound("no such media")
        await check_audience(tweets, found[0].audience_of, viewer_id)
        return found[0]

    @get(
        "/{media_id:str}/{variant:str}",
        operation_id="getMediaContent",
        summary="The bytes of one rendition (original, display or thumb), cacheable forever",
        description=(
            "A draft (not yet in a tweet) is served to its owner only, an image in a followers-only "
            "or direct tweet to whoever may see that tweet; both privately (no shared cache). "
            "Such an image's URL in a Mastodon attachment is signed for its viewer (`v`, `e`, `s`): "
            "a valid, unexpired signature stands in for the token, and the viewer's access is "
            "still checked; a wrong or expired one is ignored."
        ),
        response_description="The image bytes, with a strong ETag; 304 when If-None-Match matches.",
        guards=[READ],
        responses=errors(MediaNotFound)
        | answer(304, None, "Not modified: the If-None-Match tag matches (no body)"),
    )
    @inject
    async def get_content(
        self,
        request: Request[Any, Any, Any],
        media_id: MediaId,
        variant: Annotated[Variant, PathParameter(description="original, display or thumb")],
        viewer: NamedDependency[Principal | None],
        port: FromDishka[MediaPort],
        tweets: FromDishka[TweetsPort],
        if_none_match: Annotated[str | None, HeaderParameter(name="If-None-Match")] = None,
        v: Annotated[str | None, QueryParameter(description="signed URL: the viewer")] = None,
        e: Annotated[str | None, QueryParameter(description="signed URL: its expiry (unix seconds)")] = None,
        s: Annotated[str | None, QueryParameter(description="signed URL: its signature")] = None,
    ) -> Response[bytes]:
        viewer_id = viewer.user_id if viewer else None
        if s is not None:
            # A URL signed for its viewer stands in for the token (apps fetch images without
            # it); a bad one is ignored, and the audience is asked as that viewer all the same.
            viewer_id = media_urls_of(request.app).viewer(media_id, variant, v, e, s) or viewer_id
        return await image_response(port, tweets, media_id, variant, viewer_id, if_none_match)


async def image_response(
    media: MediaPort,
    tweets: TweetsPort,
    media_id: str,
    variant: Variant,
    viewer_id: str | None,
    if_none_match: str | None,
) -> Response[bytes]:
    """One rendition's bytes as the viewer may see them (MediaNotFound otherwise), cached as
    their audience allows: forever and shared for public images, privately otherwise; 304 when
    ``If-None-Match`` matches. Every face that serves image bytes answers through this."""
    content = await media.content(media_id, variant, viewer_id)
    await check_audience(tweets, content.audience_of, viewer_id)
    cache = IMMUTABLE if content.attached else DRAFT
    if content.audience_of is not None:
        cache = RESTRICTED_CACHE
    headers = {"ETag": content.etag, "Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    if _etag_matches(if_none_match, content.etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(content.data, media_type=content.content_type, headers=headers)
