"""Opaque page cursors: a small msgspec value, base64url-encoded."""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

import msgspec

from boundaries._kernel.errors import InvalidInput

T = TypeVar("T")


class InvalidCursorError(InvalidInput):
    code = "invalid-cursor"


def encode_cursor(value: Any) -> str:
    """Wrap a position (an id, a tuple) into an opaque cursor string."""
    return base64.urlsafe_b64encode(msgspec.json.encode(value)).rstrip(b"=").decode()


def decode_cursor(cursor: str, type_: type[T]) -> T:
    """Unwrap a cursor made by ``encode_cursor``; a bad one is an InvalidInput (422)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=type_)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidCursorError("the cursor is not one this API handed out", field="cursor") from exc
