"""The request mix, and the fan-out lag probe.

Default mix (DeathStarBench's 60/30/10 read/read/write split, with likes and follows carved out of
it): 58 % home-timeline reads, 29 % user-timeline reads, 9 % posts, 3 % likes, 1 % follows.
Each request acts as a uniformly chosen seeded account (as DeathStarBench does); a user-timeline
read looks at someone the actor follows, a like hits one of the most recent tweets, a follow picks
its target by popularity, and a post carries hashtags and, often, a mention and a URL.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import random
import time
from collections import deque
from dataclasses import dataclass, field

import aiohttp
import msgspec

from twitterclone_bench.load import Request
from twitterclone_bench.options import DEFAULT_MIX, EXTRA_ROUTES
from twitterclone_bench.report import Latency
from twitterclone_bench.seed import Actor, Seeded, post_text
from twitterclone_bench.stats import latency_summary

ROUTES = (*DEFAULT_MIX, *EXTRA_ROUTES)


class Workload:
    """Builds the ``i``-th request of a run from the mix; deterministic for a given seed."""

    def __init__(
        self,
        base_url: str,
        seeded: Seeded,
        mix: dict[str, float],
        *,
        seed: int = 7,
        lag_probe: FanoutProbe | None = None,
    ) -> None:
        self.base = base_url
        self.seeded = seeded
        self.actors = seeded.actors
        self.by_index = {a.index: a for a in seeded.actors}
        self.rng = random.Random(seed)
        self.routes = [r for r, w in mix.items() if w > 0]
        self.cum = list(itertools.accumulate(mix[r] for r in self.routes))
        self.recent: deque[str] = deque(seeded.tweet_ids[-2000:], maxlen=2000)
        self.followees: dict[int, list[int]] = {}
        for a, b in seeded.graph.edges:
            if b in self.by_index:
                self.followees.setdefault(a, []).append(b)
        indeg = [len(seeded.graph.followers.get(a.index, ())) + 1 for a in self.actors]
        self.popular_cum = list(itertools.accumulate(indeg))
        self.lag_probe = lag_probe
        self.posted = 0

    def route_at(self, _i: int) -> str:
        return self.routes[bisect.bisect_left(self.cum, self.rng.random() * self.cum[-1])]

    def __call__(self, i: int) -> Request:
        return self.build(self.route_at(i))

    def build(self, route: str, actor: Actor | None = None) -> Request:
        """The request of ``route``, as ``actor`` (default: a uniformly chosen seeded account)."""
        actor = actor if actor is not None else self.rng.choice(self.actors)
        if route == "home":
            return Request("home", "GET", f"{self.base}/api/timeline/home?limit=20", actor.headers)
        if route == "mastodon_home":
            url = f"{self.base}/api/v1/timelines/home?limit=20"
            return Request("mastodon_home", "GET", url, actor.headers)
        if route == "user_timeline":
            who = self.followees.get(actor.index)
            target = self.by_index[self.rng.choice(who)] if who else self.rng.choice(self.actors)
            return Request(
                "user_timeline",
                "GET",
                f"{self.base}/api/users/{target.user_id}/tweets?limit=20",
                actor.headers,
            )
        if route == "like" and self.recent:
            tweet = self.recent[-1 - min(len(self.recent) - 1, int(self.rng.expovariate(1 / 50)))]
            return Request("like", "PUT", f"{self.base}/api/tweets/{tweet}/like", actor.headers)
        if route == "follow":
            pick = bisect.bisect_left(self.popular_cum, self.rng.random() * self.popular_cum[-1])
            target = self.actors[min(pick, len(self.actors) - 1)]
            if target is actor:
                target = self.actors[(pick + 1) % len(self.actors)]
            return Request(
                "follow", "PUT", f"{self.base}/api/users/me/following/{target.user_id}", actor.headers
            )
        # post (and a like before any tweet exists)
        self.posted += 1
        who = self.followees.get(actor.index)
        mention = f"{self.seeded.prefix}{self.rng.choice(who)}" if who else None
        text = post_text(self.rng, mention, self.posted)

        def after(body: bytes, done: float) -> None:
            tweet_id = _id_of(body)
            if tweet_id:
                self.recent.append(tweet_id)
                if self.lag_probe is not None:
                    self.lag_probe.offer(actor, tweet_id, done)

        return Request("post", "POST", f"{self.base}/api/tweets", actor.headers, {"text": text}, after)


def _id_of(body: bytes) -> str | None:
    # {"id":"123",...}: the first field of a Tweet; avoid a full JSON parse on the generator's core
    marker = b'"id":"'
    at = body.find(marker)
    if at < 0:
        return None
    end = body.find(b'"', at + len(marker))
    return body[at + len(marker) : end].decode()


class FanoutLag(msgspec.Struct, kw_only=True):
    """Posts followed to a follower's home timeline: how many showed, and after how long."""

    probed: int
    visible: int
    not_visible_within_s: dict[str, float]
    polls: int
    lag: Latency
    lag_authors_le_1000_followers: Latency


