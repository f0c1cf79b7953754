"""Opaque page cursors: a small msgspec value, base64url-encoded.

A cursor comes back from the client, so it is input like any other: one that does not decode
to the expected type, or holds a number outside the id space (negative, or past 2^63 - 1,
which no BIGINT column can compare with), is refused with a 400 ``invalid-cursor`` problem
here, in the one decoder every module uses, before any query sees it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

import msgspec

from boundaries._kernel.errors import InvalidCursor
from boundaries._kernel.ids import MAX_ID

T = TypeVar("T")

#: The error a bad cursor raises (kept under its old name for callers that catch it).
InvalidCursorError = InvalidCursor


def encode_cursor(value: Any) -> str:
    """Wrap a position (an id, a tuple) into an opaque cursor string."""
    return base64.urlsafe_b64encode(msgspec.json.encode(value)).rstrip(b"=").decode()


def decode_cursor(cursor: str, type_: type[T]) -> T:
    """Unwrap a cursor made by ``encode_cursor``; a bad or out-of-range one is InvalidCursor (400)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = msgspec.json.decode(raw, type=type_)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidCursor("the cursor is not one this API handed out", field="cursor") from exc
    if not _in_id_range(value):
        raise InvalidCursor("the cursor is not one this API handed out", field="cursor")
    return value


def _in_id_range(value: object) -> bool:
    """Every number in a position is an id or a count: 0..2^63-1."""
    if isinstance(value, int):
        return 0 <= value <= MAX_ID
    if isinstance(value, tuple | list):
        return all(_in_id_range(item) for item in value)
    return True
