"""The wire format of port calls: msgspec MessagePack bodies (bytes travel as bytes)."""

from __future__ import annotations

from typing import Any

import msgspec

CONTENT_TYPE = "application/msgpack"
PATH_PREFIX = "/_port"

_encoder = msgspec.msgpack.Encoder()


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def decode(data: bytes, type_: Any) -> Any:
    return msgspec.msgpack.decode(data, type=type_)


def call_path(module: str, method: str) -> str:
    return f"{PATH_PREFIX}/{module}/{method}"
