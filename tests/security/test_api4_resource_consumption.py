"""OWASP API4:2023 Unrestricted Resource Consumption.

Rate limits per address and per user (429 problem with Retry-After and RateLimit headers),
stricter budgets for registration and token requests, bodies capped (413), pages capped,
texts capped, and handles/emails normalised so that look-alikes cannot impersonate: NFKC and
the ASCII-only rule for other scripts, a confusable fold (``1``/``l``/``I``, ``0``/``o``, ``rn``/``m``
...) for look-alikes made of ASCII.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api
from tests.security.conftest import MakeClient


def assert_rate_limited(r: Any) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == "/problems/rate-limited"
    assert body["status"] == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["ratelimit-remaining"] == "0"
    assert int(r.headers["ratelimit-limit"]) >= 1
    assert int(r.headers["ratelimit-reset"]) >= 1
    assert r.headers["x-request-id"]
    assert body["request_id"] == r.headers["x-request-id"]


def test_responses_carry_rate_limit_headers(make_client: MakeClient) -> None:
    # Budgets that refill a token a day: with the defaults (10 a second for a user) two requests
    # 100 ms apart on a slow machine would show the same remaining count.
    client = make_client(rate_user="600/86400", rate_address="1200/86400")
    alice = Api(client).user("alice")
    first = client.get("/api/users/me", headers=alice.headers)
    second = client.get("/api/users/me", headers=alice.headers)
    assert first.status_code == 200
    assert int(first.headers["ratelimit-limit"]) > 0
    assert int(second.headers["ratelimit-remaining"]) < int(first.headers["ratelimit-remaining"])
    assert "ratelimit-policy" in first.headers
    # Health probes are not rate limited (load balancers poll them).
    assert "ratelimit-limit" not in client.get("/livez").headers


def test_one_address_is_limited_whatever_it_asks(make_client: MakeClient) -> None:
    client = make_client(rate_address="5/60")
    statuses = [client.get("/api/users/search", params={"q": "a"}).status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert_rate_limited(client.get("/api/users/search", params={"q": "a"}))
    assert_rate_limited(client.get("/api/tweets/123"))  # probing ids spends the same budget
    assert int(client.get("/api/tweets/1").headers["retry-after"]) in range(10, 13)


def test_one_user_is_limited_from_any_address(make_client: MakeClient) -> None:
    client = make_client(rate_user="4/60", rate_trusted_proxy_hops=1)
    api = Api(client)
    alice, bob = api.user("alice"), api.user("bob")
    for i in range(4):
        r = client.get("/api/users/me", headers={**alice.headers, "X-Forwarded-For": f"192.0.2.{i}"})
        assert r.status_code == 200
    assert_rate_limited(
        client.get("/api/users/me", headers={**alice.headers, "X-Forwarded-For": "192.0.2.99"})
    )
    assert client.get("/api/users/me", headers=bob.headers).status_code == 200


def test_registrations_per_address_are_capped(make_client: MakeClient) -> None:
    client = make_client(rate_register_address="3/3600", rate_trusted_proxy_hops=1)
    for i in range(3):
        body = {"handle": f"bot{i}", "email": f"bot{i}@example.org", "password": "correct horse battery"}
        assert (
            client.post("/api/auth/register", json=body, headers={"X-Forwarded-For": "192.0.2.1"}).status_code
            == 201
        )
    body = {"handle": "bot9", "email": "bot9@example.org", "password": "correct horse battery"}
    refused = client.post("/api/auth/register", json=body, headers={"X-Forwarded-For": "192.0.2.1"})
    assert_rate_limited(refused)
    assert int(refused.headers["retry-after"]) > 1000  # the hourly budget refills slowly
    assert client.get("/api/users/by-handle/bot9").status_code == 404
    assert (
        client.post("/api/auth/register", json=body, headers={"X-Forwarded-For": "192.0.2.2"}).status_code
        == 201
    )


def test_logins_per_address_and_token_requests_are_capped(make_client: MakeClient) -> None:
    client = make_client(rate_login_address="3/60", rate_token_address="2/60")
    for i in range(3):
        assert (
            client.post("/api/auth/login", json={"login": f"user{i}", "password": "guess guess"}).status_code
            == 401
        )
    assert_rate_limited(client.post("/api/auth/login", json={"login": "user9", "password": "guess guess"}))
    for _ in range(2):
        assert client.post("/api/auth/refresh", json={"refresh_token": "nope"}).status_code in {400, 401}
    assert_rate_limited(client.post("/api/auth/refresh", json={"refresh_token": "nope"}))
    assert_rate_limited(
        client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
    )


def test_a_forged_token_does_not_spend_its_victims_budget(make_client: MakeClient) -> None:
    client = make_client(rate_user="3/60", rate_trusted_proxy_hops=1)
    api = Api(client)
    alice = api.user("alice")
    forged = alice.headers["Authorization"][:-8] + "AAAAAAAA"
    for i in range(10):
        client.get("/api/users/me", headers={"Authorization": forged, "X-Forwarded-For": f"192.0.2.{i}"})
    assert client.get("/api/users/me", headers=alice.headers).status_code == 200


def test_oversized_bodies_are_413(client: TestClient[Litestar], api: Api, settings: Any) -> None:
    alice = api.user("alice")
    big = "x" * (settings.max_body_bytes + 1)
    for path, body in (
        ("/api/tweets", {"text": big}),
        ("/api/auth/login", {"login": "alice", "password": big}),
        ("/api/auth/register", {"handle": "h", "email": "h@example.org", "password": big}),
    ):
        r = client.post(path, json=body, headers=alice.headers)
        assert r.status_code == 413, (path, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = client.patch("/api/users/me", json={"bio": big}, headers=alice.headers)
    assert r.status_code == 413


@pytest.mark.parametrize("limit", ["0", "101", "1000000", "-1", "ten"])
def test_page_size_is_capped(client: TestClient[Litestar], api: Api, limit: str) -> None:
    alice = api.user("alice")
    for path in (f"/api/users/{alice.id}/followers", "/api/tweets/search", "/api/timeline/home"):
        r = client.get(path, params={"limit": limit, "q": "a"}, headers=alice.headers)
        assert r.status_code == 400, (path, r.text)
    assert client.get("/api/timeline/home", params={"limit": "100"}, headers=alice.headers).status_code == 200


def test_text_lengths_are_capped(client: TestClient[Litestar], api: Api) -> None:
    alice = api.user("alice")
    assert client.post("/api/tweets", json={"text": "x" * 281}, headers=alice.headers).status_code in {
        400,
        422,
    }
    assert client.post("/api/tweets", json={"text": "x" * 280}, headers=alice.headers).status_code == 201
    assert client.patch("/api/users/me", json={"bio": "b" * 161}, headers=alice.headers).status_code == 400
    assert (
        client.patch("/api/users/me", json={"display_name": "d" * 51}, headers=alice.headers).status_code
        == 400
    )
    long_password = {"handle": "bob", "email": "bob@example.org", "password": "p" * 1025}
    assert client.post("/api/auth/register", json=long_password).status_code == 400
    assert client.get("/api/users/search", params={"q": "q" * 1000}).status_code in {200, 400}


LOOKALIKES = [
    "\uff41\uff4c\uff49\uff43\uff45",  # full-width "alice"
    "\u0430lice",  # Cyrillic a
    "al\u0456ce",  # Ukrainian i
    "alice\u200b",  # zero-width space
    "\U0001d41a\U0001d425\U0001d422\U0001d41c\U0001d41e",  # mathematical bold "alice"
    "ALICE",
    "Alice",
]


@pytest.mark.parametrize("handle", LOOKALIKES, ids=lambda h: h.encode("unicode_escape").decode())
def test_look_alike_handles_cannot_register(client: TestClient[Litestar], api: Api, handle: str) -> None:
    api.register("alice")
    body = {"handle": handle, "email": "mallory@example.org", "password": "correct horse battery"}
    r = client.post("/api/auth/register", json=body)
    assert r.status_code in {400, 409}, r.text
    search = client.get("/api/users/search", params={"q": "al"}).json()["items"]
    assert [u["handle"] for u in search] == ["alice"]


#: ASCII look-alikes of "alice" (and what refuses them): its skeleton, its case, or the ASCII rule.
ASCII_LOOKALIKES = [
    ("a1ice", 409, "too similar"),  # digit one for l
    ("aIice", 409, "too similar"),  # capital I for l
    ("ALICE", 409, "taken"),  # the same handle ignoring case
    ("al\u00edce", 400, None),  # i with an acute accent: NFKC keeps it non-ASCII, so it is refused
    ("a1lce", 409, "too similar"),
    ("AL1CE", 409, "too similar"),
]


@pytest.mark.parametrize(
    ("handle", "status", "why"), ASCII_LOOKALIKES, ids=[h for h, _, _ in ASCII_LOOKALIKES]
)
def test_ascii_look_alike_handles_are_refused(
    client: TestClient[Litestar], api: Api, handle: str, status: int, why: str | None
) -> None:
    api.register("alice")
    body = {"handle": handle, "email": "mallory@example.org", "password": "correct horse battery"}
    r = client.post("/api/auth/register", json=body)
    assert r.status_code == status, r.text
    problem = r.json()
    if status == 409:
        assert problem["type"] == "/problems/handle-taken"  # one problem type for taken and too similar
        assert why in problem["detail"]
        assert "alice" not in problem["detail"]  # the resembled handle is not named
    # Nothing was created (the email is still free), and the lookup by handle stays exact.
    api.register("mallory")
    assert client.get("/api/users/by-handle/ALICE").json()["handle"] == "alice"
    if handle.isascii():
        assert client.get(f"/api/users/by-handle/{handle}").status_code == (200 if why == "taken" else 404)


@pytest.mark.parametrize(("look_alike", "original"), [("rnary", "mary"), ("vvill", "will"), ("b0b", "bob")])
def test_multi_letter_and_digit_look_alikes_are_refused(
    client: TestClient[Litestar], api: Api, look_alike: str, original: str
) -> None:
    api.register(original)
    body = {"handle": look_alike, "email": "mallory@example.org", "password": "correct horse battery"}
    r = client.post("/api/auth/register", json=body)
    assert r.status_code == 409, r.text
    assert "too similar" in r.json()["detail"]
    # An honest neighbour is not refused.
    api.register(original + "_2")


@pytest.mark.parametrize(
    "email", ["ALICE@EXAMPLE.ORG", "alice@Example.Org", " alice@example.org ", "\uff41lice@example.org"]
)
def test_one_mailbox_holds_one_account(client: TestClient[Litestar], api: Api, email: str) -> None:
    api.register("alice")
    r = client.post(
        "/api/auth/register", json={"handle": "alice2", "email": email, "password": "correct horse battery"}
    )
    assert r.status_code in {400, 409}, r.text
    assert client.get("/api/users/by-handle/alice2").status_code == 404


async def test_the_service_normalises_before_it_validates(tmp_path: Any) -> None:
    """Below HTTP (the port is also called over RPC): full-width forms fold onto the ASCII handle."""
    from boundaries.users.dto import Login, Register
    from boundaries.users.errors import EmailTaken, HandleTaken
    from modules.users.service import UsersService
    from twitterclone.infra.ids import IdGenerator
    from twitterclone.infra.store import ModuleStore
    from twitterclone.migrate import migrate
    from twitterclone.settings import Settings

    store = ModuleStore("users", f"sqlite+aiosqlite:///{tmp_path}/users.db")
    await migrate(store)
    settings = Settings(
        data_dir=str(tmp_path), argon2_time_cost=1, argon2_memory_kib=8192, argon2_parallelism=1
    )
    service = UsersService(store, IdGenerator(1), settings)
    try:
        account = await service.register(
            Register(handle="alice", email="Alice@Example.org", password="correct horse battery")
        )
        assert account.email == "alice@example.org"
        with pytest.raises(HandleTaken):
            await service.register(
                Register(
                    handle="\uff41\uff4c\uff49\uff43\uff45",
                    email="m@example.org",
                    password="correct horse battery",
                )
            )
        with pytest.raises(EmailTaken):
            await service.register(
                Register(handle="mallory", email="ALICE@EXAMPLE.ORG", password="correct horse battery")
            )
        tokens = await service.authenticate(
            Login(login="\uff21\uff4c\uff49\uff43\uff45", password="correct horse battery")
        )
        assert tokens.user_id == account.profile.id
    finally:
        await store.dispose()
