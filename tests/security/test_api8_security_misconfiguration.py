"""OWASP API8:2023 Security Misconfiguration.

No response carries a traceback or exception text (even on a real crash); errors are RFC 9457
problems; CORS never allows credentials and allows only configured origins; security headers
are on every response, including rate-limit refusals; debug is off.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api
from tests.security.conftest import MakeClient

LEAKS = ("Traceback", 'File "', "RuntimeError", "site-packages", "/work/", "sqlalchemy", "Exception")


def assert_clean_problem(r: Any, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    for leak in LEAKS:
        assert leak not in r.text, (leak, r.text)
    assert r.json()["status"] == status


def test_a_crash_answers_a_plain_500_problem(client: TestClient[Litestar], api: Api) -> None:
    alice = api.user("alice")

    class Exploding:
        async def verify(self, token: str) -> Any:
            raise RuntimeError("db password=hunter2 at /work/main/src/secret.py")

    client.app.state.token_verifier = Exploding()
    r = client.get("/api/users/me", headers=alice.headers)
    assert_clean_problem(r, 500)
    assert "hunter2" not in r.text
    assert r.json()["type"] == "/problems/internal-error"
    assert r.json()["request_id"] == r.headers["x-request-id"]
    assert client.app.debug is False


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{bad json", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b'{"login": 1e999999, "password": []}', "application/json"),
        (b'{"login": "a", "password": "b", "__proto__": {"x": 1}}', "application/json"),
        (b"login=a&password=b", "application/x-www-form-urlencoded"),
        (b"[" * 10000 + b"]" * 10000, "application/json"),
    ],
)
def test_malformed_input_is_a_clean_400(
    client: TestClient[Litestar], content: bytes, content_type: str
) -> None:
    r = client.post("/api/auth/login", content=content, headers={"content-type": content_type})
    assert r.status_code in {400, 415}, r.text
    assert_clean_problem(r, r.status_code)


def test_unknown_routes_and_methods_are_problems(client: TestClient[Litestar]) -> None:
    assert_clean_problem(client.get("/api/nothing-here"), 404)
    assert_clean_problem(client.request("TRACE", "/api/users/search"), 405)
    assert_clean_problem(client.get("/api/tweets/not-a-number"), 400)


def test_security_headers_are_on_every_response(make_client: MakeClient) -> None:
    client = make_client(rate_address="2/60")
    responses = [
        client.get("/livez"),
        client.get("/api/users/search", params={"q": "a"}),
        client.get("/nope"),
    ]
    responses.append(client.get("/api/users/search", params={"q": "a"}))
    responses.append(client.get("/api/users/search", params={"q": "a"}))
    assert responses[-1].status_code == 429
    for r in responses:
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_answers_made_before_routing_carry_the_security_headers(make_client: MakeClient) -> None:
    """The middlewares' own answers (here 503 overloaded) are stamped like every other."""
    client = make_client(admission_max_active=1, admission_max_wait_s=0)
    admission = client.app.state.admission
    admission.active = admission.max_active  # every slot taken
    try:
        r = client.get("/api/users/search", params={"q": "a"})
    finally:
        admission.active = 0
    assert r.status_code == 503
    assert r.json()["type"] == "/problems/overloaded"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-request-id"]


def _preflight(client: TestClient[Litestar], origin: str) -> Any:
    return client.options(
        "/api/users/me",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )


def test_cors_is_off_by_default(client: TestClient[Litestar], api: Api) -> None:
    alice = api.user("alice")
    for origin in ("https://evil.example", "null"):
        r = client.get("/api/users/me", headers={**alice.headers, "Origin": origin})
        assert "access-control-allow-origin" not in r.headers
        assert "access-control-allow-credentials" not in r.headers
        assert "access-control-allow-origin" not in _preflight(client, origin).headers


def test_cors_allows_configured_origins_only_and_never_credentials(make_client: MakeClient) -> None:
    client = make_client(cors_origins="https://app.example")
    alice = Api(client).user("alice")
    ok = _preflight(client, "https://app.example")
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert ok.headers.get("access-control-allow-credentials") != "true"
    for origin in ("https://evil.example", "https://app.example.evil.example", "null", "http://app.example"):
        pre = _preflight(client, origin)
        assert pre.headers.get("access-control-allow-origin") not in {origin, "*"}, origin
        r = client.get("/api/users/me", headers={**alice.headers, "Origin": origin})
        assert r.headers.get("access-control-allow-origin") not in {origin, "*"}, origin
        assert r.headers.get("access-control-allow-credentials") != "true"
