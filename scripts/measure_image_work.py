"""Measure what large image uploads cost a monolith: worker memory, and a login's latency meanwhile.

Starts ``twitterclone run`` on a fresh data directory (rate limits off), registers a user, then
for ``--seconds`` keeps ``--uploads`` concurrent uploads of a small PNG that decodes to
``--side`` x ``--side`` RGBA pixels (6300: 0.15 MB on the wire, 159 MB decoded) while logging
in every half second. Prints the upload answers, login latencies before and during, and the
worker's resident memory (sampled, and the kernel's high-water mark). Linux only (/proc).

    .venv/bin/python scripts/measure_image_work.py                   # this checkout
    PYTHONPATH=/tmp/main/src:/tmp/main .venv/bin/python scripts/measure_image_work.py  # another
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for its test helpers
from tests.support.images import expanding_png
from twitterclone.listeners import unused_ports

PASSWORD = "correct horse battery"  # noqa: S105 - a throwaway account on a throwaway server
#: A request taking longer than this is counted as timed out.
TIMEOUT_S = 30.0


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB; zeros when it is gone."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


async def login(client: httpx.AsyncClient) -> float:
    started = time.perf_counter()
    r = await client.post("/api/auth/login", json={"login": "measurer", "password": PASSWORD})
    r.raise_for_status()
    return (time.perf_counter() - started) * 1000


async def measure(url: str, server_pid: int, uploads: int, seconds: float, side: int) -> None:
    bomb = expanding_png(side, side)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT_S) as client:
        for _ in range(600):  # the server may take a while to start on a busy machine
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/livez")).status_code == 200:
                    break
            await asyncio.sleep(0.1)
        r = await client.post(
            "/api/auth/register",
            json={"handle": "measurer", "email": "measurer@example.org", "password": PASSWORD},
        )
        r.raise_for_status()
        token = (
            await client.post("/api/auth/login", json={"login": "measurer", "password": PASSWORD})
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        calm = [await login(client) for _ in range(5)]
        workers = [p for p in descendants(server_pid) if p != server_pid] or [server_pid]
        rss_before = max(memory_mib(p)[0] for p in workers)

        stop = time.monotonic() + seconds
        answers: Counter[int | str] = Counter()
        upload_ms: list[float] = []
        during: list[float] = []
        peak_sampled = rss_before

        async def keep_uploading() -> None:
            while time.monotonic() < stop:
                started = time.perf_counter()
                files = {"file": ("b.png", bomb, "image/png")}
                try:
                    r = await client.post("/api/media", files=files, headers=headers)
                except httpx.TimeoutException:
                    answers["timeout"] += 1
                    continue
                answers[r.status_code] += 1
                upload_ms.append((time.perf_counter() - started) * 1000)
                if r.status_code == 503:
                    await asyncio.sleep(0.2)

        async def keep_logging_in() -> None:
            await asyncio.sleep(0.3)
            while time.monotonic() < stop:
                try:
                    during.append(await login(client))
                except httpx.TimeoutException:
                    during.append(float(TIMEOUT_S * 1000))  # counted as the timeout
                await asyncio.sleep(0.5)

        async def sample() -> None:
            nonlocal peak_sampled
            while time.monotonic() < stop + 1:
                peak_sampled = max(peak_sampled, *(memory_mib(p)[0] for p in workers))
                await asyncio.sleep(0.05)

        await asyncio.gather(*(keep_uploading() for _ in range(uploads)), keep_logging_in(), sample())
        peak_hwm = max(memory_mib(p)[1] for p in workers)

    decoded = side * side * 4 / 2**20
    print(f"upload: {len(bomb) / 1e6:.2f} MB PNG, {side}x{side} RGBA ({decoded:.0f} MiB decoded)")
    print(f"uploads: {uploads} concurrent for {seconds:.0f} s; answers {dict(answers)}")
    if upload_ms:
        print(f"upload latency ms: median {statistics.median(upload_ms):.0f}, max {max(upload_ms):.0f}")
    print(f"login ms, calm: median {statistics.median(calm):.0f}, max {max(calm):.0f}")
    if during:
        print(
            f"login ms, during uploads: median {statistics.median(during):.0f}, "
            f"max {max(during):.0f} ({len(during)} logins)"
        )
    print(
        f"worker RSS MiB: before {rss_before:.0f}, sampled peak {peak_sampled:.0f}, "
        f"high-water mark {peak_hwm:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=4, help="concurrent uploads")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long uploads keep coming")
    parser.add_argument("--side", type=int, default=6300, help="width and height of the image")
    args = parser.parse_args()
    port = unused_ports()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "TWITTERCLONE_DATA_DIR": data, "TWITTERCLONE_RATE_LIMIT_ENABLED": "false"}
        cli = [sys.executable, "-m", "twitterclone"]
        subprocess.run([*cli, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        server = subprocess.Popen(  # noqa: S603 - our own command line
            [*cli, "run", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            asyncio.run(measure(url, server.pid, args.uploads, args.seconds, args.side))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:  # still decoding: stop it the hard way
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


if __name__ == "__main__":
    main()
