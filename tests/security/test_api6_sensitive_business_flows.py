"""OWASP API6:2023 Unrestricted Access to Sensitive Business Flows.

Spam: per-account caps on posting (tweets, replies, quotes, retweets) and following, a burst
budget and an hourly cap each, whatever address the account comes from; registration of many
accounts from one address is capped too (see API4). Other accounts are not affected.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api
from tests.security.conftest import MakeClient


def test_posting_has_an_hourly_cap_per_account(make_client: MakeClient) -> None:
    client: TestClient[Litestar] = make_client(
        rate_post_user="100/60", rate_post_hourly="4/3600", rate_trusted_proxy_hops=1
    )
    api = Api(client)
    spammer, alice = api.user("spammer"), api.user("alice")
    target = client.post("/api/tweets", json={"text": "a target"}, headers=alice.headers).json()
    spam = [
        ("POST", "/api/tweets", {"text": "buy now 1"}),
        ("POST", "/api/tweets", {"text": "buy now 2", "reply_to_id": target["id"]}),
        ("POST", "/api/tweets", {"text": "buy now 3", "quote_of_id": target["id"]}),
        ("PUT", f"/api/tweets/{target['id']}/retweet", None),
    ]
    for i, (method, path, body) in enumerate(spam):
        headers = {**spammer.headers, "X-Forwarded-For": f"192.0.2.{i}"}
        r = client.request(method, path, json=body, headers=headers)
        assert r.status_code in {200, 201}, r.text
    for address in ("192.0.2.50", "198.51.100.7"):
        r = client.post(
            "/api/tweets", json={"text": "buy now 5"}, headers={**spammer.headers, "X-Forwarded-For": address}
        )
        assert r.status_code == 429, r.text
        assert r.json()["type"] == "/problems/rate-limited"
        assert int(r.headers["retry-after"]) >= 800  # one post per 900 s comes back
        assert r.headers["ratelimit-limit"] == "4"
    timeline = client.get(f"/api/users/{spammer.id}/tweets").json()["items"]
    assert "buy now 5" not in [t.get("text") for t in timeline]
    # Reading still works for the spammer, and others may post.
    assert client.get("/api/users/me", headers=spammer.headers).status_code == 200
    assert client.post("/api/tweets", json={"text": "hi"}, headers=alice.headers).status_code == 201


def test_posting_bursts_are_limited(make_client: MakeClient) -> None:
    client = make_client(rate_post_user="3/60")
    alice = Api(client).user("alice")
    statuses = [
        client.post("/api/tweets", json={"text": f"t{i}"}, headers=alice.headers).status_code
        for i in range(4)
    ]
    assert statuses == [201, 201, 201, 429]


def test_following_has_a_cap_per_account(make_client: MakeClient) -> None:
    client = make_client(rate_follow_user="100/60", rate_follow_hourly="3/3600")
    api = Api(client)
    bot = api.user("followbot")
    targets = [api.user(f"target{i}") for i in range(5)]
    statuses = [
        client.put(f"/api/users/me/following/{t.id}", headers=bot.headers).status_code for t in targets[:4]
    ]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/api/users/me", headers=bot.headers).json()["profile"]["following_count"] == 3
    # Unfollowing is never capped (it undoes spam).
    assert client.delete(f"/api/users/me/following/{targets[0].id}", headers=bot.headers).status_code in {
        200,
        204,
    }
    # Another account follows freely.
    assert (
        client.put(f"/api/users/me/following/{targets[4].id}", headers=targets[1].headers).status_code == 200
    )
