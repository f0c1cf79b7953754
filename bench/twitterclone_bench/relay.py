"""``twitterclone bench relay``: how fast the outbox relay drains a burst of events, in events/s.

The whole monolith runs in this process (the real composition root, real stores on SQLite files
or on a fresh PostgreSQL database, the in-process bus and every module's consumers), so nothing
but the relays and the consumers is measured. Each burst is written with the relays stopped
(through the modules' own ports, as requests would), then the relays start and the clock runs
until every outbox is empty, i.e. every consumer of every event has applied it:

1. ``posts``: every account posts (``TweetPosted``: fan-out, mentions, counters, trends);
2. ``follows``: a burst of follows between random accounts (``UserFollowed``: timeline back-fill,
   a notification, counters), the burst that used to drain at ~10 events/s after seeding;
3. ``posts-followed``: every account posts again, now with followers to fan out to.

The rate is source events (the burst's outbox rows) per second of drain. Everything derived that
the consumers emit is drained too and counted as ``outbox_rows``: the events the relays handed to
the bus (counted by a wrapper around the runtime's publisher) plus any left when the clock stopped
(the relays' own ``backlog()``), so the tool never reads the outbox table itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from boundaries._kernel.events import Event
from boundaries.tweets.dto import PostTweet
from boundaries.tweets.port import TweetsPort
from boundaries.users.dto import Register
from boundaries.users.port import UsersPort
from twitterclone.composition import Runtime, build_runtime
from twitterclone.infra.events import Publisher, Replay
from twitterclone.manifest import MODULE_NAMES, Manifest, load_manifest, parse_manifest
from twitterclone.migrate import migrate_deployment
from twitterclone.settings import Settings
from twitterclone_bench.options import DEFAULT_POSTGRES_URL
from twitterclone_bench.report import Report, file_name, progress_bars, publish, table

MONOLITH = Path(__file__).resolve().parents[2] / "deployments" / "monolith.toml"
#: Databases this tool creates (and only these are ever dropped by it).
DB_PREFIX = "tc_bench_"
PASSWORD = "bench password 1"  # noqa: S105 - throwaway accounts of a throwaway database
#: argon2id as cheap as argon2-cffi allows: the benches seed accounts, they do not measure hashing.
CHEAP_ARGON2: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}


class BenchSetupError(RuntimeError):
    """The benchmark could not set up its deployment (database unreachable, bad option)."""


# --------------------------------------------------------------------------- deployments


def manifest_text(url: str) -> str:
    """A monolith manifest on one PostgreSQL database, a schema per module."""
    modules = "\n".join(f'[modules.{m}]\nplacement = "local"\n' for m in MODULE_NAMES)
    return (
        f'name = "bench-postgresql"\n\n[database]\nkind = "postgresql"\nurl = "{url}"\n'
        f'schema_per_module = true\n\n[gateway]\nhost = "127.0.0.1"\nport = 8000\nworkers = 1\n\n{modules}'
    )


def manifest_for(database: str, url: str | None) -> Manifest:
    """The monolith's manifest on SQLite files, or on one PostgreSQL database (a schema per module)."""
    if database == "sqlite":
        return load_manifest(MONOLITH)
    if database != "postgresql" or not url:
        raise BenchSetupError(f"unknown database {database!r}; allowed: sqlite, postgresql")
    return parse_manifest(manifest_text(url), source="<bench manifest>")


@contextlib.asynccontextmanager
async def bench_database(database: str, admin_url: str) -> AsyncIterator[str | None]:
    """A fresh PostgreSQL database ``tc_bench_<hex>`` for the block (dropped after); None for SQLite."""
    if database == "sqlite":
        yield None
        return
    admin = make_url(admin_url)
    name = f"{DB_PREFIX}{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except (OSError, sa.exc.SQLAlchemyError) as exc:
        await engine.dispose()
        raise BenchSetupError(f"cannot create a database on {admin.render_as_string()}: {exc}") from exc
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        async with engine.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await engine.dispose()


