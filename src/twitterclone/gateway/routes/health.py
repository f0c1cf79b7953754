"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get

from twitterclone.gateway.problems import answer
from twitterclone.migrate import is_at_head


class Health(msgspec.Struct, frozen=True, kw_only=True):
    """Whether this process can serve, and what is not ready when it cannot."""

    status: str
    checks: dict[str, str] = {}


class HealthController(Controller):
    path = ""
    tags = ["health"]
    include_in_schema = True

    @get("/livez", operation_id="livez", summary="The process is alive (no downstream calls)")
    async def livez(self) -> Health:
        return Health(status="ok")

    @get(
        "/readyz",
        operation_id="readyz",
        summary="Stores reachable and migrated; ready for traffic",
        responses=answer(503, Health, "Not ready: the checks say which store is unreachable or not migrated"),
    )
    async def readyz(self, request: Request[Any, Any, Any]) -> Response[Health]:
        runtime = request.app.state.runtime
        checks: dict[str, str] = {}
        for name in runtime.local_modules:
            store = runtime.kernel.store(name)
            try:
                checks[name] = "ok" if await is_at_head(store) else "migrations pending"
            except Exception as exc:  # a store that cannot answer is simply not ready
                checks[name] = f"unreachable: {type(exc).__name__}"
        lease = runtime.kernel.worker_lease
        if lease is not None:
            checks["worker_id"] = "ok" if lease.held else "no worker id lease held"
        ready = all(v == "ok" for v in checks.values())
        return Response(
            Health(status="ok" if ready else "unavailable", checks=checks), status_code=200 if ready else 503
        )
