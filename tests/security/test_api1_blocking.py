"""OWASP API1:2023 Broken Object Level Authorization: blocks and mutes (issue 11, finding 6).

If Alice blocks Bob, Bob can no longer read Alice's tweets (one at a time, in listings, in search,
in any timeline), reply to, quote, like or retweet them; no follow remains between them; and Alice
no longer sees Bob's tweets nor hears from him. A mute is one-directional and invisible to the
muted: the muter's timelines and notifications leave the muted user out. Black-box, through the
HTTP API of a monolith; the same rules are the tweets port's, run under local and HTTP bindings by
tests/contract/tweets/test_audience_contract.py.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from tests.conftest import Api, User

Client = TestClient[Litestar]


def post(client: Client, user: User, text: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/api/tweets", json={"text": text, **extra}, headers=user.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def ids(client: Client, path: str, user: User | None = None, **params: Any) -> list[str]:
    r = client.get(path, params=params, headers=user.headers if user else None)
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["items"]]


def home(client: Client, user: User) -> list[str]:
    return ids(client, "/api/timeline/home", user)


def relate(client: Client, user: User, kind: str, target: User) -> None:
    r = client.put(f"/api/users/me/{kind}/{target.id}", headers=user.headers)
    assert r.status_code == 200, r.text


def notifications(client: Client, user: User) -> list[tuple[str, str]]:
    r = client.get("/api/notifications", headers=user.headers)
    assert r.status_code == 200, r.text
    return [(n["kind"], n["actor_id"]) for n in r.json()["items"]]


def test_a_blocked_user_can_neither_read_nor_act_on_the_blockers_tweets(client: Client, api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    relate(client, bob, "following", alice)
    tweet = post(client, alice, "before the block #walled")
    reply = post(client, alice, "a reply of my own", reply_to_id=tweet["id"])
    api.eventually(lambda: tweet["id"] in home(client, bob), timeout_s=3)

    relate(client, alice, "blocking", bob)

    # Reading: one at a time, its replies, her profile, search, every timeline.
    for path in (
        f"/api/tweets/{tweet['id']}",
        f"/api/tweets/{reply['id']}",
        f"/api/tweets/{tweet['id']}/replies",
    ):
        r = client.get(path, headers=bob.headers)
        assert r.status_code == 404, (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert ids(client, f"/api/users/{alice.id}/tweets", bob) == []
    assert tweet["id"] not in ids(client, "/api/tweets/search", bob, q="block")
    assert tweet["id"] not in ids(client, "/api/timeline/public", bob)
    assert tweet["id"] not in ids(client, "/api/timeline/tags/walled", bob)
    # Fanned out before the block: filtered when read.
    assert tweet["id"] not in home(client, bob)

    # Acting: reply, quote, like, retweet are refused as if the tweet did not exist.
    for body in ({"text": "re", "reply_to_id": tweet["id"]}, {"text": "qt", "quote_of_id": tweet["id"]}):
        r = client.post("/api/tweets", json=body, headers=bob.headers)
        assert r.status_code == 404, (body, r.text)
    for action in ("like", "retweet"):
        r = client.put(f"/api/tweets/{tweet['id']}/{action}", headers=bob.headers)
        assert r.status_code == 404, (action, r.text)
    counts = client.get(f"/api/tweets/{tweet['id']}", headers=alice.headers).json()["counts"]
    assert (counts["likes"], counts["retweets"], counts["quotes"], counts["replies"]) == (0, 0, 0, 1)

    # No follow remains either way, and none can be made.
    rel = client.get(f"/api/users/{alice.id}/relationship", headers=bob.headers).json()
    assert (rel["following"], rel["followed_by"], rel["blocked_by"]) == (False, False, True)
    assert client.put(f"/api/users/me/following/{alice.id}", headers=bob.headers).status_code == 403

    # Everyone else still reads her tweet.
    assert client.get(f"/api/tweets/{tweet['id']}").status_code == 200
    carol = api.user("carol")
    assert client.get(f"/api/tweets/{tweet['id']}", headers=carol.headers).status_code == 200


def test_the_blocker_no_longer_sees_the_blocked_users_tweets(client: Client, api: Api) -> None:
    alice, bob = api.user("alice"), api.user("bob")
    relate(client, alice, "following", bob)
    theirs = post(client, bob, "words of bob #loud")
    api.eventually(lambda: theirs["id"] in home(client, alice), timeout_s=3)

    relate(client, alice, "blocking", bob)

    assert client.get(f"/api/tweets/{theirs['id']}", headers=alice.headers).status_code == 404
    assert theirs["id"] not in home(client, alice)
    assert ids(client, f"/api/users/{bob.id}/tweets", alice) == []
    assert theirs["id"] not in ids(client, "/api/tweets/search", alice, q="bob")
    assert theirs["id"] not in ids(client, "/api/timeline/public", alice)
    assert theirs["id"] not in ids(client, "/api/timeline/tags/loud", alice)


def test_a_retweet_does_not_carry_a_blockers_tweet_past_the_block(client: Client, api: Api) -> None:
    alice, bob, carol = api.user("alice"), api.user("bob"), api.user("carol")
    relate(client, bob, "following", carol)
    relate(client, alice, "blocking", bob)
    tweet = post(client, alice, "carol will pass this on")
    r = client.put(f"/api/tweets/{tweet['id']}/retweet", headers=carol.headers)
    assert r.status_code == 200, r.text
    retweet_id = r.json()["id"]
    marker = post(client, carol, "posted after the retweet")
    api.eventually(lambda: marker["id"] in home(client, bob), timeout_s=3)
    assert retweet_id not in home(client, bob)
    assert client.get(f"/api/tweets/{retweet_id}", headers=bob.headers).status_code == 404
    assert retweet_id not in ids(client, f"/api/users/{carol.id}/tweets", bob)
    # Carol's own quote of it shows Bob the quote, never the quoted tweet.
    quote = post(client, carol, "look at this", quote_of_id=tweet["id"])
    seen = client.get(f"/api/tweets/{quote['id']}", headers=bob.headers).json()
    assert seen["quoted"] is None


def test_a_blocker_mentioning_the_blocked_user_notifies_nobody(client: Client, api: Api) -> None:
    alice, bob, carol = api.user("alice"), api.user("bob"), api.user("carol")
    relate(client, alice, "blocking", bob)
    post(client, alice, "hey @bob")  # Bob may not see it: no notification
    post(client, bob, "hey @alice")  # Alice blocked him: no notification
    post(client, carol, "hey @bob @alice")  # the control: arrives for both
    api.eventually(lambda: ("mention", carol.id) in notifications(client, bob), timeout_s=3)
    api.eventually(lambda: ("mention", carol.id) in notifications(client, alice), timeout_s=3)
    assert notifications(client, bob) == [("mention", carol.id)]
    assert notifications(client, alice) == [("mention", carol.id)]


def test_a_mute_hides_the_muted_user_from_the_muters_timelines_only(client: Client, api: Api) -> None:
    alice, bob, carol = api.user("alice"), api.user("bob"), api.user("carol")
    relate(client, alice, "following", bob)
    relate(client, alice, "following", carol)
    relate(client, alice, "muting", bob)
    muted = post(client, bob, "you will not hear this #quiet")
    boosted = client.put(f"/api/tweets/{muted['id']}/retweet", headers=carol.headers).json()["id"]
    marker = post(client, carol, "but this #quiet")
    api.eventually(lambda: marker["id"] in home(client, alice), timeout_s=3)

    for listing in (home(client, alice), ids(client, "/api/timeline/public", alice)):
        assert muted["id"] not in listing
        assert boosted not in listing
    assert ids(client, "/api/timeline/tags/quiet", alice) == [marker["id"]]
    # Asked for directly, it is there: a mute is not a block.
    assert client.get(f"/api/tweets/{muted['id']}", headers=alice.headers).status_code == 200
    # Invisible to the muted: Bob still sees Alice, and may like her tweets.
    hers = post(client, alice, "bob may still read this")
    assert client.get(f"/api/tweets/{hers['id']}", headers=bob.headers).status_code == 200
    assert client.put(f"/api/tweets/{hers['id']}/like", headers=bob.headers).status_code == 200
    # Others see Bob's tweet in the public timeline.
    assert muted["id"] in ids(client, "/api/timeline/public", carol)


def test_notifications_from_before_the_block_leave_the_blockers_list(client: Client, api: Api) -> None:
    alice, bob, carol = api.user("alice"), api.user("bob"), api.user("carol")
    post(client, bob, "hey @alice")
    post(client, carol, "hey @alice")
    api.eventually(lambda: len(notifications(client, alice)) == 2, timeout_s=3)
    relate(client, alice, "blocking", bob)
    assert notifications(client, alice) == [("mention", carol.id)]