@contextlib.asynccontextmanager
async def in_process_runtime(
    database: str, admin_url: str, *, manifest: Manifest | None = None, **settings: Any
) -> AsyncIterator[Runtime]:
    """The monolith wired in this process on a fresh data directory (and database), started.

    ``manifest`` replaces the monolith's (SQLite only): e.g. one with a ``[redis]`` section."""
    data_dir = Path(tempfile.mkdtemp(prefix="twitterclone-bench-"))
    try:
        async with bench_database(database, admin_url) as url:
            manifest = manifest or manifest_for(database, url)
            options: dict[str, Any] = {"log_level": "WARNING", **CHEAP_ARGON2, **settings}
            s = Settings(data_dir=str(data_dir / "data"), **options)
            await migrate_deployment(manifest, s)
            runtime = build_runtime(manifest, s)
            runtime.publisher = CountingPublisher(runtime.publisher)  # before start: the relays take it
            await runtime.start()
            try:
                yield runtime
            finally:
                await runtime.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# --------------------------------------------------------------------------- measuring


@dataclass
class RelayBenchConfig:
    """Every knob of ``twitterclone bench relay``."""

    database: str = "sqlite"
    postgres_url: str | None = DEFAULT_POSTGRES_URL  # None in the report (it may hold a password)
    users: int = 500
    follows: int = 5000
    tweets_per_user: int = 2
    timeout_s: float = 600.0
    seed: int = 1
    out_dir: str = "bench-results"
    label: str = ""


class DrainResult(msgspec.Struct, kw_only=True):
    """One burst: how many events, how long they took to drain, how much CPU that took."""

    phase: str
    events: int
    write_s: float
    drain_s: float
    events_per_s: float
    outbox_rows: int
    drained: bool
    cpu_cores: float
    relay: dict[str, int | None] = {}


class RelayReport(Report, kw_only=True):
    """``twitterclone bench relay``: each burst and how fast it drained."""

    config: RelayBenchConfig
    phases: list[DrainResult]

    def render(self, console: Console) -> None:
        rows = [
            (
                p.phase,
                str(p.events),
                f"{p.write_s:.1f}",
                f"{p.drain_s:.2f}" + ("" if p.drained else " (timeout)"),
                f"{p.events_per_s:,.0f}",
                str(p.outbox_rows),
                f"{p.cpu_cores:.2f}",
            )
            for p in self.phases
        ]
        columns = ("burst", "events", "write s", "drain s", "events/s", "outbox rows", "cores")
        console.print(table(f"outbox relay drain ({self.config.database})", columns, rows))


class CountingPublisher:
    """The runtime's publisher, counting the events the relays hand it (each outbox row published)."""

    def __init__(self, inner: Publisher) -> None:
        self.inner = inner
        self.events = 0

    def consumers_of(self, event_type: str) -> list[str]:
        return self.inner.consumers_of(event_type)

    async def publish(self, event: Event, consumers: list[str]) -> list[str]:
        self.events += 1
        return await self.inner.publish(event, consumers)

    async def publish_many(
        self, items: Sequence[tuple[Event, list[str]]], *, source: str | None = None
    ) -> list[list[str]]:
        self.events += len(items)
        return await self.inner.publish_many(items, source=source)

    async def replays(self, source: str) -> list[Replay]:
        return await self.inner.replays(source)

    async def replayed(self, source: str, replays: list[Replay]) -> None:
        await self.inner.replayed(source, replays)


def published(runtime: Runtime) -> int:
    """Events the relays have handed to the bus so far (the runtime of ``in_process_runtime``)."""
    assert isinstance(runtime.publisher, CountingPublisher)
    return runtime.publisher.events


async def total_backlog(runtime: Runtime) -> int:
    """Outbox rows not yet published, over every local module (an index range: cheap to poll)."""
    return sum([await relay.backlog() for relay in runtime.relays])


