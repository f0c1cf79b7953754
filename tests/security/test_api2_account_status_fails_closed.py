"""The gateway's account-status check fails closed when users cannot answer (docs/fallbacks.md).

Every authenticated request asks users whether its token's account may still act (not
suspended, token not revoked), trusting an answer for ``access_status_cache_s``. When users
cannot answer, the decision is a fast 503 with ``Retry-After`` — even for a route that needs
nothing else from users — never the last known status: a suspension must hold while users is
down. Anonymous requests are not affected.
"""

from __future__ import annotations

import time

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from boundaries._kernel.errors import Unavailable
from modules.users.service import UsersService
from tests.conftest import Api


def test_users_down_fails_authenticated_requests_fast_and_closed(
    client: TestClient[Litestar], api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    eve = api.user("eve")
    assert client.get("/api/timeline/home", headers=eve.headers).status_code == 200

    asked: list[str] = []

    async def users_down(self: UsersService, subject: str, token_id: str | None) -> bool:
        asked.append(subject)
        raise Unavailable("users did not answer")

    monkeypatch.setattr(UsersService, "token_active", users_down)
    time.sleep(1.1)  # past the status cache (1 s): the gateway has to ask again
    started = time.monotonic()
    r = client.get("/api/timeline/home", headers=eve.headers)
    assert time.monotonic() - started < 2.0
    assert r.status_code == 503, r.text
    assert r.json()["type"] == "/problems/service-unavailable"
    assert r.headers["retry-after"] == "1"
    assert asked == [eve.id]
    # Not the stale "active" either on a write.
    r = client.post("/api/tweets", json={"text": "while users is down"}, headers=eve.headers)
    assert r.status_code == 503, r.text
    # Anonymous reads do not ask users about a token.
    assert client.get("/livez").status_code == 200

    monkeypatch.undo()
    assert client.get("/api/timeline/home", headers=eve.headers).status_code == 200
