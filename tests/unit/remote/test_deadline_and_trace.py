"""Deadlines and trace context: scopes, headers, middleware."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest

from twitterclone.remote.deadline import (
    DEADLINE_HEADER,
    current_deadline_ms,
    deadline_middleware,
    deadline_scope,
    now_ms,
    parse_deadline,
    remaining_s,
)
from twitterclone.remote.tracing import (
    child_traceparent,
    parse_traceparent,
    traceparent_middleware,
    traceparent_var,
)


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def _send(message: MutableMapping[str, Any]) -> None:
    pass


NO_IO = (_receive, _send)


def test_no_deadline_by_default() -> None:
    assert remaining_s() is None
    assert current_deadline_ms() is None


def test_scope_sets_and_restores() -> None:
    with deadline_scope(2.0) as deadline:
        assert deadline == current_deadline_ms()
        left = remaining_s()
        assert left is not None
        assert 1.9 < left <= 2.0
    assert current_deadline_ms() is None


def test_an_inner_scope_cannot_extend_the_inherited_deadline() -> None:
    with deadline_scope(0.5) as outer, deadline_scope(10.0) as inner:
        assert inner == outer
    with deadline_scope(10.0) as outer, deadline_scope(0.5) as inner:
        assert inner < outer


def test_expired_deadline_has_no_time_left() -> None:
    with deadline_scope(-1):
        left = remaining_s()
        assert left is not None
        assert left <= 0


@pytest.mark.parametrize("bad", ["", "soon", "-5", "0", "1.5", None])
def test_malformed_header_values_are_ignored(bad: str | None) -> None:
    assert parse_deadline(bad) is None


async def test_middleware_sets_the_deadline_from_the_header_for_the_request_only() -> None:
    seen: list[int | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(current_deadline_ms())

    wrapped = deadline_middleware(app)
    deadline = now_ms() + 1234
    await wrapped({"type": "http", "headers": [(DEADLINE_HEADER.encode(), str(deadline).encode())]}, *NO_IO)
    await wrapped({"type": "http", "headers": []}, *NO_IO)
    assert seen == [deadline, None]
    assert current_deadline_ms() is None


def test_traceparent_parse_and_child() -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    child = child_traceparent(parent)
    parsed_child, parsed_parent = parse_traceparent(child), parse_traceparent(parent)
    assert parsed_child is not None
    assert parsed_parent is not None
    assert parsed_child.trace_id == parsed_parent.trace_id
    assert parsed_child.parent_id != parsed_parent.parent_id
    assert parsed_child.flags == "01"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero span id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
    ],
)
def test_invalid_traceparent_is_ignored_and_a_new_trace_started(bad: str) -> None:
    assert parse_traceparent(bad) is None
    fresh = parse_traceparent(child_traceparent(bad))
    assert fresh is not None


async def test_trace_middleware_keeps_the_incoming_traceparent() -> None:
    seen: list[str | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(traceparent_var.get())

    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    await traceparent_middleware(app)(
        {"type": "http", "headers": [(b"traceparent", parent.encode())]}, *NO_IO
    )
    assert seen == [parent]
    assert traceparent_var.get() is None
