"""Measure the gateway's CPU per request of each route of the mixed workload, in-process.

Builds the monolith (SQLite, a fresh data directory) and its gateway app exactly as ``serve``
does (``create_app``, rate limits on with budgets no run reaches, as ``bench`` sets them), runs
its lifespan, registers ``--users`` accounts through the API, lets the first follow the others and
each post a few tweets, and then calls the ASGI app directly, with the scopes and bodies a client's
requests would give granian, one route at a time: ``livez``, ``home``, ``user_timeline``, ``post``,
``like``, ``follow`` (the routes of ``bench mix-cost``). No sockets, no server: what is timed is
the application's own work, edge to answer, with the modules' work included.

Each route: ``--rounds`` rounds of ``--requests`` requests, ``time.process_time`` per round, the
median printed in µs per request (the event loop's consequences of writes, fan-out and
notifications, run between rounds and are not counted).

``--with-consequences`` counts them too: the outbox relays run as in ``serve`` (in the
background, batching what commits while they work; the loop runs between requests, as a
server's would), and each round ends only when every relay is idle, so the consumers (timeline
fan-out, notifications, analytics, media, search, live streams) and anything they emit in turn
are in the round's CPU: a write's whole cost in process. Every like and follow is then a new one
(of accounts and tweets seeded for them, followed and liked by nobody before), as most of ``bench
mix-cost``'s are; without it, after the first rounds they repeat ones already made (no write, no
event). ``--settle-every N`` waits for the consequences after every N requests instead (1: each
write's consequences run alone, as at a low rate; by default once a round, so they are batched
as on a busy server).

``--profile`` instead runs every route under ``cProfile`` and prints, per route, where the time
went by area (gateway, Litestar, dishka, modules, SQL, ...), and the top functions by own time,
so the gateway's share can be ranked. Compare trees by running against each checkout
(``PYTHONPATH=<checkout>/src:<checkout>``), alternately.

    PYTHONPATH=.:src .venv/bin/python scripts/measure_gateway_cpu.py --requests 2000
    PYTHONPATH=.:src .venv/bin/python scripts/measure_gateway_cpu.py --profile --route home
    PYTHONPATH=.:src .venv/bin/python scripts/measure_gateway_cpu.py --with-consequences --route post
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import os
import pstats
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

MONOLITH = Path(__file__).resolve().parent.parent / "deployments" / "monolith.toml"
ROUTES = ("livez", "home", "user_timeline", "post", "like", "follow")
#: A throwaway password for the seeded accounts of a throwaway data directory.
SEED_PASSWORD = "correct horse battery"  # noqa: S105
#: Budgets no run reaches: the limiter runs (its cost is the gateway's) but never refuses.
HUGE_BUDGET = "1000000000/1"
#: Where a profiled function's time is counted: the first fragment of its file path that matches.
AREAS = (
    ("gateway", "/twitterclone/gateway/"),
    ("infra", "/twitterclone/infra/"),
    ("twitterclone other", "/twitterclone/"),
    ("modules", "/modules/"),
    ("boundaries", "/boundaries/"),
    ("litestar", "/litestar/"),
    ("dishka", "/dishka/"),
    ("sqlalchemy", "/sqlalchemy/"),
    ("prometheus", "/prometheus_client/"),
    ("asyncio", "/asyncio/"),
)


def http_scope(
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: bytes = b"",
    query: bytes = b"",
    extra_headers: tuple[tuple[bytes, bytes], ...] = (),
) -> dict[str, Any]:
    """The scope granian would give the app for a client's request (``extra_headers`` after the
    host and accept headers, then the token's and the body's)."""
    headers = [(b"host", b"127.0.0.1:8000"), (b"accept", b"application/json"), *extra_headers]
    if token is not None:
        headers.append((b"authorization", b"Bearer " + token.encode()))
    if body:
        headers.append((b"content-type", b"application/json"))
        headers.append((b"content-length", str(len(body)).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def build_gateway(prefix: str, **budgets: str) -> tuple[Any, Any]:
    """The monolith's runtime and gateway app as ``serve`` builds them, on a fresh SQLite data
    directory (named from ``prefix``), migrated; cheap argon2; rate limits on with budgets no run
    reaches, except those given in ``budgets`` (a setting's name: its budget)."""
    os.environ.setdefault("TWITTERCLONE_LOG_LEVEL", "WARNING")
    from twitterclone.composition import build_runtime
    from twitterclone.gateway.app import create_app
    from twitterclone.manifest import load_manifest
    from twitterclone.migrate import migrate_deployment
    from twitterclone.settings import Settings

    manifest = load_manifest(MONOLITH)
    limits: dict[str, Any] = {
        name: HUGE_BUDGET
        for name in Settings.__struct_fields__
        if name.startswith("rate_") and name not in ("rate_limit_enabled", "rate_trusted_proxy_hops")
    }
    settings = Settings(
        data_dir=tempfile.mkdtemp(prefix=prefix),
        manifest=str(MONOLITH),
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        argon2_parallelism=1,
        log_level="WARNING",
        **{**limits, **budgets},
    )
    await migrate_deployment(manifest, settings)  # every module's store (the monolith hosts them all)
    runtime = build_runtime(manifest, settings)
    return runtime, create_app(settings, manifest, runtime)


class Client:
    """Calls the ASGI app as a server would: one scope, the body in one message, the answer kept."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def call(
        self, method: str, path: str, *, token: str | None = None, body: bytes = b"", query: bytes = b""
    ) -> tuple[int, bytes]:
        messages = await self.exchange(http_scope(method, path, token=token, body=body, query=query), body)
        start = messages[0]
        return start["status"], b"".join(m.get("body", b"") for m in messages[1:])

    async def exchange(self, scope: dict[str, Any], body: bytes) -> list[dict[str, Any]]:
        """Send ``body`` in one message to the app under ``scope``; every message it sent back."""
        sent = False
        messages: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        await self.app(scope, receive, send)
        return messages

    async def account(self, handle: str) -> tuple[str, str]:
        """Register ``handle`` (``SEED_PASSWORD``) and log in: its user id and access token."""
        account = await self.json(
            "POST",
            "/api/auth/register",
            201,
            body=msgspec.json.encode(
                {"handle": handle, "email": f"{handle}@example.org", "password": SEED_PASSWORD}
            ),
        )
        pair = await self.json(
            "POST",
            "/api/auth/login",
            200,
            body=msgspec.json.encode({"login": handle, "password": SEED_PASSWORD}),
        )
        return account["profile"]["id"], pair["access_token"]

    async def json(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        status, body = await self.call(method, path, **kwargs)
        if status != expect:
            raise RuntimeError(f"{method} {path}: {status} {body[:300]!r}")
        return msgspec.json.decode(body) if body else None


async def _lifespan(app: Any) -> Callable[[], Any]:
    """Start the app's lifespan; returns a coroutine function that shuts it down."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"startup failed: {started}")

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task

    return stop


class Workload:
    """The requests of each route, made from the seeded accounts (as bench's Workload does)."""

    def __init__(
        self,
        client: Client,
        tokens: list[str],
        ids: list[str],
        tweet_ids: list[str],
        fresh: tuple[list[str], list[str]] | None = None,
    ) -> None:
        self.client = client
        self.tokens = tokens
        self.ids = ids
        self.tweet_ids = tweet_ids
        #: accounts no seeded user follows yet and tweets none has liked (``seed_fresh``): when
        #: given, every like and follow is a new one (with its events), not a repeat that changes
        #: nothing and emits nothing
        self.fresh = fresh
        self.n = 0

    async def one(self, route: str) -> None:
        self.n += 1
        n = self.n
        token = self.tokens[n % len(self.tokens)]
        c = self.client
        if route == "livez":
            status, _ = await c.call("GET", "/livez")
        elif route == "home":
            status, _ = await c.call("GET", "/api/timeline/home", token=token, query=b"limit=20")
        elif route == "user_timeline":
            user = self.ids[n % len(self.ids)]
            status, _ = await c.call("GET", f"/api/users/{user}/tweets", token=token, query=b"limit=20")
        elif route == "post":
            body = msgspec.json.encode({"text": f"post number {n} of the driver #gw"})
            status, _ = await c.call("POST", "/api/tweets", token=token, body=body)
        elif route == "like" and self.fresh is not None:
            tweet = self.fresh[1][(n // len(self.tokens)) % len(self.fresh[1])]
            status, _ = await c.call("PUT", f"/api/tweets/{tweet}/like", token=token)
        elif route == "follow" and self.fresh is not None:
            other = self.fresh[0][(n // len(self.tokens)) % len(self.fresh[0])]
            status, _ = await c.call("PUT", f"/api/users/me/following/{other}", token=token)
        elif route == "like":
            tweet = self.tweet_ids[n % len(self.tweet_ids)]
            status, _ = await c.call("PUT", f"/api/tweets/{tweet}/like", token=token)
        elif route == "follow":
            other = self.ids[(n * 7 + 3) % len(self.ids)]
            if other == self.ids[n % len(self.tokens)]:
                other = self.ids[(n * 7 + 4) % len(self.ids)]
            status, _ = await c.call("PUT", f"/api/users/me/following/{other}", token=token)
        else:
            raise ValueError(route)
        if status >= 400:
            raise RuntimeError(f"{route}: {status}")


async def seed(client: Client, users: int) -> tuple[list[str], list[str], list[str]]:
    tokens: list[str] = []
    ids: list[str] = []
    for i in range(users):
        user_id, token = await client.account(f"d{i}")
        ids.append(user_id)
        tokens.append(token)
    for i, token in enumerate(tokens):
        for other in ids:
            if other != ids[i]:
                await client.json("PUT", f"/api/users/me/following/{other}", 200, token=token)
    tweet_ids: list[str] = []
    for n in range(3):
        for token in tokens:
            body = msgspec.json.encode({"text": f"seed {n} #gw"})
            tweet_ids.append((await client.json("POST", "/api/tweets", 201, token=token, body=body))["id"])
    return tokens, ids, tweet_ids


class Settling:
    """Knows when the relays have nothing left to do, without asking the stores each time.

    Every relay's passes are counted as they start and end (its ``relay_once`` wrapped on the
    instance: the running relay looks it up on each pass), and a store's commit that wrote
    outbox rows wakes its relay (``ModuleStore.woken``). A relay is idle when it is not in a pass,
    has no rows claimed for the next one and was not woken since its last claim. A consumer's own
    events (an outbox row it writes) commit, and wake their relay, before the pass that caused
    them ends, so two looks in a row finding every relay idle mean nothing is left anywhere.
    The relays keep running as they do in ``serve``: this only looks, it never relays.
    """

    def __init__(self, runtime: Any) -> None:
        self.relays = list(runtime.relays)
        self.passes = 0
        self._pass_ended = asyncio.Event()
        for relay in self.relays:
            relay.relay_once = self._counted(relay.relay_once)

    def _counted(self, relay_once: Callable[[], Any]) -> Callable[[], Any]:
        async def counted() -> int:
            self.passes += 1
            try:
                return int(await relay_once())
            finally:
                self.passes -= 1
                self._pass_ended.set()

        return counted

    def idle(self) -> bool:
        return self.passes == 0 and not any(r.store.woken or r._claimed for r in self.relays)

    async def caught_up(self) -> None:
        """Wait (idle, mostly) until every relay has been idle twice in a row."""
        quiet = 0
        while quiet < 2:
            if self.idle():
                quiet += 1
                await asyncio.sleep(0)
            else:
                quiet = 0
                self._pass_ended.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._pass_ended.wait(), 0.005)

    async def confirm(self) -> None:
        """Count each store's unpublished rows until none is left (not timed: an event whose
        consumer failed waits for its retry there, not for a wake-up; none should in this run)."""
        while not all([await r.backlog() == 0 for r in self.relays]):
            print("  (an event is still unpublished after the relays went idle: a consumer failed?)")
            await asyncio.sleep(0.5)


async def _consequences(settling: Settling, wait: bool) -> None:
    """After a request: let the loop run what is ready (a request in process never waits on a
    socket, so without this the relays would not run until the round ends, and relay it all in
    full batches); with ``wait``, until every consequence is applied (``Settling.caught_up``)."""
    await asyncio.sleep(0)
    if wait:
        await settling.caught_up()


async def seed_fresh(client: Client, accounts: int, tweets_each: int) -> tuple[list[str], list[str]]:
    """``accounts`` more accounts, followed by nobody, each posting ``tweets_each`` tweets: their
    ids and the tweets' (for likes and follows that are each new: ``Workload.fresh``)."""
    ids: list[str] = []
    tweet_ids: list[str] = []
    for i in range(accounts):
        user_id, token = await client.account(f"f{i}")
        ids.append(user_id)
        for n in range(tweets_each):
            body = msgspec.json.encode({"text": f"fresh {n} of f{i} #gw"})
            made = await client.json("POST", "/api/tweets", 201, token=token, body=body)
            tweet_ids.append(made["id"])
    return ids, tweet_ids


def _area(filename: str) -> str:
    for name, fragment in AREAS:
        if fragment in filename:
            return name
    if filename.startswith("~") or filename == "<built-in>":
        return "builtins (C)"
    return "other"


def _report_profile(route: str, profile: cProfile.Profile, requests: int, top: int) -> None:
    stats = pstats.Stats(profile)
    by_area: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, func), (_, calls, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_area[_area(filename)] += tottime
        rows.append((tottime, calls, f"{Path(filename).name}:{line} {func}", filename))
    total = sum(by_area.values())
    print(f"\n== {route}: {total / requests * 1e6:.0f} µs per request under cProfile")
    for name, seconds in sorted(by_area.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<20} {seconds / requests * 1e6:7.1f} µs  {seconds / total:6.1%}")
    print(f"  top {top} functions by own time (µs per request, calls per request):")
    for tottime, calls, where, filename in sorted(rows, reverse=True)[:top]:
        print(f"  {tottime / requests * 1e6:7.1f}  {calls / requests:6.1f}  {_area(filename):<12} {where}")


async def main(args: argparse.Namespace) -> None:
    runtime, app = await build_gateway("gateway_cpu_")
    stop = await _lifespan(app)
    try:
        client = Client(app)
        tokens, ids, tweet_ids = await seed(client, args.users)
        routes = args.route or list(ROUTES)
        fresh = None
        if args.with_consequences and ("like" in routes or "follow" in routes):
            # enough that no like or follow of the run repeats one (each user acts in turn)
            per_user = -(-(args.warmup + args.rounds * args.requests) // len(tokens)) + 1
            fresh = await seed_fresh(client, per_user, 2)
        await runtime.drain_events()
        work = Workload(client, tokens, ids, tweet_ids, fresh)
        for route in routes:  # warm every path (caches, routing, the first token checks)
            for _ in range(args.warmup):
                await work.one(route)
        await runtime.drain_events()
        settle = args.settle_every or args.requests
        settling = Settling(runtime) if args.with_consequences else None
        if args.profile:
            for route in routes:
                gc.collect()
                profile = cProfile.Profile()
                profile.enable()
                for k in range(1, args.requests + 1):
                    await work.one(route)
                    if settling is not None:
                        await _consequences(settling, k % settle == 0 or k == args.requests)
                profile.disable()
                await runtime.drain_events()
                _report_profile(route, profile, args.requests, args.top)
            return
        times: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.rounds):
            for route in routes:
                gc.collect()
                started = time.process_time()
                for k in range(1, args.requests + 1):
                    await work.one(route)
                    if settling is not None:
                        await _consequences(settling, k % settle == 0 or k == args.requests)
                times[route].append((time.process_time() - started) / args.requests * 1e6)
                if settling is not None:
                    await settling.confirm()
                await runtime.drain_events()
        what = "with their consequences" if args.with_consequences else "consequences not counted"
        print(f"CPU per request, in-process, {what} (median of {args.rounds} rounds of {args.requests}), µs:")
        for route in routes:
            spread = ", ".join(f"{t:.0f}" for t in times[route])
            print(f"  {route:<14} {statistics.median(times[route]):7.0f}   ({spread})")
    finally:
        await stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--requests", type=int, default=1000, help="requests per round and route")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per route (the median is printed)")
    parser.add_argument("--warmup", type=int, default=200, help="requests per route first")
    parser.add_argument("--users", type=int, default=20, help="seeded accounts (each follows the others)")
    parser.add_argument("--route", action="append", choices=ROUTES, help="only these routes (repeatable)")
    parser.add_argument(
        "--with-consequences",
        action="store_true",
        help="count the relays' and consumers' work too: each round ends when every event is applied",
    )
    parser.add_argument(
        "--settle-every",
        type=int,
        default=0,
        metavar="N",
        help="with --with-consequences: wait for them after every N requests (default: once a round)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile each route instead of timing it")
    parser.add_argument("--top", type=int, default=25, help="functions listed per route with --profile")
    asyncio.run(main(parser.parse_args()))
