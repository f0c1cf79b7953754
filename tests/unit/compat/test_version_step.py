"""Two versions answer at once during a rolling upgrade: every contract tolerates one version step.

Driven from the contracts themselves, not a hand list: every Struct reachable from a port
Protocol's methods (their argument bodies and results, as the generic port client sends them) and
every event in ``boundaries/catalog.py``. For each one the test makes its *next version* (the same
Struct with one more optional field, as an expand step adds it) and proves both directions:

- a newer writer, an older reader: the added field is ignored;
- an older writer, a newer reader: the missing field takes its default.

A snapshot of every contract's fields (``contracts.json``) guards the changes themselves: a field
added since the snapshot must have a default, and no field of the snapshot may vanish or change
type, or the other version cannot read it. Refresh the snapshot once a release is everywhere:
``TWITTERCLONE_UPDATE_CONTRACTS=1 pytest tests/unit/compat``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import pkgutil
import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, get_origin

import msgspec
import pytest
from msgspec import inspect as mi

import boundaries
from boundaries.catalog import EVENT_TYPES
from twitterclone.infra.events import decode_event
from twitterclone.remote import wire
from twitterclone.remote.portspec import port_spec

SNAPSHOT = Path(__file__).with_name("contracts.json")
ADDED = "added_in_next_version"


def port_protocols() -> list[tuple[str, type[Any]]]:
    """Every Protocol defined in a ``boundaries.<module>.port*`` module."""
    found = []
    for info in pkgutil.walk_packages(boundaries.__path__, "boundaries."):
        if not info.name.rsplit(".", 1)[-1].startswith("port"):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if isinstance(obj, type) and getattr(obj, "_is_protocol", False) and obj.__module__ == info.name:
                found.append((info.name.split(".")[1], obj))
    return sorted(found, key=lambda p: (p[0], p[1].__name__))


def structs_in(tp: Any, into: dict[str, Any]) -> None:
    """Every Struct type reachable from ``tp`` (generic ones with their parameters), by name."""
    info = mi.type_info(tp)
    _walk(info, into)


def _walk(info: mi.Type, into: dict[str, Any]) -> None:
    if isinstance(info, mi.Metadata):
        _walk(info.type, into)
    elif isinstance(info, mi.StructType):
        key = _name(info)
        if key in into:
            return
        into[key] = info
        for field in info.fields:
            _walk(field.type, into)
    elif isinstance(info, mi.UnionType):
        for t in info.types:
            _walk(t, into)
    elif isinstance(info, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        _walk(info.item_type, into)
    elif isinstance(info, mi.TupleType):
        for t in info.item_types:
            _walk(t, into)
    elif isinstance(info, mi.DictType):
        _walk(info.key_type, into)
        _walk(info.value_type, into)


def _name(info: mi.StructType) -> str:
    cls = info.cls
    if isinstance(cls, type):
        return f"{cls.__module__}.{cls.__qualname__}"
    return repr(cls)  # a generic one with its parameters, e.g. Page[Tweet]


def _type_name(info: mi.Type) -> str:
    if isinstance(info, mi.Metadata):
        return _type_name(info.type)
    if isinstance(info, mi.StructType):
        return _name(info).rsplit(".", 1)[-1] if isinstance(info.cls, type) else repr(info.cls)
    if isinstance(info, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        return f"{type(info).__name__}[{_type_name(info.item_type)}]"
    if isinstance(info, mi.UnionType):
        return "|".join(_type_name(t) for t in info.types)
    return type(info).__name__


def port_contracts() -> dict[str, mi.StructType]:
    found: dict[str, mi.StructType] = {}
    for module, port in port_protocols():
        for method in port_spec(module, port).methods.values():
            structs_in(method.args_type, found)
            structs_in(method.return_type, found)
    return found


def event_contracts() -> dict[str, mi.StructType]:
    found: dict[str, mi.StructType] = {}
    for event in EVENT_TYPES:
        structs_in(event, found)
    return found


# -- values and next versions -------------------------------------------------------------------

_STRINGS = (
    "12345",
    "alice",
    "alice@example.org",
    "read",
    "S256",
    "code",
    "https://example.org/cb",
    "x" * 12,
    "en",
)


def sample(info: mi.Type, building: frozenset[Any] = frozenset()) -> Any:
    """A valid value of the type ``info`` describes, with every optional field filled in
    (except where that would nest a Struct in itself: a retweet of a retweet of ...)."""
    if isinstance(info, mi.Metadata):
        return sample(info.type, building)
    if isinstance(info, mi.StructType):
        inside = building | {info.cls}
        return info.cls(**{f.name: sample(f.type, inside) for f in info.fields})
    if isinstance(info, mi.UnionType):
        options = [t for t in info.types if not isinstance(t, mi.NoneType)]
        fresh = [t for t in options if not (isinstance(t, mi.StructType) and t.cls in building)]
        if not fresh:
            return None
        return sample(fresh[0], building)
    if isinstance(info, mi.ListType):
        return [sample(info.item_type, building)]
    if isinstance(info, mi.VarTupleType):
        return (sample(info.item_type, building),)
    if isinstance(info, mi.FrozenSetType):
        return frozenset([sample(info.item_type, building)])
    if isinstance(info, mi.SetType):
        return {sample(info.item_type, building)}
    if isinstance(info, mi.TupleType):
        return tuple(sample(t, building) for t in info.item_types)
    if isinstance(info, mi.DictType):
        return {sample(info.key_type, building): sample(info.value_type, building)}
    return _scalar(info)


def _scalar(info: mi.Type) -> Any:
    simple: dict[type[mi.Type], Any] = {
        mi.BoolType: True,
        mi.BytesType: b"\x01payload",
        mi.NoneType: None,
        mi.AnyType: 1,
        mi.DateTimeType: dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        mi.DateType: dt.date(2026, 1, 2),
        mi.UUIDType: uuid.UUID(int=1),
        mi.DecimalType: Decimal("1.5"),
    }
    if type(info) in simple:
        return simple[type(info)]
    if isinstance(info, mi.LiteralType):
        return info.values[0]
    if isinstance(info, mi.EnumType):
        return next(iter(info.cls))
    if isinstance(info, (mi.IntType, mi.FloatType)):
        value = 2 if isinstance(info, mi.IntType) else 2.0
        if info.ge is not None:
            value = max(value, info.ge)
        if info.gt is not None:
            value = max(value, info.gt + 1)
        if info.le is not None:
            value = min(value, info.le)
        if info.lt is not None:
            value = min(value, info.lt - 1)
        return value
    if isinstance(info, mi.StrType):
        choices = re.fullmatch(r"\^\(([\w|]+)\)\$", info.pattern or "")  # ^(a|b|c)$: a closed choice
        for text in (*_STRINGS, *(choices.group(1).split("|") if choices else ())):
            if info.pattern and not re.search(info.pattern, text):
                continue
            if (info.min_length or 0) <= len(text) <= (info.max_length or len(text)):
                return text
        raise AssertionError(f"no sample string fits {info}: add one to _STRINGS")
    raise AssertionError(f"no sample for {info}: teach sample() this type")


def next_version(info: mi.StructType) -> type[msgspec.Struct]:
    """The same Struct as the next version would declare it: one more field, optional."""
    origin = get_origin(info.cls) or info.cls
    config = origin.__struct_config__
    fields: list[Any] = []
    for f in msgspec.structs.fields(info.cls):  # a generic one's with its parameters filled in
        annotation = f.type
        if f.default is not msgspec.NODEFAULT:
            fields.append((f.name, annotation, f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, annotation, msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, annotation))
    fields.append((ADDED, int | None, None))
    return msgspec.defstruct(
        origin.__name__,
        fields,
        kw_only=True,
        frozen=config.frozen,
        tag=config.tag,
        tag_field=config.tag_field,
        forbid_unknown_fields=config.forbid_unknown_fields,
        array_like=config.array_like,
        omit_defaults=config.omit_defaults,
        rename={f.name: f.encode_name for f in info.fields},
    )


def as_fields(value: msgspec.Struct) -> dict[str, Any]:
    return {f: getattr(value, f) for f in value.__struct_fields__ if f != ADDED}


def two_versions(info: mi.StructType) -> tuple[Any, type[msgspec.Struct], Any]:
    """A value of this version, the next version's type, and the same value as the next version
    writes it (with the added field set)."""
    old = sample(info)
    new_type = next_version(info)
    return old, new_type, new_type(**as_fields(old), **{ADDED: 7})


# -- the tests ----------------------------------------------------------------------------------

PORTS = port_contracts()
EVENTS = event_contracts()


def test_the_contracts_are_found_from_the_ports_and_the_catalog() -> None:
    assert len(port_protocols()) >= 6
    assert len(PORTS) >= 20
    assert {e.__name__ for e in EVENT_TYPES} <= {k.rsplit(".", 1)[-1] for k in EVENTS}


@pytest.mark.parametrize("name", sorted(PORTS))
def test_port_contract_tolerates_one_version_step(name: str) -> None:
    info = PORTS[name]
    old, new_type, new = two_versions(info)
    # a newer caller (or service) writes, this version reads: the added field is ignored
    assert wire.decode(wire.encode(new), _declared(info)) == old
    # this version writes, a newer one reads: the missing field takes its default
    read = wire.decode(wire.encode(old), new_type)
    assert getattr(read, ADDED) is None
    assert as_fields(read) == as_fields(old)


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_event_tolerates_one_version_step(name: str) -> None:
    info = EVENTS[name]
    old, new_type, new = two_versions(info)
    payload = msgspec.json.encode(new)
    if info.cls in EVENT_TYPES:  # what a consumer really runs: the catalog's decoder
        assert decode_event(payload) == old
    assert msgspec.json.decode(payload, type=_declared(info)) == old
    read = msgspec.json.decode(msgspec.json.encode(old), type=new_type)
    assert getattr(read, ADDED) is None
    assert as_fields(read) == as_fields(old)


def _declared(info: mi.StructType) -> Any:
    return info.cls  # a class, or a generic one with its parameters (Page[Tweet])


def _config(info: mi.StructType) -> Any:
    return (get_origin(info.cls) or info.cls).__struct_config__


def test_an_old_reader_ignores_new_fields_even_where_the_public_api_forbids_them() -> None:
    strict = [n for n, i in PORTS.items() if _config(i).forbid_unknown_fields]
    assert strict, "no port contract forbids unknown fields: this test would prove nothing"
    for name in strict:
        info = PORTS[name]
        _, _, new = two_versions(info)
        with pytest.raises(msgspec.ValidationError):  # a plain decode refuses it...
            msgspec.msgpack.decode(wire.encode(new), type=_declared(info))
        assert wire.decode(wire.encode(new), _declared(info)) == sample(info)  # ...the wire takes it


# -- the snapshot ---------------------------------------------------------------------------------


def describe(contracts: dict[str, mi.StructType]) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        name: {f.encode_name: {"type": _type_name(f.type), "required": f.required} for f in info.fields}
        for name, info in sorted(contracts.items())
    }


def version_step_problems(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What in ``now`` the version described by ``before`` could not read, or not be read by."""
    problems = []
    for name, fields in before.items():
        if name not in now:
            continue  # a contract no port or event uses any more: nobody reads it
        for field, spec in fields.items():
            if field not in now[name]:
                problems.append(f"{name}.{field} was removed: the previous version still sends or needs it")
            elif now[name][field]["type"] != spec["type"]:
                problems.append(f"{name}.{field} changed type {spec['type']} -> {now[name][field]['type']}")
        for field, spec in now[name].items():
            if field not in fields and spec["required"]:
                problems.append(f"{name}.{field} is new and required: give it a default (expand first)")
    return problems


def test_changes_since_the_snapshot_keep_one_version_step() -> None:
    now = describe({**PORTS, **EVENTS})
    if os.environ.get("TWITTERCLONE_UPDATE_CONTRACTS"):
        SNAPSHOT.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    problems = version_step_problems(json.loads(SNAPSHOT.read_text()), now)
    assert not problems, "\n".join(problems) + "\n(see docs/upgrades.md)"


def test_the_snapshot_check_sees_each_breaking_change() -> None:
    before = {"T": {"a": {"type": "IntType", "required": True}, "b": {"type": "StrType", "required": False}}}
    assert version_step_problems(before, before) == []
    added_optional = {"T": {**before["T"], "c": {"type": "IntType", "required": False}}}
    assert version_step_problems(before, added_optional) == []
    assert (
        "T.c is new and required"
        in version_step_problems(before, {"T": {**before["T"], "c": {"type": "IntType", "required": True}}})[
            0
        ]
    )
    assert "T.b was removed" in version_step_problems(before, {"T": {"a": before["T"]["a"]}})[0]
    retyped = {"T": {**before["T"], "a": {"type": "StrType", "required": True}}}
    assert "T.a changed type IntType -> StrType" in version_step_problems(before, retyped)[0]
