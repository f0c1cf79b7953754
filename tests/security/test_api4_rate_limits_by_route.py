"""OWASP API4/API6: a rate limit cannot be stepped around by spelling the path differently.

``//api/auth/login``, ``/api/auth//login`` and ``/api/auth/login/`` reach the login handler just
as ``/api/auth/login`` does, so they must be charged just the same: the rules belong to the
route that answers, not to a string the path is compared with (issue 11, finding 2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api
from tests.security.conftest import MakeClient
from tests.security.test_api4_resource_consumption import assert_rate_limited

#: Ways of writing a path that the router answers like the canonical one.
SPELLINGS: list[Callable[[str], str]] = [
    lambda p: "/" + p,  # //api/...
    lambda p: p.replace("/", "//", 2).replace("//", "/", 1),  # /api//...
    lambda p: p + "/",  # trailing slash
    lambda p: p.replace("/", "///"),  # every separator tripled
]
SPELLING_IDS = ["leading-double-slash", "inner-double-slash", "trailing-slash", "tripled-slashes"]


def url(path: str) -> str:
    # An absolute URL, so the client sends the path exactly as written (``//x`` is not a host).
    return "http://testserver" + path


@pytest.mark.parametrize("spell", SPELLINGS, ids=SPELLING_IDS)
def test_login_guessing_is_limited_whatever_the_path_spelling(make_client: MakeClient, spell: Any) -> None:
    client = make_client(rate_login_address="3/60", rate_login_account="100/60")
    Api(client).register("alice")
    for _ in range(3):
        r = client.post(url(spell("/api/auth/login")), json={"login": "alice", "password": "guess guess"})
        assert r.status_code == 401, r.text  # the spelling reaches the handler ...
    # ... and is charged like the canonical path: the address's login budget is spent, both ways.
    assert_rate_limited(
        client.post(url(spell("/api/auth/login")), json={"login": "x", "password": "guess guess"})
    )
    assert_rate_limited(client.post("/api/auth/login", json={"login": "x", "password": "guess guess"}))


@pytest.mark.parametrize("spell", SPELLINGS, ids=SPELLING_IDS)
def test_one_accounts_login_budget_holds_whatever_the_path_spelling(
    make_client: MakeClient, spell: Any
) -> None:
    client = make_client(rate_login_account="2/300", rate_login_address="100/60", rate_trusted_proxy_hops=1)
    Api(client).register("alice")
    for i in range(2):
        r = client.post(
            "/api/auth/login",
            json={"login": "alice", "password": "guess guess"},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
        )
        assert r.status_code == 401
    refused = client.post(
        url(spell("/api/auth/login")),
        json={"login": "alice", "password": "correct horse battery"},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert_rate_limited(refused)
    assert "access_token" not in refused.text


@pytest.mark.parametrize("spell", SPELLINGS, ids=SPELLING_IDS)
def test_registrations_are_capped_whatever_the_path_spelling(make_client: MakeClient, spell: Any) -> None:
    client = make_client(rate_register_address="2/3600")

    def register(i: int) -> Any:
        body = {"handle": f"farm{i}", "email": f"farm{i}@example.org", "password": "correct horse battery"}
        return client.post(url(spell("/api/auth/register")), json=body)

    assert [register(i).status_code for i in range(2)] == [201, 201]
    assert_rate_limited(register(2))


@pytest.mark.parametrize("spell", SPELLINGS, ids=SPELLING_IDS)
def test_token_requests_are_capped_whatever_the_path_spelling(make_client: MakeClient, spell: Any) -> None:
    client = make_client(rate_token_address="2/60")
    form = {"grant_type": "refresh_token", "refresh_token": "x"}
    for _ in range(2):
        assert client.post(url(spell("/oauth/token")), data=form).status_code in {400, 401}
    assert_rate_limited(client.post(url(spell("/oauth/token")), data=form))
    assert_rate_limited(client.post(url(spell("/api/auth/refresh")), json={"refresh_token": "nope"}))


@pytest.mark.parametrize("spell", SPELLINGS, ids=SPELLING_IDS)
def test_posting_and_following_are_capped_whatever_the_path_spelling(
    make_client: MakeClient, spell: Any
) -> None:
    client: TestClient[Litestar] = make_client(rate_post_user="2/60", rate_follow_user="2/60")
    api = Api(client)
    alice = api.user("alice")
    others = [api.user(f"bob{i}") for i in range(3)]
    tweet = client.post("/api/tweets", json={"text": "first"}, headers=alice.headers)
    assert tweet.status_code == 201
    # One token of the posting budget left: a retweet spelt oddly takes it, then a post is refused.
    assert (
        client.put(url(spell(f"/api/tweets/{tweet.json()['id']}/retweet")), headers=alice.headers).status_code
        == 200
    )
    assert_rate_limited(client.post(url(spell("/api/tweets")), json={"text": "spam"}, headers=alice.headers))
    for other in others[:2]:
        assert (
            client.put(url(spell(f"/api/users/me/following/{other.id}")), headers=alice.headers).status_code
            == 200
        )
    assert_rate_limited(
        client.put(url(spell(f"/api/users/me/following/{others[2].id}")), headers=alice.headers)
    )
