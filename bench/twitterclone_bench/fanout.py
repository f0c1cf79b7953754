"""``twitterclone bench fanout``: an author with 100,000 followers posts; who sees it, how fast, at what cost.

The monolith is seeded in this process (``fanout_seed``: a "star" with 100,000 followers, a "near"
author just under the fan-out threshold, small authors with 10 to 1,000 followers, readers who
follow only small authors), then served by ``twitterclone run`` on the same database. While an open
loop of home-timeline reads by the readers ("everyone else") runs at a fixed rate:

A. impact: the reads' latency in a quiet window, then after the star posts, then after the near
   author posts (nobody polls; at a low rate, sampled followers of both read too: what the
   read-time merge of the star's tweets costs them);
B. visibility: the star and the near author post again. Three followers poll 20 ms apart from
   the start (when the tweets really became visible); a sample of followers (1,000 by default)
   is swept, each polled until both tweets show, at most ``--poll-rate`` polls a second and a few
   at a time so the polls do not swamp the server: each of their times is an upper bound (the
   last ones are first looked at seconds later), and all of them seeing both proves the hybrid
   is complete;
C. fan-out lag of small authors: they post one after the other and for each post a few followers
   poll (20 ms apart) until it shows.

Then it reads, through the API, the home timeline of every account it is logged in as and counts
who sees each measured tweet: every follower of its author, and nobody else (whether the tweet
was fanned out or merged at read time is the timeline module's business, not visible here; the
visibility phase shows the difference in time). Figures, a JSON file, and the server's CPU per
phase are reported.
"""

from __future__ import annotations

import asyncio
import math
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from twitterclone.composition import build_runtime
from twitterclone.migrate import migrate_deployment
from twitterclone.settings import Settings
from twitterclone_bench.fanout_seed import PASSWORD, Account, Population, seed_population
from twitterclone_bench.load import CpuMeter, Request, new_session, open_loop
from twitterclone_bench.options import DEFAULT_POSTGRES_URL
from twitterclone_bench.relay import (
    MONOLITH,
    bench_database,
    manifest_for,
    manifest_text,
)
from twitterclone_bench.report import Cpu, Latency, Report, file_name, ms, progress_bars, publish, table
from twitterclone_bench.server import CHEAP_ARGON2, Monolith
from twitterclone_bench.stats import Sample, latency_summary


@dataclass
class FanoutBenchConfig:
    """Every knob of ``twitterclone bench fanout`` (the CLI options, one to one)."""

    database: str = "sqlite"
    postgres_url: str | None = DEFAULT_POSTGRES_URL  # None in the report (it may hold a password)
    workers: int | None = None
    threshold: int = 10_000
    star_followers: int = 100_000
    near_followers: int | None = None  # default: threshold - 1
    small_authors: int = 20
    small_max_followers: int = 1000
    readers: int = 500
    reader_follows: int = 10
    sampled: int = 1000
    tweets_per_author: int = 2
    read_rate: float = 50.0
    follower_read_rate: float = 10.0
    warmup_s: float = 5.0
    window_s: float = 15.0
    small_posts: int = 150
    small_post_rate: float = 5.0
    probes_per_post: int = 2
    fast_probes: int = 3
    poll_rate: float = 50.0
    poll_concurrency: int = 8
    repoll_s: float = 0.25
    give_up_s: float = 30.0
    concurrency: int = 16
    timeout_s: float = 10.0
    seed: int = 1
    out_dir: str = "bench-results"
    label: str = ""

    @property
    def near(self) -> int:
        return self.near_followers if self.near_followers is not None else self.threshold - 1


# --------------------------------------------------------------------------- the report


class Window(msgspec.Struct, kw_only=True):
    """Reads scheduled in [from_s, to_s) seconds since their loop started."""

    from_s: float
    to_s: float
    errors: int
    latency: Latency


