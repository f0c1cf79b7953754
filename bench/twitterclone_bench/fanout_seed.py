"""Seeding for ``twitterclone bench fanout``: an author with 100,000 followers, fast and consistent.

Registering 100,000 accounts through the API costs an argon2 hash each, and following through the
API one transaction and one ``UserFollowed`` event each (back-fill, notification, counters): hours.
So the seeding runs the monolith's modules in this process, on the deployment's own database, and:

- registers through the users port (``UsersPort.register``) every account the benchmark logs in as:
  the authors, the readers, and the sampled followers it polls;
- writes the other followers ("silent" accounts: never logged in as) with one multi-row insert per
  chunk into the users module's own ``users`` table, with every column the module fills (the table
  is reflected from the database, so a column added later that has no default makes seeding stop
  with a message rather than write bad rows); their handles avoid the characters the look-alike
  fold changes, so ``handle_skeleton`` is the lowercased handle and stays unique;
- writes every follow into ``follows`` the same way and sets ``followers_count`` and
  ``following_count`` to what was written. No ``UserFollowed`` events are emitted for them: the
  followed authors have not posted yet (a back-fill would copy nothing), and the follow
  notifications and the analytics' new-follower counters of seeding are of no use to this benchmark;
- then posts every author's first tweets through the tweets port with the relays running, so the
  home timelines are filled by the real fan-out, and waits until every outbox is empty.

The data is as the modules would have it (the graph, its counts, the timelines), except for those
notifications and counters.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from rich.progress import Progress

from boundaries.tweets.dto import PostTweet
from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import Register
from boundaries.users.port import UsersPort
from twitterclone.composition import Runtime
from twitterclone.infra.store import ModuleStore

PASSWORD = "bench password 1"  # noqa: S105 - throwaway accounts of a throwaway deployment
#: Handle characters the look-alike fold leaves alone (it maps 0, 1, i, m, w and d).
SAFE = "abcefghjknpqrstuvxyz23456789"
#: Rows per multi-row insert.
CHUNK = 2000


class SeedingError(RuntimeError):
    """The deployment's schema is not what the bulk seeding knows how to fill."""


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
    argon2: dict[str, int],
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
    store = runtime.kernel.store("users")
    silent_count = star_followers - sampled
    hasher = PasswordHasher(
        time_cost=argon2["time_cost"],
        memory_cost=argon2["memory_kib"],
        parallelism=argon2["parallelism"],
        type=Type.ID,
    )
    unusable = hasher.hash(secrets.token_urlsafe(24))  # nobody logs in as a silent account
    silent_ids = await _insert_silent_accounts(store, runtime, silent_count, unusable, progress)
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
    await _insert_follows(store, followers_of, progress)
    timings["follows_s"] = time.monotonic() - t0

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


async def _reflect(store: ModuleStore, name: str) -> sa.Table:
    async with store.engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: sa.Table(name, sa.MetaData(), schema=store.schema, autoload_with=sync)
        )


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def _insert_silent_accounts(
    store: ModuleStore, runtime: Runtime, count: int, password_hash: str, progress: Progress
) -> list[str]:
    users = await _reflect(store, "users")
    now = datetime.now(UTC)
    ids = [runtime.kernel.ids.next_int() for _ in range(count)]
    rows: list[dict[str, Any]] = []
    for i, user_id in enumerate(ids):
        h = handle("fb", i)
        row = {
            "id": user_id,
            "handle": h,
            "handle_lower": h,
            "email": f"{h}@bench.example",
            "password_hash": password_hash,
            "display_name": h,
            "created_at": now,
        }
        if "handle_skeleton" in users.c:
            row["handle_skeleton"] = h  # SAFE handles are their own skeleton
        rows.append(row)
    known = set(rows[0]) if rows else set()
    missing = [
        c.name
        for c in users.columns
        if c.name not in known and not c.nullable and c.server_default is None and c.autoincrement is not True
    ]
    if missing:
        raise SeedingError(
            f"users.{', users.'.join(missing)} has no default and the bulk seeding does not fill it: "
            "update twitterclone/bench/fanout_seed.py"
        )
    task = progress.add_task("silent followers (bulk insert)", total=count)
    for chunk in _chunks(rows, CHUNK):
        async with store.transaction() as tx:
            await tx.conn.execute(users.insert(), chunk)
        progress.advance(task, len(chunk))
    return [str(i) for i in ids]


async def _insert_follows(store: ModuleStore, followers_of: dict[str, list[str]], progress: Progress) -> None:
    follows = await _reflect(store, "follows")
    users = await _reflect(store, "users")
    now = datetime.now(UTC)
    pairs = [(int(f), int(author)) for author, followers in followers_of.items() for f in followers]
    rows = [{"follower_id": f, "followee_id": a, "created_at": now} for f, a in pairs]
    followers_count: dict[int, int] = {}
    following_count: dict[int, int] = {}
    for follower, followee in pairs:
        followers_count[followee] = followers_count.get(followee, 0) + 1
        following_count[follower] = following_count.get(follower, 0) + 1
    task = progress.add_task("follows (bulk insert)", total=len(rows))
    for chunk in _chunks(rows, CHUNK):
        async with store.transaction() as tx:
            await tx.conn.execute(follows.insert(), chunk)
        progress.advance(task, len(chunk))
    counts = [
        {"b_id": uid, "b_followers": followers_count.get(uid, 0), "b_following": following_count.get(uid, 0)}
        for uid in sorted(set(followers_count) | set(following_count))
    ]
    update = (
        sa.update(users)
        .where(users.c.id == sa.bindparam("b_id"))
        .values(followers_count=sa.bindparam("b_followers"), following_count=sa.bindparam("b_following"))
    )
    task = progress.add_task("follow counts", total=len(counts))
    for chunk in _chunks(counts, CHUNK):
        async with store.transaction() as tx:
            await tx.conn.execute(update, chunk)
        progress.advance(task, len(chunk))
