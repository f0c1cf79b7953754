"""The OpenAPI document and the docs page: complete, and usable with no internet access."""

from typing import Any

import pytest
from litestar import Litestar, get
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from boundaries.tweets.errors import TweetNotFound
from boundaries.users.errors import NotAdmin, UserNotFound
from twitterclone.gateway.problems import document_errors, errors, refuses


def test_openapi_document_lists_every_route_group_with_operation_ids(client: TestClient[Litestar]) -> None:
    r = client.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    doc = r.json()
    paths = doc["paths"]
    for path in [
        "/api/auth/register",
        "/api/users/me",
        "/api/tweets",
        "/api/timeline/home",
        "/api/media",
        "/api/notifications",
        "/api/trends",
        "/.well-known/jwks.json",
    ]:
        assert path in paths, path
    operation_ids = [
        op["operationId"] for item in paths.values() for op in item.values() if "operationId" in op
    ]
    assert len(operation_ids) == len(set(operation_ids)), "operation ids must be unique"
    assert not [p for p in paths if p.startswith("/_port")], "internal port routes stay out of the public API"


def test_docs_page_loads_its_assets_locally(client: TestClient[Litestar]) -> None:
    page = client.get("/schema")
    assert page.status_code == 200
    assert "cdn." not in page.text
    assert "unpkg" not in page.text
    for asset in [
        "/schema/assets/swagger-ui-bundle.js",
        "/schema/assets/swagger-ui.css",
        "/schema/assets/swagger-init.js",
    ]:
        assert asset in page.text
        assert client.get(asset).status_code == 200


def test_unknown_route_is_a_problem_with_request_id(client: TestClient[Litestar]) -> None:
    r = client.get("/api/nothing-here", headers={"x-request-id": "test-req-1"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["x-request-id"] == "test-req-1"
    assert r.json()["request_id"] == "test-req-1"


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "responses" in op
    ]


def test_every_operation_lists_its_error_answers(client: TestClient[Litestar]) -> None:
    """Derived per route (problems.document_errors): what fuzzing's status check relies on."""
    doc = client.get("/schema/openapi.json").json()
    problem = {"$ref": "#/components/schemas/Problem"}
    mastodon_error = {"$ref": "#/components/schemas/Error"}
    for method, path, op in operations(doc):
        label = f"{method} {path}"
        responses = op["responses"]
        takes_input = bool(op.get("parameters") or op.get("requestBody"))
        if path.startswith(("/api/v1/", "/api/v2/")):
            # The Mastodon routes answer Mastodon's {"error"}, with 422 for every input error.
            assert "400" not in responses, label
            if takes_input:
                assert "422" in responses, label
            assert "429" in responses, label
            if op.get("security"):
                assert {"401", "403"} <= set(responses), label
            for status, response in responses.items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == mastodon_error, (
                        label,
                        status,
                    )
            continue
        assert ("400" in responses) == takes_input, label
        limited = path.startswith(("/api/", "/oauth/"))
        assert ("429" in responses) == limited, label
        if op.get("security"):
            assert {"401", "403"} <= set(responses), label
        if "requestBody" in op and path != "/api/media":
            assert "413" in responses, label
        for status, response in responses.items():
            if int(status) < 400 or (path.startswith("/oauth/") and status in {"400", "401", "403"}):
                continue  # the OAuth endpoints answer RFC 6749 bodies or pages for these
            if path == "/readyz":
                continue  # 503 carries the health checks
            assert response["content"]["application/problem+json"]["schema"] == problem, (label, status)
            assert "/problems/" in response["description"], (label, status)


def test_route_specific_answers_are_listed(client: TestClient[Litestar]) -> None:
    doc = client.get("/schema/openapi.json").json()
    by_id = {op["operationId"]: op["responses"] for _, _, op in operations(doc)}
    expected = {
        "register": {"409", "422"},
        "login": {"401", "403"},
        "getUser": {"404"},
        "follow": {"403", "404", "422"},
        "postTweet": {"404", "409", "422"},
        "deleteTweet": {"403", "404"},
        "getMediaContent": {"304", "404"},
        "adminRetireSigningKey": {"404", "409"},
        "listOAuthClients": {"401", "403"},
        "deleteOAuthClient": {"404"},
        "oauthToken": {"400", "401"},
        "oauthAuthorizePage": {"302", "400"},
        "readyz": {"503"},
    }
    for operation_id, statuses in expected.items():
        assert statuses <= set(by_id[operation_id]), operation_id
    assert "handle-taken" in by_id["register"]["409"]["description"]
    assert by_id["oauthToken"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OAuthErrorBody"
    }
    # And nothing that cannot happen: no 404 where nothing is looked up, no 409 without a conflict.
    assert "404" not in by_id["listNotifications"]
    assert "409" not in by_id["getUser"]
    assert not {"400", "401", "403", "429"} & set(by_id["getJwks"])


def test_a_guard_that_does_not_say_what_it_refuses_stops_the_build() -> None:
    async def mystery(connection: Any, handler: Any) -> None:
        return None

    @get("/x", guards=[mystery])
    async def handler() -> str:
        return "x"

    with pytest.raises(TypeError, match="refuses"):
        document_errors(Litestar(route_handlers=[handler]))

    @get("/y", guards=[refuses(NotAdmin)(mystery)], responses=errors(UserNotFound, TweetNotFound))
    async def declared() -> str:
        return "y"

    app = Litestar(route_handlers=[declared])
    document_errors(app, rate_limited=("/y",))
    registered = next(
        h for r in app.routes if isinstance(r, HTTPRoute) for h in r.route_handlers if "GET" in h.http_methods
    )
    responses = registered.responses or {}
    assert sorted(responses) == [403, 404, 429]
    described = responses[404].description
    assert "/problems/user-not-found" in described
    assert "/problems/tweet-not-found" in described
