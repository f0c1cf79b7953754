"""OWASP API2: the per-account login throttle counts what the handler actually reads.

The throttle and the handler must agree on the account a request names. When they parsed the
body separately, a JSON login sent as a form (or a consent form sent as ``text/plain``) was read
by the handler but not by the throttle, so guessing one account's password from many addresses
went unthrottled (issue 11, finding 3). Each test spends an account's budget with ordinary
requests, then tries the other encodings.
"""

from __future__ import annotations

from typing import Any

import argon2
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.api.oauth_support import consent_form, pkce, register_client
from tests.conftest import Api
from tests.security.conftest import MakeClient
from tests.security.test_api4_resource_consumption import assert_rate_limited

GUESS = {"login": "alice", "password": "guess guess"}
#: Content types a client may claim for a JSON body; the handler reads the JSON whatever it says.
CLAIMED_TYPES = ["application/x-www-form-urlencoded", "text/plain", "application/octet-stream", ""]


def throttled_client(make_client: MakeClient) -> TestClient[Litestar]:
    client = make_client(rate_login_account="2/300", rate_login_address="100/60", rate_trusted_proxy_hops=1)
    Api(client).register("alice")
    return client


def spend_alices_budget(client: TestClient[Litestar]) -> None:
    for i in range(2):
        r = client.post("/api/auth/login", json=GUESS, headers={"X-Forwarded-For": f"198.51.100.{i}"})
        assert r.status_code == 401, r.text


@pytest.mark.parametrize("content_type", CLAIMED_TYPES)
def test_a_json_login_under_another_content_type_is_throttled(
    make_client: MakeClient, content_type: str
) -> None:
    client = throttled_client(make_client)
    body = b'{"login": "alice", "password": "correct horse battery"}'
    # The handler does read such a request (here, while the budget lasts: a success).
    fresh = make_client(rate_login_account="2/300")
    Api(fresh).register("alice")
    assert (
        fresh.post("/api/auth/login", content=body, headers={"content-type": content_type}).status_code == 200
    )
    spend_alices_budget(client)
    refused = client.post(
        "/api/auth/login",
        content=body,
        headers={"content-type": content_type, "X-Forwarded-For": "203.0.113.9"},
    )
    assert_rate_limited(refused)
    assert "access_token" not in refused.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", ""])
def test_a_consent_form_under_another_content_type_is_throttled(
    make_client: MakeClient, content_type: str
) -> None:
    client = throttled_client(make_client)
    app = register_client(client, Api(client).user("owner"))
    form = consent_form(app["client_id"], pkce()[1], login="alice")
    encoded = "&".join(f"{k}={v}" for k, v in form.items()).replace(" ", "+").encode()
    spend_alices_budget(client)
    refused = client.post(
        "/oauth/authorize",
        content=encoded,
        headers={"content-type": content_type, "X-Forwarded-For": "203.0.113.9"},
        follow_redirects=False,
    )
    assert_rate_limited(refused)
    assert "code=" not in refused.headers.get("location", "")


def test_a_throttled_login_costs_no_password_hash(make_client: MakeClient, monkeypatch: Any) -> None:
    client = throttled_client(make_client)
    spend_alices_budget(client)
    hashed: list[str] = []
    verify = argon2.PasswordHasher.verify

    def counting(self: argon2.PasswordHasher, hash: str, password: str | bytes) -> bool:
        hashed.append("verify")
        return verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    for content_type in ("application/json", *CLAIMED_TYPES):
        r = client.post(
            "/api/auth/login",
            content=b'{"login": "ALICE", "password": "guess guess"}',
            headers={"content-type": content_type, "X-Forwarded-For": "203.0.113.9"},
        )
        assert_rate_limited(r)
    assert hashed == []
