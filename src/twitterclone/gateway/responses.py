"""How a handler's return value becomes its answer: ``JsonResponse``, the app's response class.

A handler of this gateway returns data (a ``Page[Tweet]``, a ``Tweet``, a struct); Litestar wraps
it in the app's response class and asks that for the ASGI app that answers. Litestar's own
``Response`` builds an ``ASGIResponse`` for it: a header container filled name by name, two
look-ups that miss (``content-type``, ``content-length``) and the list of encoded headers made
again when the answer starts (about 25 µs of a home read, measured in session 8).

``JsonResponse`` answers the plain case itself, with the same two messages: the body encoded by
Litestar's ``render`` (the same bytes), the headers ``content-type: application/json`` and
``content-length``, in that order, nothing else. Anything else (another media type, a status
without a body, headers, cookies or background tasks, a HEAD request) is left to Litestar's way.
The headers the edge adds (request id, security headers, rate limits) come later, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from litestar import Response
from litestar.serialization import get_serializer

if TYPE_CHECKING:
    from litestar import Litestar, Request
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.datastructures import Cookie
    from litestar.response.base import ASGIResponse
    from litestar.types import Receive, Scope, Send, TypeEncodersMap

T = TypeVar("T")

_JSON = "application/json"
_JSON_HEADER = (b"content-type", _JSON.encode())
#: Statuses whose answers carry no body (Litestar's ASGIResponse sends neither header for them).
_NO_BODY = frozenset({204, 304})


class JsonAnswer:
    """An encoded JSON answer: its start message (status, content type, length), then its body."""

    __slots__ = ("body", "status_code")

    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.body
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": [_JSON_HEADER, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


class JsonResponse(Response[T]):
    """The gateway's response class (``Litestar(response_class=...)``): see the module docstring."""

    def to_asgi_response(  # type: ignore[override]
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse | JsonAnswer:
        status = self.status_code or status_code or 200
        if (
            (self.media_type or media_type or _JSON) == _JSON
            and status >= 200
            and status not in _NO_BODY
            and app is None
            and not (self.background or background or self.cookies or cookies or self.headers or headers)
            and encoded_headers is None
            and not is_head_response
            and not type_encoders
        ):
            body = self.render(self.content, _JSON, get_serializer(self.response_type_encoders))
            return JsonAnswer(status, body)
        return super().to_asgi_response(
            app,
            request,
            background=background,
            cookies=cookies,
            encoded_headers=encoded_headers,
            headers=headers,
            is_head_response=is_head_response,
            media_type=media_type,
            status_code=status_code,
            type_encoders=type_encoders,
        )


__all__ = ["JsonAnswer", "JsonResponse"]
