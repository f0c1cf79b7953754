"""Real Mastodon clients (Mastodon.py, toot) against real server processes, monolith and split.

``server`` starts a whole deployment once per topology for this package (granian processes from
``deployments/<topology>.toml`` through the e2e harness). ``Steps`` counts the client steps that
passed and prints one summary line per client and topology.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
import pytest

from tests.e2e.harness import Deployment, deployment, report
from tests.e2e.scenarios import PASSWORD

T = TypeVar("T")

TOPOLOGIES = ["monolith", "split"]


@pytest.fixture(scope="package", params=TOPOLOGIES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Every process of the topology, ready; torn down after this package's tests."""
    with deployment(request.param, tmp_path_factory.mktemp(f"mastodon-{request.param}")) as d:
        yield d


@dataclass
class NativeUser:
    """An account made through the native API, with a first-party token (read, write, follow)."""

    id: str
    handle: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Native:
    """The native REST API, for setting a scene the clients then observe."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=15)

    def user(self, prefix: str) -> NativeUser:
        handle = f"{prefix[:6]}{uuid.uuid4().hex[:9]}"  # unique across the package's tests
        r = self.client.post(
            "/api/auth/register",
            json={"handle": handle, "email": f"{handle}@example.org", "password": PASSWORD},
        )
        assert r.status_code == 201, r.text
        user_id = r.json()["profile"]["id"]
        r = self.client.post("/api/auth/login", json={"login": handle, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return NativeUser(user_id, handle, r.json()["access_token"])

    def follow(self, follower: NativeUser, followee: NativeUser) -> None:
        r = self.client.put(f"/api/users/me/following/{followee.id}", headers=follower.headers)
        assert r.status_code == 200, r.text

    def post(self, author: NativeUser, text: str) -> str:
        r = self.client.post("/api/tweets", json={"text": text}, headers=author.headers)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def delete(self, author: NativeUser, tweet_id: str) -> None:
        r = self.client.delete(f"/api/tweets/{tweet_id}", headers=author.headers)
        assert r.status_code == 204, r.text

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def native(server: Deployment) -> Iterator[Native]:
    api = Native(server.base_url)
    yield api
    api.close()


@dataclass
class Steps:
    """Named client steps: each must pass; the summary line says how many did, per client."""

    client: str
    topology: str
    request: pytest.FixtureRequest
    passed: list[str] = field(default_factory=list)

    def __call__(self, name: str, action: Callable[[], T]) -> T:
        try:
            result = action()
        except Exception as exc:
            raise AssertionError(f"{self.client} on {self.topology}: step {name!r} failed: {exc!r}") from exc
        self.passed.append(name)
        return result

    def summary(self, total: int) -> None:
        report(
            self.request,
            f"[mastodon clients] {self.client} on {self.topology}: {len(self.passed)}/{total} steps passed",
        )


@pytest.fixture
def steps(request: pytest.FixtureRequest, server: Deployment) -> Callable[[str], Steps]:
    def make(client: str) -> Steps:
        return Steps(client, server.name, request)

    return make


__all__ = ["Native", "NativeUser", "Steps"]
