"""Follows and unfollows that cross each other: A follows B while B follows A, all at once.

Each of them changes two users' counters. Without one order of taking those rows, two such
transactions on PostgreSQL each held the row the other wanted next: "deadlock detected", a 500
from users.follow (found seeding ``twitterclone bench scale`` on the split deployment).
"""

from __future__ import annotations

import asyncio

from boundaries.users.port import UsersPort
from tests.contract.users.users_contract_kit import make

PAIRS = 12


async def test_mutual_follows_and_unfollows_at_once_all_succeed(users_port: UsersPort) -> None:
    pairs = [(await make(users_port, f"left{i}"), await make(users_port, f"right{i}")) for i in range(PAIRS)]
    for _ in range(2):
        await asyncio.gather(
            *(users_port.follow(a, b) for a, b in pairs), *(users_port.follow(b, a) for a, b in pairs)
        )
        for user in (u for pair in pairs for u in pair):
            profile = await users_port.profile(user)
            assert (profile.followers_count, profile.following_count) == (1, 1)
        await asyncio.gather(
            *(users_port.unfollow(a, b) for a, b in pairs), *(users_port.unfollow(b, a) for a, b in pairs)
        )
        for user in (u for pair in pairs for u in pair):
            profile = await users_port.profile(user)
            assert (profile.followers_count, profile.following_count) == (0, 0)
