"""The gateway's edge: one pass over a response's headers, what it keeps and what it replaces."""

from __future__ import annotations

from typing import Any

import pytest

from twitterclone.gateway.admission import _has_body
from twitterclone.gateway.middleware import gateway_edge_middleware
from twitterclone.logs import request_id_var, traceparent_var

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _scope(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "headers": headers or [],
    }


async def _answer(
    path: str,
    handler_headers: list[tuple[bytes, bytes]],
    request_headers: list[tuple[bytes, bytes]] | None = None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> tuple[dict[str, Any], list[tuple[bytes, bytes]], dict[str, Any]]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["path"] = scope["path"]
        seen["trace"] = traceparent_var.get()
        seen["request_id"] = request_id_var.get()
        await send({"type": "http.response.start", "status": 200, "headers": list(handler_headers)})
        await send({"type": "http.response.body", "body": b"{}"})

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    edge = gateway_edge_middleware(app, response_headers=[lambda scope: extra or []])
    scope = _scope(path, request_headers)
    await edge(scope, receive, send)
    return sent[0], sent[0]["headers"], seen


async def test_security_headers_are_added_but_a_handlers_own_are_kept() -> None:
    _, headers, _ = await _answer(
        "/oauth/authorize", [(b"content-type", b"text/html"), (b"x-frame-options", b"SAMEORIGIN")]
    )
    assert headers.count((b"x-frame-options", b"SAMEORIGIN")) == 1
    assert (b"x-frame-options", b"DENY") not in headers
    assert (b"x-content-type-options", b"nosniff") in headers
    assert (b"referrer-policy", b"no-referrer") in headers
    assert not any(name == b"content-security-policy" for name, _ in headers)


async def test_the_docs_get_their_policy_by_path_unless_the_handler_set_one() -> None:
    _, headers, _ = await _answer("/schema/swagger", [])
    assert any(name == b"content-security-policy" for name, _ in headers)
    _, headers, _ = await _answer("/schema", [(b"content-security-policy", b"default-src 'none'")])
    assert [v for n, v in headers if n == b"content-security-policy"] == [b"default-src 'none'"]


async def test_request_id_and_inner_layers_headers_replace_any_the_handler_set() -> None:
    _, headers, seen = await _answer(
        "/api/x",
        [(b"X-Request-ID", b"handler"), (b"ratelimit-remaining", b"99")],
        request_headers=[(b"x-request-id", b"client-id-1"), (b"traceparent", TRACE.encode())],
        extra=[(b"ratelimit-remaining", b"3")],
    )
    assert [v for n, v in headers if n.lower() == b"x-request-id"] == [b"client-id-1"]
    assert [v for n, v in headers if n == b"ratelimit-remaining"] == [b"3"]
    assert seen["trace"] == TRACE
    assert seen["request_id"] == "client-id-1"


async def test_a_bad_request_id_or_trace_is_replaced_by_fresh_ones_and_the_path_made_canonical() -> None:
    _, headers, seen = await _answer(
        "//api//x/", [], request_headers=[(b"x-request-id", b"bad id!"), (b"traceparent", b"00-zz")]
    )
    rid = dict(headers)[b"x-request-id"].decode()
    assert rid != "bad id!"
    assert len(rid) == 16
    assert seen["request_id"] == rid
    version, trace_id, parent_id, flags = seen["trace"].split("-")
    assert (version, len(trace_id), len(parent_id), flags) == ("00", 32, 16, "01")
    assert seen["path"] == "/api/x"


@pytest.mark.parametrize(
    ("version", "headers", "expected"),
    [
        ("1.1", [], False),
        ("1.1", [(b"content-length", b"0")], False),
        ("1.1", [(b"content-length", b"12")], True),
        ("1.1", [(b"transfer-encoding", b"chunked")], True),
        ("2", [], True),  # an HTTP/2 body needs no header
    ],
)
def test_only_a_request_that_may_carry_a_body_has_it_read_first(
    version: str, headers: list[tuple[bytes, bytes]], expected: bool
) -> None:
    assert _has_body({**_scope("/api/x", headers), "http_version": version}) is expected
