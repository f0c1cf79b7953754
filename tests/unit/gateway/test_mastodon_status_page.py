"""The Mastodon adapter writes a page of statuses as JSON from kept fragments (shaping.py,
``Shaper.status_page``); entity by entity it must be exactly what encoding the ``Status`` entities
gives (``Shaper.statuses``), for every kind of status, every viewer, warm caches or cold, and an
account's change must show once its kept copy expires."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import msgspec
import pytest

from boundaries.media.dto import Focus, Media, MediaVariant
from boundaries.media.port import MediaPort
from boundaries.tweets.dto import AuthorActivity, Counts, Entities, Mention, Tweet, Viewer
from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import Author, Profile
from boundaries.users.port import UsersPort
from twitterclone.gateway.mastodon import entities as m
from twitterclone.gateway.mastodon.shaping import ACCOUNT_TTL_S, Shaper, _Caches

BASE = "https://social.example"
T0 = datetime(2026, 12, 5, 1, 2, 3, 456789, tzinfo=UTC)


class Ports:
    """The three port calls a page makes, answered from dicts (and counted)."""

    def __init__(self) -> None:
        self.profiles: dict[str, Profile] = {}
        self.media: dict[str, Media] = {}
        self.calls: list[str] = []

    async def profiles_of(self, ids: list[str]) -> list[Profile]:
        self.calls.append("profiles")
        return [self.profiles[i] for i in ids if i in self.profiles]

    async def author_activity(self, ids: list[str]) -> list[AuthorActivity]:
        self.calls.append("activity")
        return [
            AuthorActivity(author_id=i, statuses_count=len(i), last_status_at=T0 if int(i) % 2 else None)
            for i in ids
        ]

    async def get_many(self, ids: list[str], viewer_id: str | None) -> list[Media]:
        self.calls.append("media")
        return [self.media[i] for i in ids if i in self.media]

    def shaper(self, caches: _Caches) -> Shaper:
        users = cast("UsersPort", type("U", (), {"profiles": lambda _, ids: self.profiles_of(ids)})())
        tweets = cast(
            "TweetsPort", type("T", (), {"author_activity": lambda _, ids: self.author_activity(ids)})()
        )
        media = cast("MediaPort", type("M", (), {"get_many": lambda _, ids, v: self.get_many(ids, v)})())
        return Shaper(BASE, users, media, tweets, caches)


def _profile(i: int, name: str = "") -> Profile:
    return Profile(
        id=str(1000 + i),
        handle=f"user{i}",
        display_name=name or f'Ünïcode "{i}" <b>&amp;</b> \\ \n 🐘',
        bio=f"bio of @user{(i + 1) % 4} #tag{i} https://example.org/{i}?a=1&b=<2>",
        created_at=T0 - timedelta(days=i),
        followers_count=i * 3,
        following_count=i * 5,
        avatar_id=str(9000 + i) if i % 2 else None,
        header_id=str(9100 + i) if i % 3 == 0 else None,
    )


def _media(i: int) -> Media:
    variants = [
        MediaVariant(name="original", content_type="image/png", width=640, height=480, size=10, etag="e"),
        MediaVariant(name="display", content_type="image/webp", width=320, height=240, size=5, etag="f"),
    ]
    if i % 2:
        variants.append(
            MediaVariant(name="thumb", content_type="image/webp", width=64, height=48, size=1, etag="g")
        )
    return Media(
        id=str(7000 + i),
        owner_id="1000",
        content_type="image/png",
        width=640,
        height=0 if i == 3 else 480,
        created_at=T0,
        variants=variants,
        attached_to="1",
        description=[None, "", 'alt "text" with <tags> & \\ 🐘'][i % 3],
        focus=Focus(x=0.25, y=-0.5) if i % 2 else None,
    )


def _tweet(i: int, viewer: Viewer | None) -> Tweet:
    author = Author(id=str(1000 + i % 5), handle=f"user{i % 5}", display_name="x")
    text = (
        f"post {i} for @user{(i + 1) % 5} and @nobody about #Topic{i} see https://example.org/{i} <\"&>' 🐘"
    )
    return Tweet(
        id=str(500_000 + i),
        author=author,
        text=text,
        created_at=T0 + timedelta(seconds=i, microseconds=i * 1001),
        conversation_id=str(500_000 + i),
        reply_to_id=str(400_000 + i) if i % 4 == 1 else None,
        reply_to_author_id=str(1000 + (i + 1) % 5) if i % 4 == 1 else None,
        entities=Entities(
            hashtags=[f"topic{i}"],
            mentions=[
                Mention(handle=f"user{(i + 1) % 5}", user_id=str(1000 + (i + 1) % 5)),
                Mention(handle="nobody"),
            ],
            urls=[f"https://example.org/{i}"],
        ),
        media_ids=[str(7000 + i % 4), "7999"] if i % 3 == 0 else [],
        counts=Counts(likes=i, retweets=i * 2, replies=i % 3, quotes=1),
        viewer=viewer,
        visibility=("public", "unlisted", "private", "direct")[i % 4],
        spoiler_text='careful: "spoilers"' if i % 5 == 2 else "",
        sensitive=i % 7 == 3,
        language="en" if i % 2 else None,
        pinned=i % 6 == 0,
    )


def _page(viewers: list[Viewer | None]) -> list[Tweet]:
    """Originals, reblogs of them (by authors, one of them gone), for the given viewers' flags."""
    tweets: list[Tweet] = []
    for i, viewer in zip(range(12), itertools.cycle(viewers), strict=False):
        tweet = _tweet(i, viewer)
        if i % 3 == 2:
            booster = Author(id=str(1000 + (i + 2) % 6), handle=f"user{(i + 2) % 6}", display_name="b")
            tweet = Tweet(
                id=str(600_000 + i),
                author=booster,
                text="",
                created_at=T0 + timedelta(minutes=i),
                conversation_id=str(600_000 + i),
                retweet_of_id=tweet.id,
                retweet_of=tweet,
                viewer=viewer,
            )
        tweets.append(tweet)
    return tweets


