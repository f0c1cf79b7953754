"""The wire format of port calls: msgspec MessagePack bodies (bytes travel as bytes).

During a rolling upgrade two versions answer at once, so a body may carry a field this version
does not know yet (a newer caller's optional argument, a newer service's added result field). It is
ignored, even where a contract Struct forbids unknown fields for the public API: that rule is
there to catch typos in hand-written JSON, not to refuse the next version.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec
from msgspec import inspect as mi

CONTENT_TYPE = "application/msgpack"
PATH_PREFIX = "/_port"

_encoder = msgspec.msgpack.Encoder()


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


@cache
def _decoder(type_: Any) -> msgspec.msgpack.Decoder[Any]:
    # ``msgspec.msgpack.decode(data, type=...)`` works out how to decode a generic type
    # (``list[Tweet]``) again on every call; a Decoder does it once.
    return msgspec.msgpack.Decoder(type_)


def decode(data: bytes, type_: Any) -> Any:
    """Decode ``data`` as ``type_``, ignoring fields a newer version added."""
    try:
        return _decoder(type_).decode(data)
    except msgspec.ValidationError as exc:
        if not str(exc).startswith("Object contains unknown field"):
            raise
    # The slow path, taken only by a message from a newer version: drop what this one doesn't know.
    raw = msgspec.msgpack.decode(data)
    return msgspec.convert(known_fields_only(raw, _info(type_)), type_)


def call_path(module: str, method: str) -> str:
    return f"{PATH_PREFIX}/{module}/{method}"


@cache
def _info(type_: Any) -> mi.Type:
    return mi.type_info(type_)


def known_fields_only(raw: Any, info: mi.Type) -> Any:
    """``raw`` (decoded without a type) without the object keys ``info`` has no field for."""
    if isinstance(info, mi.StructType) and isinstance(raw, dict):
        fields = {f.encode_name: f for f in info.fields}
        kept: dict[Any, Any] = {}
        for key, value in raw.items():
            if key == info.tag_field:
                kept[key] = value
            elif key in fields:
                kept[key] = known_fields_only(value, fields[key].type)
        return kept
    if isinstance(info, mi.UnionType):
        return _in_union(raw, info)
    sequences = (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)
    if isinstance(info, sequences) and isinstance(raw, list):
        return [known_fields_only(item, info.item_type) for item in raw]
    if isinstance(info, mi.TupleType) and isinstance(raw, list):
        return [known_fields_only(item, t) for item, t in zip(raw, info.item_types, strict=False)]
    if isinstance(info, mi.DictType) and isinstance(raw, dict):
        return {k: known_fields_only(v, info.value_type) for k, v in raw.items()}
    return raw


def _in_union(raw: Any, info: mi.UnionType) -> Any:
    if not isinstance(raw, dict):
        return raw
    structs = [t for t in info.types if isinstance(t, mi.StructType)]
    for struct in structs:  # a tagged union: the member whose tag the object carries
        if struct.tag_field is not None and raw.get(struct.tag_field) == struct.tag:
            return known_fields_only(raw, struct)
    if len(structs) == 1:
        return known_fields_only(raw, structs[0])
    for other in info.types:
        if isinstance(other, mi.DictType):
            return known_fields_only(raw, other)
    return raw
