"""The web client through HTTP: browsers as cookie jars over one test client of the monolith."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

CSRF = re.compile(r'name="csrf" value="([^"]*)"')
PASSWORD = "correct horse battery"


class Browser:
    """One person's browser: its own cookies over the shared test client, following no redirects."""

    def __init__(self, client: TestClient[Litestar]) -> None:
        self.client = client
        self.cookies = httpx.Cookies()
        self.handle: str | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self.client.cookies = self.cookies
        kwargs.setdefault("follow_redirects", False)
        response = self.client.request(method, url, **kwargs)
        self.cookies = httpx.Cookies(self.client.cookies)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def csrf(self, url: str = "/") -> str:
        """The CSRF token the forms of ``url`` carry."""
        page = self.get(url)
        assert page.status_code == 200, page.text
        found = CSRF.search(page.text)
        assert found, f"no form with a CSRF token on {url}"
        return found.group(1)

    def submit(
        self, url: str, data: dict[str, str] | None = None, *, page: str = "/", **kwargs: Any
    ) -> httpx.Response:
        """POST a form the way the page's form does: with the page's CSRF token."""
        return self.request("POST", url, data={"csrf": self.csrf(page), **(data or {})}, **kwargs)

    def sign_up(self, handle: str, display_name: str = "") -> httpx.Response:
        r = self.submit(
            "/signup",
            {
                "handle": handle,
                "email": f"{handle.lower()}@example.org",
                "password": PASSWORD,
                "display_name": display_name,
            },
            page="/signup",
        )
        assert r.status_code == 303, r.text
        self.handle = handle
        return r

    def sign_in(self, login: str, password: str = PASSWORD) -> httpx.Response:
        return self.submit("/signin", {"login": login, "password": password}, page="/signin")

    def post(self, text: str, **fields: str) -> httpx.Response:
        return self.submit("/compose", {"text": text, **fields}, page="/compose")

    def user_id(self, handle: str) -> str:
        r = self.client.get(f"/api/users/by-handle/{handle}")
        assert r.status_code == 200, r.text
        return str(r.json()["id"])


@pytest.fixture
def browsers(client: TestClient[Litestar]) -> Iterator[Any]:
    def make() -> Browser:
        return Browser(client)

    return make
