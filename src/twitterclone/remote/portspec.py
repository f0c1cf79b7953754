"""What a port looks like on the wire, derived from its typing.Protocol."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import cache
from typing import Any, get_type_hints

import msgspec

from boundaries._kernel import errors as kernel_errors
from boundaries._kernel.markers import is_idempotent, is_waiting


@dataclass(frozen=True)
class MethodSpec:
    """One port method: its argument Struct (the request body) and its return type."""

    name: str
    params: tuple[str, ...]
    args_type: type[msgspec.Struct]
    return_type: Any
    idempotent: bool
    #: A long poll (``boundaries._kernel.markers.waits``): bounded by the deadline, never hedged.
    waits: bool = False


@dataclass(frozen=True)
class PortSpec:
    """Every method of one port, by name."""

    module: str
    port: type[Any]
    methods: dict[str, MethodSpec]


@cache
def port_spec(module: str, port: type[Any]) -> PortSpec:
    """Read a port Protocol: public async methods, their parameters and return types."""
    methods: dict[str, MethodSpec] = {}
    for name, fn in inspect.getmembers(port, inspect.isfunction):
        if name.startswith("_"):
            continue
        hints = get_type_hints(fn)
        sig = inspect.signature(fn)
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        params: list[str] = []
        for pname, param in sig.parameters.items():
            if pname == "self":
                continue
            params.append(pname)
            if param.default is inspect.Parameter.empty:
                fields.append((pname, hints[pname]))
            else:
                fields.append((pname, hints[pname], param.default))
        # Unknown arguments are ignored: a newer caller may pass an optional one this version lacks.
        args_type = msgspec.defstruct(f"{port.__name__}.{name}.args", fields, kw_only=True)
        methods[name] = MethodSpec(
            name=name,
            params=tuple(params),
            args_type=args_type,
            return_type=hints.get("return", type(None)),
            idempotent=is_idempotent(fn),
            waits=is_waiting(fn),
        )
    return PortSpec(module=module, port=port, methods=methods)


class WireError(msgspec.Struct, frozen=True, kw_only=True):
    """A port error as it crosses the wire: which class, and its message."""

    error: str
    detail: str
    field: str | None = None


@cache
def error_classes() -> dict[str, type[kernel_errors.DomainError]]:
    """Every DomainError class of the contracts, by a stable wire name (``module.Class``)."""
    import boundaries.analytics.errors
    import boundaries.media.errors
    import boundaries.notifications.errors
    import boundaries.timeline.errors
    import boundaries.tweets.errors
    import boundaries.users.errors

    found: dict[str, type[kernel_errors.DomainError]] = {}
    for mod in (
        kernel_errors,
        boundaries.users.errors,
        boundaries.tweets.errors,
        boundaries.timeline.errors,
        boundaries.media.errors,
        boundaries.notifications.errors,
        boundaries.analytics.errors,
    ):
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, kernel_errors.DomainError):
                found[wire_name(obj)] = obj
    return found


def wire_name(cls: type[BaseException]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def to_wire(exc: kernel_errors.DomainError) -> WireError:
    return WireError(error=wire_name(type(exc)), detail=exc.detail, field=exc.field)


def from_wire(err: WireError, status: int) -> kernel_errors.DomainError:
    """Rebuild the same error class the local binding would have raised."""
    cls = error_classes().get(err.error)
    if cls is None:  # an error class this process does not know: keep the status kind
        cls = _by_status.get(status, kernel_errors.DomainError)
    return cls(err.detail, field=err.field)


_by_status: dict[int, type[kernel_errors.DomainError]] = {
    c.status: c
    for c in (
        kernel_errors.InvalidInput,
        kernel_errors.NotFound,
        kernel_errors.Conflict,
        kernel_errors.Forbidden,
        kernel_errors.Unauthorized,
        kernel_errors.PayloadTooLarge,
        kernel_errors.Unavailable,
    )
}
