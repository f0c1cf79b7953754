"""Seeding for ``twitterclone bench fanout``: an author with 100,000 followers, fast and consistent.

Registering 100,000 accounts through the API costs an argon2 hash each, and following through the
API one transaction each: hours. So the seeding runs the monolith's modules in this process, on
the deployment's own database (wired by the composition root), and talks to them through their
ports only:

- registers through ``UsersPort.register`` every account the benchmark logs in as: the authors,
  the readers, and the sampled followers it polls;
- imports the other followers ("silent" accounts: never logged in as) and every follow through
  ``UsersPort.import_accounts``, 10,000 a call: no password hash, one transaction per call, and
  the events ``register`` and ``follow`` emit (``UserRegistered``, ``UserFollowed``), which the
  consumers then apply as they would for people (back-fill, notifications, counters);
- waits until those events are applied, then posts every author's first tweets through the tweets
  port with the relays running, so the home timelines are filled by the real fan-out, and waits
  until every outbox is empty.

The data is what the modules make of it: nothing is written behind their backs.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from rich.progress import Progress

from boundaries.tweets.dto import PostTweet
from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import MAX_IMPORT, AccountImport, ImportedAccount, ImportedFollow, Register
from boundaries.users.port import UsersPort
from twitterclone.composition import Runtime

T = TypeVar("T")

PASSWORD = "bench password 1"  # noqa: S105 - throwaway accounts of a throwaway deployment
#: Handle characters the look-alike fold leaves alone (it maps 0, 1, i, m, w and d).
SAFE = "abcefghjknpqrstuvxyz23456789"


def handle(prefix: str, n: int) -> str:
    """``prefix`` and ``n`` in the SAFE alphabet: unique, and its own look-alike skeleton."""
    digits = ""
    while True:
        n, r = divmod(n, len(SAFE))
        digits = SAFE[r] + digits
        if n == 0:
            return prefix + digits


@dataclass
class Account:
    """An account the benchmark knows: its id, handle, and (once logged in) its headers."""

    user_id: str
    handle: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Population:
    """Who follows whom in the fan-out benchmark."""

    star: Account
    near: Account
    small: list[Account]
    readers: list[Account]
    #: Followers of ``near`` (so of ``star`` too) the benchmark logs in as and polls.
    sampled: list[Account]
    #: author user id -> follower user ids
    followers_of: dict[str, list[str]]
    silent_count: int
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def authors(self) -> list[Account]:
        return [self.star, self.near, *self.small]

    def logins(self) -> list[Account]:
        """Every account the benchmark acts as."""
        return [*self.authors, *self.readers, *self.sampled]


def _small_sizes(count: int, largest: int, rng: random.Random) -> list[int]:
    """Follower counts spread evenly on a log scale from 10 to ``largest`` (the largest included)."""
    if count <= 0:
        return []
    if count == 1:
        return [largest]
    low = min(10, largest)
    ratio = (largest / low) ** (1 / (count - 1))
    sizes = [max(1, round(low * ratio**i)) for i in range(count)]
    sizes[-1] = largest
    rng.shuffle(sizes)
    return sizes


async def seed_population(
    runtime: Runtime,
    *,
    star_followers: int,
    near_followers: int,
    small_authors: int,
    small_max_followers: int,
    readers: int,
    sampled: int,
    reader_follows: int,
    tweets_per_author: int,
    progress: Progress,
    seed: int = 1,
) -> Population:
    """Seed the population described in the module docstring; every count is exact."""
    if not 0 < sampled <= near_followers <= star_followers:
        raise ValueError("need 0 < sampled <= near followers <= star followers")
    rng = random.Random(seed)
    users: UsersPort = await runtime.get(UsersPort)
    tweets: TweetsPort = await runtime.get(TweetsPort)
    timings: dict[str, float] = {}

    t0 = time.monotonic()
    registered = 2 + small_authors + readers + sampled
    task = progress.add_task("accounts (users port)", total=registered)

    async def register(handle_: str) -> Account:
        account = await users.register(
            Register(
                handle=handle_, email=f"{handle_}@bench.example", password=PASSWORD, display_name=handle_
            )
        )
        progress.advance(task)
        return Account(account.profile.id, handle_)

    star = await register("fstar")
    near = await register("fnear")
    small = [await register(handle("fa", i)) for i in range(small_authors)]
    reader_accounts = [await register(handle("fr", i)) for i in range(readers)]
    sampled_accounts = [await register(handle("fs", i)) for i in range(sampled)]
    timings["register_s"] = time.monotonic() - t0

    t0 = time.monotonic()
    silent_count = star_followers - sampled
    silent_ids = await _import_silent_accounts(users, silent_count, progress)
    timings["silent_accounts_s"] = time.monotonic() - t0

    # The graph: star <- every follower; near <- the sampled + the first silent ones; each small
    # author <- exactly its share of followers: some readers (at most half), a few sampled ones
    # (to probe with), the rest at random. Readers follow only small authors.
    t0 = time.monotonic()
    everyone = [a.user_id for a in sampled_accounts] + silent_ids
    followers_of: dict[str, list[str]] = {star.user_id: list(everyone)}
    followers_of[near.user_id] = everyone[:near_followers]
    sampled_ids = [a.user_id for a in sampled_accounts]
    sizes = dict(
        zip((a.user_id for a in small), _small_sizes(small_authors, small_max_followers, rng), strict=True)
    )
    chosen: dict[str, list[str]] = {a.user_id: [] for a in small}
    for reader in reader_accounts:
        room = [a for a in small if len(chosen[a.user_id]) < sizes[a.user_id] // 2]
        for author in rng.sample(room, min(reader_follows, len(room))):
            chosen[author.user_id].append(reader.user_id)
    for author in small:
        size = min(sizes[author.user_id], len(everyone))
        picked = dict.fromkeys(chosen[author.user_id])
        picked.update(dict.fromkeys(rng.sample(sampled_ids, min(5, len(sampled_ids), size - len(picked)))))
        while len(picked) < size:
            picked.setdefault(rng.choice(everyone))
        followers_of[author.user_id] = list(picked)
    await _import_follows(users, followers_of, progress)
    timings["follows_s"] = time.monotonic() - t0
    t0 = time.monotonic()
    await runtime.drain_events(timeout_s=1800)  # every consumer has applied the follows
    timings["follow_events_s"] = time.monotonic() - t0

    # First tweets, fanned out by the real consumers (the relays run in this process).
    t0 = time.monotonic()
    posters = [star, near, *small, *reader_accounts]
    task = progress.add_task("first tweets (tweets port)", total=len(posters) * tweets_per_author)
    for n in range(tweets_per_author):
        for author in posters:
            await tweets.post(
                author.user_id, PostTweet(text=f"seeded tweet {n} by {author.handle} #bench"), None
            )
            progress.advance(task)
    await runtime.drain_events(timeout_s=600)
    timings["tweets_and_fan_out_s"] = time.monotonic() - t0
    return Population(
        star=star,
        near=near,
        small=small,
        readers=reader_accounts,
        sampled=sampled_accounts,
        followers_of=followers_of,
        silent_count=silent_count,
        timings_s={k: round(v, 2) for k, v in timings.items()},
    )


def _chunks(items: list[T], size: int = MAX_IMPORT) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def _import_silent_accounts(users: UsersPort, count: int, progress: Progress) -> list[str]:
    """Accounts nobody logs in as, through ``UsersPort.import_accounts`` (no password to hash)."""
    task = progress.add_task("silent followers (users port, bulk)", total=count)
    ids: list[str] = []
    for chunk in _chunks([handle("fb", i) for i in range(count)]):
        accounts = [ImportedAccount(handle=h, email=f"{h}@bench.example") for h in chunk]
        ids.extend((await users.import_accounts(AccountImport(accounts=accounts))).ids)
        progress.advance(task, len(chunk))
    return ids


async def _import_follows(users: UsersPort, followers_of: dict[str, list[str]], progress: Progress) -> None:
    """Every follow of the graph, through ``UsersPort.import_accounts``."""
    edges = [
        ImportedFollow(follower_id=follower, followee_id=author)
        for author, followers in followers_of.items()
        for follower in followers
    ]
    task = progress.add_task("follows (users port, bulk)", total=len(edges))
    for chunk in _chunks(edges):
        await users.import_accounts(AccountImport(follows=chunk))
        progress.advance(task, len(chunk))
