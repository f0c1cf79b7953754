"""A dependency that is down gives a fast 503 problem that says when to come back (issue 16)."""

from __future__ import annotations

from litestar import Litestar, get
from litestar.testing import TestClient

from boundaries._kernel.errors import DomainError, NotFound, Unavailable
from twitterclone.gateway.problems import domain_error_handler


@get("/down", sync_to_thread=False)
def down() -> None:
    raise Unavailable("tweets did not answer")


@get("/missing", sync_to_thread=False)
def missing() -> None:
    raise NotFound("no such thing")


def test_503_from_a_dependency_carries_retry_after() -> None:
    app = Litestar([down, missing], exception_handlers={DomainError: domain_error_handler})
    with TestClient(app) as client:
        r = client.get("/down")
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
        assert r.json()["type"] == "/problems/service-unavailable"
        assert "retry-after" not in client.get("/missing").headers
