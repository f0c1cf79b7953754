"""The gateway's response class answers exactly what Litestar's own ``Response`` answers.

``JsonResponse`` (gateway/responses.py) sends a handler's JSON data without Litestar's
``ASGIResponse``; anything else it leaves to Litestar. Twin apps, one with each response class,
answer the same requests here, and every answer must match: status, every header in order, body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from litestar import Litestar, MediaType, Response, delete, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import Cookie, ResponseHeader
from litestar.exceptions import NotFoundException
from litestar.testing import TestClient

from twitterclone.gateway.responses import JsonAnswer, JsonResponse


class Item(msgspec.Struct):
    id: str
    at: datetime
    tags: list[str]
    note: str | None = None


ITEM = Item(id="1", at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), tags=["é", "x"], note="ünï ✓")


RAN: list[str] = []


def _handlers() -> list[Any]:
    """Fresh handlers for each app: Litestar keeps what it resolves (the response class) on them."""

    @get("/struct", sync_to_thread=False)
    def a_struct() -> Item:
        return ITEM

    @get("/list", sync_to_thread=False)
    def a_list() -> list[Item]:
        return [ITEM, ITEM]

    @get("/dict", sync_to_thread=False)
    def a_dict() -> dict[str, Any]:
        return {"a": 1, "b": [None, True, 2.5]}

    @post("/created", sync_to_thread=False)
    def created() -> Item:
        return ITEM

    @get("/none", sync_to_thread=False)
    def nothing() -> None:
        return None

    @delete("/gone", sync_to_thread=False)
    def gone() -> None:
        return None

    @get("/text", media_type=MediaType.TEXT, sync_to_thread=False)
    def text() -> str:
        return "plain words"

    @get("/html", media_type=MediaType.HTML, sync_to_thread=False)
    def html() -> str:
        return "<p>hi</p>"

    @get("/other-json", media_type="application/problem+json", sync_to_thread=False)
    def other_json() -> dict[str, str]:
        return {"type": "about:blank"}

    @get("/headers", response_headers=[ResponseHeader(name="x-extra", value="1")], sync_to_thread=False)
    def with_headers() -> dict[str, int]:
        return {"a": 1}

    @get("/cookies", response_cookies=[Cookie(key="c", value="v")], sync_to_thread=False)
    def with_cookies() -> dict[str, int]:
        return {"a": 1}

    @get("/background", background=BackgroundTask(RAN.append, "ran"), sync_to_thread=False)
    def with_background() -> dict[str, int]:
        return {"a": 1}

    @get("/response", sync_to_thread=False)
    def a_response() -> Response[dict[str, int]]:
        return Response({"a": 1}, status_code=202, headers={"x-own": "yes"})

    @get("/bytes", sync_to_thread=False)
    def some_bytes() -> bytes:
        return b"raw"

    @get("/missing", sync_to_thread=False)
    def missing() -> dict[str, int]:
        raise NotFoundException("no such thing")

    return [
        a_struct,
        a_list,
        a_dict,
        created,
        nothing,
        gone,
        text,
        html,
        other_json,
        with_headers,
        with_cookies,
        with_background,
        a_response,
        some_bytes,
        missing,
    ]


REQUESTS = [
    ("GET", "/struct"),
    ("GET", "/list"),
    ("GET", "/dict"),
    ("POST", "/created"),
    ("GET", "/none"),
    ("DELETE", "/gone"),
    ("GET", "/text"),
    ("GET", "/html"),
    ("GET", "/other-json"),
    ("GET", "/headers"),
    ("GET", "/cookies"),
    ("GET", "/background"),
    ("GET", "/response"),
    ("GET", "/bytes"),
    ("GET", "/missing"),
    ("HEAD", "/struct"),
    ("OPTIONS", "/struct"),
]


def _answer(app: Litestar, method: str, path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    with TestClient(app) as client:
        response = client.request(method, path)
        return response.status_code, list(response.headers.raw), response.content


@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_answers_what_litestar_answers(method: str, path: str) -> None:
    litestars = Litestar(route_handlers=_handlers(), debug=False)
    ours = Litestar(route_handlers=_handlers(), debug=False, response_class=JsonResponse)
    assert _answer(ours, method, path) == _answer(litestars, method, path)


def test_background_tasks_still_run() -> None:
    RAN.clear()
    app = Litestar(route_handlers=_handlers(), debug=False, response_class=JsonResponse)
    _answer(app, "GET", "/background")
    assert RAN == ["ran"]


def test_plain_json_data_takes_the_short_way() -> None:
    answer = JsonResponse(ITEM, status_code=201).to_asgi_response(None, None)  # type: ignore[arg-type]
    assert isinstance(answer, JsonAnswer)
    assert answer.status_code == 201
    assert answer.body == msgspec.json.encode(ITEM)
