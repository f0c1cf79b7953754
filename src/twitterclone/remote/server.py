"""Serving a port over HTTP: one generic route for every method of every local port."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response, Router, post
from litestar.params import FromPath

from boundaries._kernel.errors import DomainError
from twitterclone.remote import wire
from twitterclone.remote.blame import failure_headers, serving_call
from twitterclone.remote.portspec import MethodSpec, PortSpec, WireError, to_wire

log = logging.getLogger("twitterclone.remote")


def _signature(method: MethodSpec) -> tuple[Any, ...]:
    """What a caller and the server must agree on: each argument (name, type, default), the result."""
    args = tuple((f.name, f.type, f.default) for f in msgspec.structs.fields(method.args_type))
    return args, method.return_type


class PortServer:
    """Dispatches ``POST /_port/<module>/<method>`` to local service objects.

    A module may be added with several ports (its port and narrower faces of it, all served by
    one service object): the module then answers the union of their methods. A method that two
    of them share must have the same parameters and return type, or the two clients would not
    mean the same call.
    """

    def __init__(self) -> None:
        self._methods: dict[str, dict[str, tuple[MethodSpec, Any]]] = {}

    def add(self, spec: PortSpec, service: Any) -> None:
        methods = self._methods.setdefault(spec.module, {})
        for name, method in spec.methods.items():
            known = methods.get(name)
            if known is None:
                methods[name] = (method, service)
                continue
            if known[1] is not service:
                raise ValueError(f"{spec.module}.{name} is already served by another object")
            if _signature(known[0]) != _signature(method):
                raise ValueError(f"{spec.port.__name__}.{name} differs from the {spec.module} port's {name}")

    @property
    def modules(self) -> list[str]:
        return sorted(self._methods)

    async def dispatch(self, module: str, method: str, body: bytes) -> tuple[int, bytes]:
        """Run one call; returns the HTTP status and the msgpack body."""
        methods = self._methods.get(module)
        if methods is None:
            return 404, wire.encode(WireError(error="unknown-module", detail=f"no port {module!r} here"))
        entry = methods.get(method)
        if entry is None:
            return 404, wire.encode(WireError(error="unknown-method", detail=f"{module} has no {method!r}"))
        m, service = entry
        try:
            args = wire.decode(body, m.args_type)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            err = WireError(error="boundaries._kernel.errors.InvalidInput", detail=f"bad arguments: {exc}")
            return 400, wire.encode(err)
        try:
            result = await getattr(service, method)(**{p: getattr(args, p) for p in m.params})
        except DomainError as exc:
            return exc.status, wire.encode(to_wire(exc))
        return 200, wire.encode(result)


def port_router(server: PortServer, guard: Any = None) -> Router:
    """The Litestar router that exposes ``server`` (kept out of the public OpenAPI document)."""

    @post(
        "/{module:str}/{method:str}",
        include_in_schema=False,
        status_code=200,
        operation_id="port_call",
        guards=[guard] if guard else None,
    )
    async def port_call(
        request: Request[Any, Any, Any], module: FromPath[str], method: FromPath[str]
    ) -> Response[bytes]:
        body = await request.body()
        with serving_call() as served:
            status, payload = await server.dispatch(module, method, body)
        return Response(
            payload,
            status_code=status,
            media_type=wire.CONTENT_TYPE,
            headers=failure_headers(status, served),
        )

    return Router(path=wire.PATH_PREFIX, route_handlers=[port_call])
