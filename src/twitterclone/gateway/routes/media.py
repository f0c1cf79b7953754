"""Image uploads and the bytes behind them: /api/media."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Body, HeaderParameter, PathParameter
from litestar.types import Receive, ReceiveMessage

from boundaries._kernel.errors import InvalidInput
from boundaries.media.dto import Media, Upload, Variant
from boundaries.media.errors import CorruptImage, MediaNotFound, MediaTooLarge, UnsupportedMediaType
from boundaries.media.port import MediaPort
from twitterclone.gateway.auth import READ, WRITE, Principal
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.params import BEARER, MediaId
from twitterclone.gateway.problems import answer, errors, refuses
from twitterclone.settings import Settings

#: Room for the multipart envelope (boundaries, part headers) around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
#: Renditions never change under their URL (a new upload gets a new id).
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass
class MediaUploadForm:
    """A multipart/form-data upload: the image in the field ``file``."""

    file: UploadFile


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
            "the content. Answers 413 above the size or pixel limit, 422 for other files."
        ),
        status_code=201,
        security=BEARER,
        guards=[WRITE, upload_body_limit],
        request_max_body_size=None,  # the guard enforces the upload's own limit
        # InvalidInput: a caller that is no user (a service client) cannot own media.
        responses=errors(MediaTooLarge, UnsupportedMediaType, CorruptImage, InvalidInput),
    )
    @inject
    async def upload(
        self,
        user: NamedDependency[Principal],
        port: FromDishka[MediaPort],
        data: Annotated[MediaUploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Media:
        content = await data.file.read()
        return await port.upload(Upload(owner_id=user.user_id, filename=data.file.filename, data=content))

    @get(
        "/{media_id:str}",
        operation_id="getMedia",
        summary="An image's metadata and renditions",
        guards=[READ],
        responses=errors(MediaNotFound),
    )
    @inject
    async def get_media(self, media_id: MediaId, port: FromDishka[MediaPort]) -> Media:
        found = await port.get_many([media_id])
        if not found:
            raise MediaNotFound("no such media")
        return found[0]

    @get(
        "/{media_id:str}/{variant:str}",
        operation_id="getMediaContent",
        summary="The bytes of one rendition (original, display or thumb), cacheable forever",
        response_description="The image bytes, with a strong ETag; 304 when If-None-Match matches.",
        guards=[READ],
        responses=errors(MediaNotFound)
        | answer(304, None, "Not modified: the If-None-Match tag matches (no body)"),
    )
    @inject
    async def get_content(
        self,
        media_id: MediaId,
        variant: Annotated[Variant, PathParameter(description="original, display or thumb")],
        port: FromDishka[MediaPort],
        if_none_match: Annotated[str | None, HeaderParameter(name="If-None-Match")] = None,
    ) -> Response[bytes]:
        content = await port.content(media_id, variant)
        headers = {"ETag": content.etag, "Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"}
        if _etag_matches(if_none_match, content.etag):
            return Response(b"", status_code=304, headers=headers)
        return Response(content.data, media_type=content.content_type, headers=headers)