class Impact(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A: everyone else's home reads in windows before and after the star's and the near author's posts."""

    read_rate: float
    warmup_s: float
    window_s: float
    star_tweet: str
    near_tweet: str
    windows: dict[str, Window]
    cpu: Cpu
    dropped: int
    #: The sampled followers' own reads (with --follower-read-rate above 0).
    follower_read_rate: float | None = None
    follower_windows: dict[str, Window] | None = None


class NotSeen(msgspec.Struct, kw_only=True):
    count: int
    limit_s: float


class Seen(msgspec.Struct, kw_only=True):
    """B, for one author: of the followers swept, how many saw the tweet, and how soon."""

    swept: int
    seen: int
    not_seen_within_s: NotSeen
    seen_on_first_poll: int
    lag: Latency
    fast_probes: Latency


class Visibility(msgspec.Struct, kw_only=True):
    """B: the star and the near author post; followers poll until both tweets show."""

    sampled_followers: int
    poll_concurrency: int
    poll_rate: float
    polls: int
    first_polls_sent_within_s: float
    star_tweet: str
    near_tweet: str
    background_reads: Window
    cpu: Cpu
    star: Seen
    near: Seen


class PostErrors(msgspec.Struct, kw_only=True):
    count: int
    first: list[str]


class SmallAuthors(msgspec.Struct, kw_only=True):
    """C: fan-out lag of authors with at most ``--small-max-followers`` followers."""

    posts: int
    post_errors: PostErrors
    post_rate: float
    probes: int
    not_seen_within_10s: int
    lag: Latency
    lag_by_followers: dict[str, Latency]
    background_reads: Window
    cpu: Cpu


class Reach(msgspec.Struct, kw_only=True):
    """Of the accounts the bench is logged in as: followers of the author and others, and who sees it."""

    followers_read: int
    followers_seeing: int
    others_read: int
    others_seeing: int


class PopulationFigures(msgspec.Struct, kw_only=True):
    star_followers: int
    near_followers: int
    small_author_followers: list[int]
    readers: int
    sampled_followers: int
    silent_accounts: int


class Seeding(msgspec.Struct, kw_only=True):
    """Seconds seeding took in all (migrations included), and per step."""

    seconds: float
    register_s: float
    silent_accounts_s: float
    follows_s: float
    follow_events_s: float
    tweets_and_fan_out_s: float


class FanoutReport(Report, kw_only=True, omit_defaults=True):
    """``twitterclone bench fanout``: phases A, B, C, who sees the measured tweets, the seeding."""

    config: FanoutBenchConfig
    population: PopulationFigures
    impact: Impact
    visibility: Visibility
    #: None when no small author had a logged-in follower to probe with.
    small_authors: SmallAuthors | None
    home_timeline_reach: dict[str, Reach]
    seeding: Seeding
    server: dict[str, object]

    def render(self, console: Console) -> None:
        impact = self.impact
        title = f"A. everyone else's home reads ({impact.read_rate:g}/s), before and after the posts"
        console.print(_window_table(title, impact.windows))
        if impact.follower_windows is not None:
            title = f"   and home reads of sampled followers of both ({impact.follower_read_rate:g}/s)"
            console.print(_window_table(title, impact.follower_windows))

        vis = self.visibility
        seen_rows: list[tuple[str, ...]] = []
        for label, v in (("star (merged at read)", vis.star), ("near (fanned out)", vis.near)):
            seen_rows.append(
                (label, str(v.swept), str(v.seen), str(v.seen_on_first_poll), *_p50_p99_max(v.lag))
            )
            fast = v.fast_probes
            seen_rows.append(
                (
                    f"{label}, polled 20 ms apart",
                    str(vis.sampled_followers - v.swept),
                    str(fast.count),
                    "",
                    *_p50_p99_max(fast),
                )
            )
        columns = ("author", "followers polled", "seen", "on first poll", "p50 ms", "p99 ms", "max ms")
        title = f"B. time until a follower's poll shows the new tweet ({vis.sampled_followers} followers)"
        console.print(table(title, columns, seen_rows))
        console.print(
            f"  the first polls of all followers went out within {vis.first_polls_sent_within_s} s "
            f"({vis.polls} polls, at most {vis.poll_rate:g}/s): the swept figures are upper bounds"
        )

        small = self.small_authors
        if small is not None:
            lag_rows = [
                (key, str(lat.count), *_p50_p99_max(lat)) for key, lat in small.lag_by_followers.items()
            ]
            lag_rows.append(("all", str(small.lag.count), *_p50_p99_max(small.lag)))
            title = "C. fan-out lag of authors with <= 1,000 followers (post answered -> follower sees it)"
            console.print(table(title, ("followers", "probes", "p50 ms", "p99 ms", "max ms"), lag_rows))
            if small.post_errors.count:
                console.print(f"  [red]{small.post_errors.count} posts failed[/]: {small.post_errors.first}")
            if small.not_seen_within_10s:
                console.print(
                    f"  [red]{small.not_seen_within_10s} probes did not see the post within 10 s[/]"
                )
        reach_rows = [
            (name, str(r.followers_read), str(r.followers_seeing), str(r.others_read), str(r.others_seeing))
            for name, r in self.home_timeline_reach.items()
        ]
        title = "who sees each tweet on their home timeline (every account the bench logged in as)"
        console.print(
            table(title, ("tweet", "followers read", "seeing it", "others read", "seeing it "), reach_rows)
        )


def _p50_p99_max(lat: Latency) -> tuple[str, str, str]:
    return ms(lat.p50_ms), ms(lat.p99_ms), ms(lat.max_ms)


def _window_table(title: str, windows: dict[str, Window]) -> Table:
    before = windows["before"].latency

    def change(now: float, base: float) -> str:
        if not base or math.isnan(base) or math.isnan(now):  # no samples
            return "-"
        return f"{(now / base - 1) * 100:+.0f} %"

    rows = [
        (
            name,
            str(w.latency.count),
            str(w.errors),
            ms(w.latency.p50_ms),
            ms(w.latency.p99_ms),
            change(w.latency.p50_ms, before.p50_ms),
            change(w.latency.p99_ms, before.p99_ms),
        )
        for name, w in windows.items()
    ]
    columns = ("window", "reads", "errors", "p50 ms", "p99 ms", "p50 vs before", "p99 vs before")
    return table(title, columns, rows)


# --------------------------------------------------------------------------- HTTP helpers


async def login_all(
    session: aiohttp.ClientSession, base: str, accounts: list[Account], concurrency: int, progress: Progress
) -> None:
    task = progress.add_task("logging in", total=len(accounts))
    queue = list(accounts)
    failures: list[str] = []

    async def worker() -> None:
        while queue:
            account = queue.pop()
            body = {"login": account.handle, "password": PASSWORD}
            async with session.post(f"{base}/api/auth/login", json=body) as resp:
                data = await resp.json(content_type=None)
                if resp.status != 200:
                    failures.append(f"{account.handle}: {resp.status} {data}")
                else:
                    account.headers = {"Authorization": f"Bearer {data['access_token']}"}
            progress.advance(task)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if failures:
        raise RuntimeError(f"{len(failures)} logins failed, e.g. {failures[0]}")


class PostFailed(RuntimeError):
    """The server did not take a post (after retries)."""


async def post(
    session: aiohttp.ClientSession, base: str, author: Account, text: str, *, attempts: int = 3
) -> tuple[str, float]:
    """Post as ``author``; the tweet id and the loop time the answer arrived.

    An overloaded server (503, 429) or a failed connection is retried after 0.5 s, then 1 s; the
    time is that of the answer that took the post."""
    problem = ""
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(0.5 * 2 ** (attempt - 1))
        try:
            async with session.post(
                f"{base}/api/tweets", json={"text": text}, headers=author.headers
            ) as resp:
                data = await resp.json(content_type=None)
                if resp.status == 201:
                    return str(data["id"]), asyncio.get_running_loop().time()
                problem = f"{resp.status} {data}"
                if resp.status not in (429, 503):
                    break
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            problem = repr(exc)
    raise PostFailed(f"posting as {author.handle} failed: {problem}")


async def home_body(session: aiohttp.ClientSession, base: str, account: Account, limit: int = 20) -> bytes:
    try:
        async with session.get(f"{base}/api/timeline/home?limit={limit}", headers=account.headers) as resp:
            return await resp.read() if resp.status == 200 else b""
    except (aiohttp.ClientError, TimeoutError, OSError):
        return b""


# --------------------------------------------------------------------------- phases


def _windows(samples: list[Sample], edges: list[tuple[str, float, float]]) -> dict[str, Window]:
    """Latency of the reads scheduled in each [start, end) window (seconds since the loop's start)."""
    out: dict[str, Window] = {}
    for name, start, end in edges:
        inside = [s for s in samples if start <= s.scheduled < end]
        out[name] = Window(
            from_s=round(start, 2),
            to_s=round(end, 2),
            errors=sum(1 for s in inside if not s.ok),
            latency=latency_summary(s.latency for s in inside),
        )
    return out


def _reader_requests(base: str, readers: list[Account], rng: random.Random) -> Callable[[int], Request]:
    url = f"{base}/api/timeline/home?limit=20"

    def next_request(_: int) -> Request:
        return Request("home", "GET", url, headers=rng.choice(readers).headers)

    return next_request


async def phase_impact(
    session: aiohttp.ClientSession, base: str, pop: Population, cfg: FanoutBenchConfig, server_pid: int | None
) -> Impact:
    """A: background reads for three windows; the star posts after the first, the near author after it.

    Two open loops: the readers (who follow neither: "everyone else") and, at a lower rate, sampled
    followers of both (whose reads merge the star's tweets in at read time). A warm-up comes first.
    """
    rng = random.Random(cfg.seed + 1)
    w, warm = cfg.window_s, cfg.warmup_s
    loop = asyncio.get_running_loop()
    started = loop.time()
    reads = asyncio.create_task(
        open_loop(
            session,
            _reader_requests(base, pop.readers, rng),
            rate=cfg.read_rate,
            duration_s=warm + 3 * w,
            cpu=CpuMeter(server_pid),
        )
    )
    follower_reads = None
    if cfg.follower_read_rate > 0:
        follower_reads = asyncio.create_task(
            open_loop(
                session,
                _reader_requests(base, pop.sampled, random.Random(cfg.seed + 11)),
                rate=cfg.follower_read_rate,
                duration_s=warm + 3 * w,
            )
        )
    try:
        await asyncio.sleep(max(0.0, started + warm + w - loop.time()))
        star_tweet, star_at = await post(session, base, pop.star, "impact: the star posts #bench")
        await asyncio.sleep(max(0.0, started + warm + 2 * w - loop.time()))
        near_tweet, near_at = await post(session, base, pop.near, "impact: the near author posts #bench")
    except BaseException:
        await _cancel(reads, *([follower_reads] if follower_reads else []))
        raise
    s_off, n_off = star_at - started, near_at - started
    edges = [
        ("before", warm, warm + w),
        ("after_star", warm + w, warm + 2 * w),
        ("after_star_first_2s", s_off, s_off + 2),
        ("after_near", warm + 2 * w, warm + 3 * w),
        ("after_near_first_2s", n_off, n_off + 2),
    ]
    result = await reads
    out = Impact(
        read_rate=cfg.read_rate,
        warmup_s=warm,
        window_s=w,
        star_tweet=star_tweet,
        near_tweet=near_tweet,
        windows=_windows(result.samples, edges),
        cpu=result.cpu,
        dropped=result.dropped,
    )
    if follower_reads is not None:
        followers = await follower_reads
        out.follower_read_rate = cfg.follower_read_rate
        out.follower_windows = _windows(followers.samples, edges)
    return out


async def _cancel(*tasks: asyncio.Task[Any]) -> None:
    """Cancel what is still running and wait for it (nothing may outlive the HTTP session)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Pacer:
    """Spaces calls to ``wait`` at most ``rate`` per second (the polls' own load stays bounded)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next = 0.0

    async def wait(self) -> None:
        now = asyncio.get_running_loop().time()
        slot = max(now, self.next)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


async def probe(
    session: aiohttp.ClientSession,
    base: str,
    follower: Account,
    wanted: dict[str, tuple[bytes, float]],
    give_up_s: float,
) -> dict[str, float | None]:
    """Poll one follower's home timeline (20 ms apart, 50 ms after 2 s; one request at a time) until
    every tweet in ``wanted`` (name -> (id, loop time posted)) shows; seconds from each post to the
    response that showed it, or None after ``give_up_s``."""
    loop = asyncio.get_running_loop()
    start = min(at for _, at in wanted.values())
    found: dict[str, float | None] = dict.fromkeys(wanted)
    while any(v is None for v in found.values()):
        waited = loop.time() - start
        if waited > give_up_s:
            break
        body = await home_body(session, base, follower)
        done = loop.time()
        for name, (needle, at) in wanted.items():
            if found[name] is None and needle in body:
                found[name] = done - at
        await asyncio.sleep(0.02 if waited < 2.0 else 0.05)
    return found


async def phase_visibility(
    session: aiohttp.ClientSession,
    base: str,
    pop: Population,
    cfg: FanoutBenchConfig,
    server_pid: int | None,
    progress: Progress,
) -> Visibility:
    """B: the star and the near author post; the sampled followers poll until both tweets show."""
    loop = asyncio.get_running_loop()
    rng = random.Random(cfg.seed + 2)
    background = asyncio.create_task(
        open_loop(
            session,
            _reader_requests(base, pop.readers, rng),
            rate=cfg.read_rate,
            # context only (the polls are the measurement): about as long as the first polls take
            duration_s=min(cfg.give_up_s, len(pop.sampled) / cfg.poll_rate) + 2.0,
            cpu=CpuMeter(server_pid),
        )
    )
    try:
        await asyncio.sleep(1.0)
        star_tweet, star_at = await post(session, base, pop.star, "visibility: the star posts #bench")
        near_tweet, near_at = await post(session, base, pop.near, "visibility: the near author posts #bench")
    except BaseException:
        await _cancel(background)
        raise
    wanted = {"star": (star_tweet.encode(), star_at), "near": (near_tweet.encode(), near_at)}
    lags: dict[str, list[float]] = {"star": [], "near": []}
    first_look: dict[str, int] = {"star": 0, "near": 0}
    first_poll_at: list[float] = []
    polls = 0
    gate = asyncio.Semaphore(cfg.poll_concurrency)
    pace = Pacer(cfg.poll_rate)
    task = progress.add_task("followers polled until both tweets show", total=len(pop.sampled))
    followers = list(pop.sampled)
    rng.shuffle(followers)
    # A few followers polled 20 ms apart from the start: when the tweets really became visible.
    fast = [
        asyncio.create_task(probe(session, base, f, wanted, cfg.give_up_s))
        for f in followers[: cfg.fast_probes]
    ]

    async def watch(follower: Account) -> None:
        nonlocal polls
        missing = set(wanted)
        first = True
        deadline = near_at + cfg.give_up_s
        while missing and loop.time() < deadline:
            await pace.wait()
            async with gate:
                if first:
                    first_poll_at.append(loop.time() - near_at)
                body = await home_body(session, base, follower)
                done = loop.time()
            polls += 1
            for name in list(missing):
                needle, at = wanted[name]
                if needle in body:
                    missing.discard(name)
                    lags[name].append(done - at)
                    first_look[name] += first
            first = False
            if missing:
                await asyncio.sleep(cfg.repoll_s)
        progress.advance(task)

    await asyncio.gather(*(watch(f) for f in followers[cfg.fast_probes :]))
    fast_found = await asyncio.gather(*fast)
    fast_lags = {name: [f[name] for f in fast_found] for name in wanted}
    progress.advance(task, cfg.fast_probes)
    background_result = await background
    swept = len(followers) - cfg.fast_probes
    seen = {
        name: Seen(
            swept=swept,
            seen=len(lags[name]),
            not_seen_within_s=NotSeen(count=swept - len(lags[name]), limit_s=cfg.give_up_s),
            seen_on_first_poll=first_look[name],
            lag=latency_summary(lags[name]),
            fast_probes=latency_summary(lag for lag in fast_lags[name] if lag is not None),
        )
        for name in wanted
    }
    return Visibility(
        sampled_followers=len(followers),
        poll_concurrency=cfg.poll_concurrency,
        poll_rate=cfg.poll_rate,
        polls=polls,
        first_polls_sent_within_s=round(max(first_poll_at, default=0.0), 3),
        star_tweet=star_tweet,
        near_tweet=near_tweet,
        background_reads=_windows(background_result.samples, [("all", 0.0, 1e9)])["all"],
        cpu=background_result.cpu,
        star=seen["star"],
        near=seen["near"],
    )


async def phase_small_authors(
    session: aiohttp.ClientSession,
    base: str,
    pop: Population,
    cfg: FanoutBenchConfig,
    server_pid: int | None,
    progress: Progress,
) -> SmallAuthors | None:
    """C: small authors post one after the other; a few followers each poll until the post shows."""
    loop = asyncio.get_running_loop()
    rng = random.Random(cfg.seed + 3)
    by_id = {a.user_id: a for a in pop.logins()}
    probers = {
        a.user_id: [by_id[f] for f in pop.followers_of[a.user_id] if f in by_id and by_id[f].headers]
        for a in pop.small
    }
    authors = [a for a in pop.small if probers[a.user_id]]
    if not authors:
        return None
    duration = cfg.small_posts / cfg.small_post_rate
    background = asyncio.create_task(
        open_loop(
            session,
            _reader_requests(base, pop.readers, rng),
            rate=cfg.read_rate,
            duration_s=duration + 2,
            cpu=CpuMeter(server_pid),
        )
    )
    samples: list[tuple[int, float]] = []  # (author's followers, lag)
    missed = 0
    task = progress.add_task("small authors' posts probed", total=cfg.small_posts)
    probes: list[asyncio.Task[None]] = []

    async def probe_post(follower: Account, needle: bytes, at: float, followers: int) -> None:
        nonlocal missed
        lag = (await probe(session, base, follower, {"post": (needle, at)}, 10.0))["post"]
        if lag is None:
            missed += 1
        else:
            samples.append((followers, lag))

    start = loop.time()
    post_errors: list[str] = []
    try:
        for i in range(cfg.small_posts):
            await asyncio.sleep(max(0.0, start + i / cfg.small_post_rate - loop.time()))
            author = rng.choice(authors)
            try:
                tweet, at = await post(session, base, author, f"small author post {i} #bench")
            except PostFailed as exc:
                post_errors.append(str(exc))
                progress.advance(task)
                continue
            followers = len(pop.followers_of[author.user_id])
            for follower in rng.sample(
                probers[author.user_id], min(cfg.probes_per_post, len(probers[author.user_id]))
            ):
                probes.append(asyncio.create_task(probe_post(follower, tweet.encode(), at, followers)))
            progress.advance(task)
        await asyncio.gather(*probes)
        background_result = await background
    finally:
        await _cancel(background, *probes)
    lags = [lag for _, lag in samples]
    buckets: dict[str, list[float]] = {}
    for n, lag in samples:
        key = "10-99" if n < 100 else "100-499" if n < 500 else "500-1000"
        buckets.setdefault(key, []).append(lag)
    return SmallAuthors(
        posts=cfg.small_posts,
        post_errors=PostErrors(count=len(post_errors), first=post_errors[:1]),
        post_rate=cfg.small_post_rate,
        probes=len(samples) + missed,
        not_seen_within_10s=missed,
        lag=latency_summary(lags),
        lag_by_followers={k: latency_summary(v) for k, v in sorted(buckets.items())},
        background_reads=_windows(background_result.samples, [("all", 0.0, 1e9)])["all"],
        cpu=background_result.cpu,
    )


async def home_reach(
    session: aiohttp.ClientSession,
    base: str,
    pop: Population,
    tweets: dict[str, tuple[str, Account]],
    concurrency: int,
) -> dict[str, Reach]:
    """Who sees each tweet (name -> (id, author)) on the first page of their home timeline.

    Every account the bench is logged in as reads its home timeline once (100 entries, through
    the API); per tweet: how many of them follow its author and how many of those see it, how
    many do not follow it and how many of those see it (should be none)."""
    readers = [a for a in pop.logins() if a.headers]
    bodies: dict[str, bytes] = {}
    queue = list(readers)

    async def worker() -> None:
        while queue:
            account = queue.pop()
            bodies[account.user_id] = await home_body(session, base, account, limit=100)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    out: dict[str, Reach] = {}
    for name, (tweet_id, author) in tweets.items():
        followers = set(pop.followers_of[author.user_id])
        needle = f'"{tweet_id}"'.encode()
        others = [a.user_id for a in readers if a.user_id not in followers and a.user_id != author.user_id]
        ours = [a.user_id for a in readers if a.user_id in followers]
        out[name] = Reach(
            followers_read=len(ours),
            followers_seeing=sum(needle in bodies[uid] for uid in ours),
            others_read=len(others),
            others_seeing=sum(needle in bodies[uid] for uid in others),
        )
    return out


# --------------------------------------------------------------------------- the run


async def run_fanout_bench_async(cfg: FanoutBenchConfig, console: Console) -> FanoutReport:
    if not 0 < cfg.sampled <= cfg.near < cfg.threshold <= cfg.star_followers:
        raise ValueError(
            "need 0 < --sample <= --near-followers < --threshold <= --followers "
            f"(got {cfg.sampled}, {cfg.near}, {cfg.threshold}, {cfg.star_followers})"
        )
    argon2 = {k.removeprefix("TWITTERCLONE_ARGON2_").lower(): int(v) for k, v in CHEAP_ARGON2.items()}
    work = Path(tempfile.mkdtemp(prefix="twitterclone-fanout-"))
    try:
        async with bench_database(cfg.database, cfg.postgres_url or DEFAULT_POSTGRES_URL) as url:
            manifest = manifest_for(cfg.database, url)
            manifest_path = MONOLITH
            if url is not None:
                manifest_path = work / "manifest.toml"
                manifest_path.write_text(manifest_text(url))
            server = Monolith(str(manifest_path), workers=cfg.workers)
            server.env["TWITTERCLONE_FANOUT_FOLLOWER_THRESHOLD"] = str(cfg.threshold)
            settings = Settings(
                data_dir=server.env["TWITTERCLONE_DATA_DIR"],
                manifest=str(manifest_path),
                fanout_follower_threshold=cfg.threshold,
                log_level="WARNING",
                argon2_time_cost=argon2["time_cost"],
                argon2_memory_kib=argon2["memory_kib"],
                argon2_parallelism=argon2["parallelism"],
            )
            console.print(
                f"seeding on {cfg.database}: a star with {cfg.star_followers:,} followers, an author with "
                f"{cfg.near:,}, {cfg.small_authors} authors with 10-{cfg.small_max_followers:,}, "
                f"{cfg.readers} readers"
            )
            t0 = time.monotonic()
            await migrate_deployment(manifest, settings)
            runtime = build_runtime(manifest, settings)
            await runtime.start()
            try:
                with progress_bars(console) as progress:
                    pop = await seed_population(
                        runtime,
                        star_followers=cfg.star_followers,
                        near_followers=cfg.near,
                        small_authors=cfg.small_authors,
                        small_max_followers=cfg.small_max_followers,
                        readers=cfg.readers,
                        sampled=cfg.sampled,
                        reader_follows=cfg.reader_follows,
                        tweets_per_author=cfg.tweets_per_author,
                        progress=progress,
                        seed=cfg.seed,
                    )
            finally:
                await runtime.stop()
            seeding_s = time.monotonic() - t0
            console.print(f"seeded in {seeding_s:.0f} s ({pop.timings_s}); starting the server")
            with server:
                return await _measure(
                    cfg,
                    pop,
                    server,
                    console,
                    Seeding(seconds=round(seeding_s, 1), **pop.timings_s),
                    server.describe() | {"fanout_follower_threshold": cfg.threshold},
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def _measure(
    cfg: FanoutBenchConfig,
    pop: Population,
    server: Monolith,
    console: Console,
    seeding: Seeding,
    server_info: dict[str, object],
) -> FanoutReport:
    base = server.url
    async with new_session(
        connections=max(256, cfg.poll_concurrency * 2), timeout_s=cfg.timeout_s
    ) as session:
        with progress_bars(console) as progress:
            await login_all(session, base, pop.logins(), cfg.concurrency, progress)
        console.print(
            f"A. impact on everyone else's home reads ({cfg.read_rate:g}/s open loop, "
            f"3 windows of {cfg.window_s:g} s; the star posts after the first, the near author after the "
            "second)"
        )
        impact = await phase_impact(session, base, pop, cfg, server.pid)
        console.print(f"B. visibility: {len(pop.sampled)} followers polled until both new tweets show")
        with progress_bars(console) as progress:
            visibility = await phase_visibility(session, base, pop, cfg, server.pid, progress)
        console.print(
            f"C. small authors' fan-out lag: {cfg.small_posts} posts at {cfg.small_post_rate:g}/s, "
            f"{cfg.probes_per_post} followers probing each"
        )
        with progress_bars(console) as progress:
            small = await phase_small_authors(session, base, pop, cfg, server.pid, progress)
        console.print(
            "who sees the star's and the near author's tweets (every account logged in reads its home)"
        )
        reach = await home_reach(
            session,
            base,
            pop,
            {
                "star (impact)": (impact.star_tweet, pop.star),
                "near (impact)": (impact.near_tweet, pop.near),
                "star (visibility)": (visibility.star_tweet, pop.star),
                "near (visibility)": (visibility.near_tweet, pop.near),
            },
            cfg.concurrency,
        )
    return FanoutReport(
        config=replace(cfg, postgres_url=None if cfg.database == "sqlite" else "(local server)"),
        population=PopulationFigures(
            star_followers=len(pop.followers_of[pop.star.user_id]),
            near_followers=len(pop.followers_of[pop.near.user_id]),
            small_author_followers=sorted(len(pop.followers_of[a.user_id]) for a in pop.small),
            readers=len(pop.readers),
            sampled_followers=len(pop.sampled),
            silent_accounts=pop.silent_count,
        ),
        impact=impact,
        visibility=visibility,
        small_authors=small,
        home_timeline_reach=reach,
        seeding=seeding,
        server=server_info,
    )


def run_fanout_bench(cfg: FanoutBenchConfig) -> FanoutReport:
    """Run the benchmark, print the tables, write ``<out_dir>/<time>-fanout-<db>.json``."""
    console = Console()
    report = asyncio.run(run_fanout_bench_async(cfg, console))
    publish(report, cfg.out_dir, file_name("fanout", cfg.database, cfg.label), console)
    return report
