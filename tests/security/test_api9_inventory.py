"""OWASP API9:2023 Improper Inventory Management.

The OpenAPI document lists every public route (each with an operation id, tags and — when it
needs a token — a security requirement); the only routes left out are the docs, their assets,
the metrics and the web client's pages (HTML, not API; handlers named ``web-*``). The monolith
exposes no internal port routes (``/_port``) at all.
"""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.testing import TestClient

from tests.conftest import Api

UNDOCUMENTED_PREFIXES = ("/schema", "/metrics", "/ops/assets")


def routed_operations(app: Litestar) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler):
                continue
            if str(handler.name or "").startswith("web-"):
                continue  # the web client's HTML pages: not API, listed in the README's route table
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            for method in handler.http_methods:
                if method not in {"HEAD", "OPTIONS"}:
                    found.add((method, path))
    return found


def documented_operations(client: TestClient[Litestar]) -> dict[tuple[str, str], dict[str, object]]:
    doc = client.get("/schema/openapi.json").json()
    return {
        (method.upper(), path): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_every_public_route_is_documented(client: TestClient[Litestar]) -> None:
    routed = routed_operations(client.app)
    documented = documented_operations(client)
    undocumented = {(m, p) for (m, p) in routed - set(documented) if not p.startswith(UNDOCUMENTED_PREFIXES)}
    assert undocumented == set()
    assert set(documented) <= routed  # nothing documented that does not exist
    assert len(documented) > 40


def test_every_operation_is_named_tagged_and_says_when_it_needs_a_token(
    client: TestClient[Litestar], api: Api
) -> None:
    documented = {k: v for k, v in documented_operations(client).items() if not k[1].startswith("/metrics")}
    ids = [op.get("operationId") for op in documented.values()]
    assert all(ids)
    assert len(ids) == len(set(ids))
    assert all(op.get("tags") for op in documented.values())
    # A route that answers 401 without a token must say so in the document.
    user = api.user("inventory")
    for (method, path), op in documented.items():
        # Streams never end (a GET would block the run); /api/v1/streaming/health answers and stays.
        never_ends = path.endswith("/stream") or ("/streaming/" in path and not path.endswith("/health"))
        if method != "GET" or "{" in path or path.startswith("/oauth") or never_ends:
            continue
        anonymous = client.get(path)
        if anonymous.status_code == 401:
            assert op.get("security"), path
            assert client.get(path, headers=user.headers).status_code != 401, path


def test_no_internal_routes_are_public(client: TestClient[Litestar], api: Api) -> None:
    user = api.user("inventory")
    paths = {p for _, p in routed_operations(client.app)}
    assert not [p for p in paths if p.startswith(("/_port", "/internal", "/debug", "/admin"))]
    for path in (
        "/_port/users/jwks",
        "/_port/users/suspend",
        "/internal/users",
        "/debug",
        "/api/v0/users/me",
    ):
        assert client.post(path, json={}, headers=user.headers).status_code in {404, 405}
    doc = client.get("/schema/openapi.json").json()
    assert not [p for p in doc["paths"] if p.startswith("/_port")]