@dataclass
class FanoutProbe:
    """Fan-out lag: for a sample of posts, poll one follower's home timeline until the tweet shows.

    At most ``max_concurrent`` probes at once and one new probe per ``every_s``, so the probe's own
    reads stay a small, separate load (they are not counted in the route statistics). Lag is from
    the post's response (accepted) to the first poll that sees it; polls are 5 ms apart for the
    first 200 ms, then 25 ms, then 100 ms after 2 s, so the resolution is finer than the targets.
    """

    session: aiohttp.ClientSession
    base_url: str
    followers_of: dict[int, list[int]]
    by_index: dict[int, Actor]
    every_s: float = 0.2
    max_concurrent: int = 4
    give_up_s: float = 10.0
    seed: int = 11
    lags_s: list[float] = field(default_factory=list)
    follower_counts: list[int] = field(default_factory=list)
    missed: int = 0
    polls: int = 0
    _last: float = 0.0
    _active: set[asyncio.Task[None]] = field(default_factory=set)
    _rng: random.Random = field(default_factory=random.Random)
    enabled: bool = True

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def offer(self, author: Actor, tweet_id: str, accepted: float) -> None:
        """A post was accepted at loop time ``accepted``; maybe probe its fan-out."""
        followers = [f for f in self.followers_of.get(author.index, ()) if f in self.by_index]
        if not self.enabled or not followers or len(self._active) >= self.max_concurrent:
            return
        if accepted - self._last < self.every_s:
            return
        self._last = accepted
        follower = self.by_index[self._rng.choice(followers)]
        task = asyncio.get_running_loop().create_task(
            self._probe(follower, tweet_id, accepted, len(followers))
        )
        self._active.add(task)
        task.add_done_callback(self._active.discard)

    async def _probe(self, follower: Actor, tweet_id: str, accepted: float, followers: int) -> None:
        loop = asyncio.get_running_loop()
        needle = tweet_id.encode()
        url = f"{self.base_url}/api/timeline/home?limit=20"
        while True:
            waited = loop.time() - accepted
            if waited > self.give_up_s:
                self.missed += 1
                return
            try:
                async with self.session.get(url, headers=follower.headers) as resp:
                    body = await resp.read()
            except (aiohttp.ClientError, TimeoutError, OSError):
                body = b""
            self.polls += 1
            if needle in body:
                self.lags_s.append(loop.time() - accepted)
                self.follower_counts.append(followers)
                return
            await asyncio.sleep(0.005 if waited < 0.2 else 0.025 if waited < 2.0 else 0.1)

    async def stop(self, wait_s: float = 11.0) -> None:
        """Let running probes finish (they give up on their own)."""
        self.enabled = False
        if self._active:
            await asyncio.wait(set(self._active), timeout=wait_s)

    def summary(self) -> FanoutLag:
        small = [lag for lag, n in zip(self.lags_s, self.follower_counts, strict=True) if n <= 1000]
        return FanoutLag(
            probed=len(self.lags_s) + self.missed,
            visible=len(self.lags_s),
            not_visible_within_s={"count": self.missed, "limit_s": self.give_up_s},
            polls=self.polls,
            lag=latency_summary(self.lags_s),
            lag_authors_le_1000_followers=latency_summary(small),
        )


def stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")
