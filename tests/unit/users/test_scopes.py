"""Mastodon's scope vocabulary: what a broad scope implies, and what a route's need accepts."""

from __future__ import annotations

import pytest

from boundaries.users.scopes import SCOPES, covers, expand, ordered, split, unknown, within


def test_broad_scopes_imply_their_granular_ones() -> None:
    assert {"read:statuses", "read:accounts", "read:bookmarks", "profile"} <= expand(["read"])
    assert {"write:statuses", "write:media", "write:accounts"} <= expand(["write"])
    assert expand(["follow"]) >= {"read:follows", "write:follows", "read:blocks", "write:mutes"}
    assert "write:statuses" not in expand(["follow"])
    assert expand(["push"]) == {"push"}


@pytest.mark.parametrize(
    ("granted", "needed", "ok"),
    [
        (["read"], "read:statuses", True),
        (["read:statuses"], "read:statuses", True),
        (["read:statuses"], "read:accounts", False),
        (["write"], "write:media", True),
        (["follow"], "write:follows", True),
        (["write"], "write:follows", True),
        (["read:accounts"], "profile", True),
        (["profile"], "read:accounts", False),
        (["read:statuses"], "read", False),  # a broad need takes the broad scope
        (["write:media"], "write", False),
        (["read", "write", "follow"], "follow", True),
    ],
)
def test_a_need_is_covered_by_the_scope_or_a_broader_one(granted: list[str], needed: str, ok: bool) -> None:
    assert covers(frozenset(granted), needed) is ok
    assert covers(granted, needed) is ok


def test_asking_within_what_an_app_may_have() -> None:
    assert within(["read:statuses", "write:media"], ["read", "write"])
    assert not within(["follow"], ["read", "write"])
    assert within(["write:follows"], ["follow"])


def test_spelling_and_order() -> None:
    assert split("  read  write read ") == ["read", "write"]
    assert unknown(["read", "admin:read", "nope"]) == ["admin:read", "nope"]
    assert ordered({"push", "read:statuses", "read"}) == "read push read:statuses"
    assert len(SCOPES) == len(set(SCOPES))