async def measure_drain(
    runtime: Runtime,
    phase: str,
    write_burst: Callable[[Progress], Awaitable[int]],
    *,
    timeout_s: float,
    console: Console,
) -> DrainResult:
    """Stop the relays, write a burst, start them, and time until every outbox is empty."""
    for relay in runtime.relays:
        await relay.stop()
    handed_before = published(runtime)
    rows_before = handed_before + await total_backlog(runtime)  # every outbox row ever written
    with progress_bars(console) as progress:
        t0 = time.monotonic()
        events = await write_burst(progress)
        write_s = time.monotonic() - t0
        backlog = await total_backlog(runtime)
        task = progress.add_task(f"{phase}: draining", total=backlog)
        cpu0, t1 = time.process_time(), time.monotonic()
        for relay in runtime.relays:
            relay.start()
        drained = False
        while time.monotonic() - t1 < timeout_s:
            left = await total_backlog(runtime)
            progress.update(task, completed=max(0, backlog - left), total=max(backlog, backlog - left))
            if left == 0:
                drained = True
                break
            await asyncio.sleep(0.2)
        drain_s = time.monotonic() - t1
        cpu = (time.process_time() - cpu0) / max(drain_s, 1e-9)
    handed = published(runtime) - handed_before
    rows = published(runtime) + await total_backlog(runtime) - rows_before
    rate = (events if drained else handed * events / max(rows, 1)) / max(drain_s, 1e-9)
    return DrainResult(
        phase=phase,
        events=events,
        write_s=round(write_s, 2),
        drain_s=round(drain_s, 3),
        events_per_s=round(rate, 1),
        outbox_rows=rows,
        drained=drained,
        cpu_cores=round(cpu, 2),
        relay={"batch_size": runtime.relays[0].batch_size if runtime.relays else None},
    )


async def _register_all(users: UsersPort, count: int, progress: Progress, tag: str) -> list[str]:
    task = progress.add_task("accounts", total=count)
    ids: list[str] = []
    for i in range(count):
        account = await users.register(
            Register(handle=f"r{tag}{i}", email=f"r{tag}{i}@example.org", password=PASSWORD)
        )
        ids.append(account.profile.id)
        progress.advance(task)
    return ids


async def run_relay_bench_async(config: RelayBenchConfig, console: Console) -> RelayReport:
    rng = random.Random(config.seed)
    tag = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(3))
    results: list[DrainResult] = []
    async with in_process_runtime(config.database, config.postgres_url or DEFAULT_POSTGRES_URL) as runtime:
        users: UsersPort = await runtime.get(UsersPort)
        tweets: TweetsPort = await runtime.get(TweetsPort)
        with progress_bars(console) as progress:
            ids = await _register_all(users, config.users, progress, tag)
        await runtime.drain_events(config.timeout_s)

        async def post_burst(progress: Progress) -> int:
            task = progress.add_task("posting", total=len(ids) * config.tweets_per_user)
            n = 0
            for round_ in range(config.tweets_per_user):
                for i, uid in enumerate(ids):
                    mention = f" @r{tag}{rng.randrange(len(ids))}" if rng.random() < 0.3 else ""
                    text = f"bench post {round_} #tag{rng.randrange(20)}{mention}"
                    await tweets.post(uid, PostTweet(text=text), None)
                    n += 1
                    progress.advance(task)
                    del i
            return n

        pairs: set[tuple[str, str]] = set()
        most = len(ids) * (len(ids) - 1)
        while len(pairs) < min(config.follows, most):
            a, b = rng.sample(ids, 2)
            pairs.add((a, b))

        async def follow_burst(progress: Progress) -> int:
            task = progress.add_task("following", total=len(pairs))
            for a, b in pairs:
                await users.follow(a, b)
                progress.advance(task)
            return len(pairs)

        for phase, burst in (
            ("posts", post_burst),
            ("follows", follow_burst),
            ("posts-followed", post_burst),
        ):
            result = await measure_drain(runtime, phase, burst, timeout_s=config.timeout_s, console=console)
            results.append(result)
            console.print(
                f"[bold]{phase}[/]: {result.events} events drained in {result.drain_s:.2f} s = "
                f"[bold]{result.events_per_s:,.0f} events/s[/] ({result.outbox_rows} outbox rows, "
                f"{result.cpu_cores} cores)" + ("" if result.drained else " [red]NOT DRAINED (timeout)[/]")
            )
    shown = replace(config, postgres_url=None if config.database == "sqlite" else "(local)")
    return RelayReport(config=shown, phases=results)


def run_relay_bench(config: RelayBenchConfig) -> RelayReport:
    """Run the relay benchmark, print a table, write ``<out_dir>/<time>-relay-<db>.json``."""
    console = Console()
    console.print(
        f"relay drain benchmark on {config.database}: {config.users} accounts, {config.follows} follows, "
        f"{config.tweets_per_user} posts per account per burst"
    )
    report = asyncio.run(run_relay_bench_async(config, console))
    publish(report, config.out_dir, file_name("relay", config.database, config.label), console)
    return report
