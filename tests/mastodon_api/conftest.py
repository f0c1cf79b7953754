"""Fixtures for the Mastodon API tests: users with tokens, and helpers that speak Mastodon."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api, User


class Masto:
    """A Mastodon-speaking client over the test client: statuses, follows, pages."""

    def __init__(self, client: TestClient[Litestar], api: Api) -> None:
        self.client = client
        self.api = api

    def user(self, handle: str) -> User:
        return self.api.user(handle)

    def post(self, user: User, status: str, **fields: Any) -> dict[str, Any]:
        r = self.client.post("/api/v1/statuses", json={"status": status, **fields}, headers=user.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def follow(self, follower: User, followee: User) -> dict[str, Any]:
        r = self.client.post(f"/api/v1/accounts/{followee.id}/follow", headers=follower.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def get(self, path: str, user: User | None = None, **params: Any) -> Any:
        r = self.client.get(path, params=params, headers=user.headers if user else {})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        return r.json()


def next_link(response: Any) -> str | None:
    """The URL of rel="next" in a Link header (which must list it first), or None."""
    header = response.headers.get("link")
    if not header:
        return None
    first = header.split(",")[0]
    if 'rel="next"' not in first:
        assert 'rel="next"' not in header, "rel=next must come first"
        return None
    return first.split(";")[0].strip().strip("<>")


@pytest.fixture
def masto(client: TestClient[Litestar], api: Api) -> Masto:
    return Masto(client, api)
