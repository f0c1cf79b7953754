"""Calling a port over HTTP: an object that implements the Protocol, built from its spec."""

from __future__ import annotations

import inspect
from typing import Any, Protocol, TypeVar

import msgspec

from boundaries._kernel.errors import Unavailable
from twitterclone.remote import wire
from twitterclone.remote.blame import note_downstream_failure
from twitterclone.remote.portspec import MethodSpec, WireError, from_wire, port_spec

P = TypeVar("P")


class Transport(Protocol):
    """Carries one encoded call to some instance of ``module`` and returns (status, body)."""

    async def call(
        self, module: str, method: str, body: bytes, *, idempotent: bool, waits: bool = False
    ) -> tuple[int, bytes]: ...


def remote_port(module: str, port: type[P], transport: Transport) -> P:
    """An implementation of ``port`` whose every method is a call through ``transport``."""
    spec = port_spec(module, port)  # type: ignore[arg-type]
    namespace: dict[str, Any] = {"__doc__": f"{port.__name__} reached over HTTP ({module})."}
    for m in spec.methods.values():
        namespace[m.name] = _remote_method(module, m, transport, getattr(port, m.name))
    cls = type(f"Remote{port.__name__}", (), namespace)
    return cls()  # type: ignore[no-any-return]


def _remote_method(module: str, m: MethodSpec, transport: Transport, proto_fn: Any) -> Any:
    signature = inspect.signature(proto_fn)
    params = tuple(m.params)
    args_type = m.args_type

    def arguments(self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not kwargs and len(args) == len(params):  # every argument given by position: no binding
            return args_type(**dict(zip(params, args, strict=True)))
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        return args_type(**{p: bound.arguments[p] for p in params})

    async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        body = wire.encode(arguments(self, args, kwargs))
        try:
            status, payload = await transport.call(
                module, m.name, body, idempotent=m.idempotent, waits=m.waits
            )
        except Unavailable:
            note_downstream_failure()  # if we are serving a call: this failure is not ours
            raise
        if status == 200:
            return wire.decode(payload, m.return_type)
        if status >= 500:
            note_downstream_failure()
        try:
            err = wire.decode(payload, WireError)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise Unavailable(f"{module}.{m.name} failed with HTTP {status}") from None
        raise from_wire(err, status)

    call.__name__ = m.name
    call.__doc__ = proto_fn.__doc__
    return call
