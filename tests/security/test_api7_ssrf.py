"""OWASP API7:2023 Server Side Request Forgery.

The server fetches no URL a client gives it: tweets with links get no previews, media arrive as
uploaded bytes (never "fetch from URL"), and OAuth redirect URIs are only sent back to the
browser in a Location header. A listening socket proves no request reaches a URL we supply.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api


@pytest.fixture
def listener() -> Iterator[tuple[str, socket.socket]]:
    """A local TCP server nobody should ever connect to; yields its base URL."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.setblocking(False)
    yield f"http://127.0.0.1:{server.getsockname()[1]}", server
    server.close()


def connections(server: socket.socket, wait_s: float = 0.5) -> int:
    count = 0
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            conn, _ = server.accept()
            conn.close()
            count += 1
        except BlockingIOError:
            time.sleep(0.02)
    return count


def test_links_in_tweets_profiles_and_oauth_clients_are_never_fetched(
    client: TestClient[Litestar], api: Api, listener: tuple[str, socket.socket]
) -> None:
    base, server = listener
    alice, bob = api.user("alice"), api.user("bob")
    client.put(f"/api/users/me/following/{alice.id}", headers=bob.headers)
    for text in (f"look {base}/preview", f"{base}/a.png #pic @bob", f"https://{base[7:]}/x"):
        assert client.post("/api/tweets", json={"text": text}, headers=alice.headers).status_code == 201
    assert client.patch("/api/users/me", json={"bio": f"{base}/me"}, headers=alice.headers).status_code == 200
    app = client.post(
        "/api/oauth/clients", json={"name": "x", "redirect_uris": [f"{base}/cb"]}, headers=alice.headers
    )
    assert app.status_code == 201, app.text
    # Let consumers (timelines, notifications, analytics) process the events.
    api.eventually(lambda: len(client.get("/api/timeline/home", headers=bob.headers).json()["items"]) == 3, 3)
    assert connections(server) == 0


def test_no_request_body_takes_a_url_to_fetch(client: TestClient[Litestar]) -> None:
    """Only OAuth redirect URIs are URL-valued inputs, and those are redirected to, not fetched."""
    doc = client.get("/schema/openapi.json").json()
    url_like = re.compile(r"(url|uri|link|href|src|callback|webhook)", re.IGNORECASE)
    schemas = doc["components"]["schemas"]
    names: set[str] = set()
    seen: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.rsplit("/", 1)[1] not in seen:
                seen.add(ref.rsplit("/", 1)[1])
                walk(schemas[ref.rsplit("/", 1)[1]])
            if isinstance(node.get("properties"), dict):
                names.update(node["properties"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for item in doc["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                walk(operation.get("requestBody", {}))
                names.update(p["name"] for p in operation.get("parameters", []))
    assert {"text", "password", "redirect_uris"} <= names  # the walk reaches request bodies
    assert {n for n in names if url_like.search(n)} <= {"redirect_uris", "redirect_uri"}
