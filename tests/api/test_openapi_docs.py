"""The OpenAPI document and the docs page: complete, and usable with no internet access."""

from litestar import Litestar
from litestar.testing import TestClient


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
    for asset in ["/schema/assets/swagger-ui-bundle.js", "/schema/assets/swagger-ui.css"]:
        assert asset in page.text
        assert client.get(asset).status_code == 200


def test_unknown_route_is_a_problem_with_request_id(client: TestClient[Litestar]) -> None:
    r = client.get("/api/nothing-here", headers={"x-request-id": "test-req-1"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["x-request-id"] == "test-req-1"
    assert r.json()["request_id"] == "test-req-1"
