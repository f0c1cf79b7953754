"""Transports for port calls. ``AppTransport`` calls an ASGI app in-process (forced RPC in tests)."""

from __future__ import annotations

from typing import Any

import httpx

from twitterclone.remote import wire


class AppTransport:
    """Every call goes through HTTP encoding and an ASGI app, without a socket."""

    def __init__(self, app: Any, headers: dict[str, str] | None = None) -> None:
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://port")
        self._headers = {"content-type": wire.CONTENT_TYPE, **(headers or {})}

    async def call(
        self, module: str, method: str, body: bytes, *, idempotent: bool, waits: bool = False
    ) -> tuple[int, bytes]:
        r = await self._client.post(wire.call_path(module, method), content=body, headers=self._headers)
        return r.status_code, r.content

    async def aclose(self) -> None:
        await self._client.aclose()