def _ports() -> Ports:
    ports = Ports()
    for i in range(5):  # user5 (a booster) is gone: its statuses show the author summary
        ports.profiles[str(1000 + i)] = _profile(i)
    for i in range(4):
        ports.media[str(7000 + i)] = _media(i)
    return ports


async def _both(shaper: Shaper, tweets: list[Tweet], viewer_id: str | None) -> tuple[Any, Any]:
    page = await shaper.status_page(tweets, viewer_id)
    statuses, _ = await shaper.statuses(tweets, viewer_id)
    return json.loads(page), json.loads(msgspec.json.encode(statuses))


VIEWERS: list[list[Viewer | None]] = [
    [None],
    [Viewer()],
    [
        Viewer(liked=True),
        Viewer(retweeted=True),
        Viewer(bookmarked=True),
        Viewer(liked=True, bookmarked=True),
    ],
]


@pytest.mark.parametrize("viewers", VIEWERS)
async def test_a_written_page_is_the_encoded_entities(viewers: list[Viewer | None]) -> None:
    shaper = _ports().shaper(_Caches())
    tweets = _page(viewers)
    cold, entities = await _both(shaper, tweets, "1000")
    assert cold == entities
    assert len(cold) == len(tweets)
    warm, _ = await _both(shaper, tweets, "1000")
    assert warm == entities
    assert {s["id"] for s in cold if s["reblog"]} == {t.id for t in tweets if t.retweet_of}
    assert any(s["media_attachments"] for s in cold)
    assert set(cold[0]) == set(m.Status.__struct_fields__)


async def test_per_viewer_fields_differ_over_the_same_kept_fragments() -> None:
    shaper = _ports().shaper(_Caches())
    liked = await shaper.status_page([_tweet(1, Viewer(liked=True, bookmarked=True))], "1")
    plain = await shaper.status_page([_tweet(1, Viewer())], "2")
    anonymous = await shaper.status_page([_tweet(1, None)], None)
    assert json.loads(liked)[0]["favourited"] is True
    assert json.loads(liked)[0]["bookmarked"] is True
    for body in (plain, anonymous):
        status = json.loads(body)[0]
        assert (status["favourited"], status["reblogged"], status["bookmarked"]) == (False, False, False)
    changed = Tweet(
        **{f: getattr(_tweet(1, None), f) for f in Tweet.__struct_fields__} | {"counts": Counts(likes=99)}
    )
    assert json.loads(await shaper.status_page([changed], None))[0]["favourites_count"] == 99


async def test_an_empty_page_is_an_empty_list() -> None:
    ports = _ports()
    assert await ports.shaper(_Caches()).status_page([], None) == b"[]"
    assert ports.calls == []


async def test_a_profile_change_shows_once_the_kept_account_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    ports = _ports()
    shaper = ports.shaper(_Caches())
    tweets = [_tweet(0, None)]
    assert json.loads(await shaper.status_page(tweets, None))[0]["account"]["display_name"] != "Renamed"
    ports.profiles["1000"] = _profile(0, name="Renamed")
    clock[0] += ACCOUNT_TTL_S / 2
    assert json.loads(await shaper.status_page(tweets, None))[0]["account"]["display_name"] != "Renamed"
    clock[0] += ACCOUNT_TTL_S
    page, entities = await _both(shaper, tweets, None)
    assert page[0]["account"]["display_name"] == "Renamed"
    assert page == entities


async def test_a_page_costs_one_call_per_port_and_none_when_all_is_kept() -> None:
    ports = _ports()
    shaper = ports.shaper(_Caches())
    tweets = [_tweet(i, None) for i in (1, 2, 4)]  # no media
    await shaper.status_page(tweets, None)
    assert sorted(ports.calls) == ["activity", "profiles"]
    ports.calls.clear()
    await shaper.status_page(tweets, None)
    assert ports.calls == []
