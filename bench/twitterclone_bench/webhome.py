"""The web client's home page against the JSON home route: server CPU per request.

The issue's bar: rendering a signed-in user's home page costs at most twice the JSON home
route's server CPU. Both routes make the same one hydrated page call; the page adds the
session lookup, the template and a larger answer.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx

from twitterclone_bench.load import CpuMeter
from twitterclone_bench.server import Monolith

PASSWORD = "bench password 1"  # noqa: S105 - the synthetic accounts' password
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _account(client: httpx.Client, handle: str) -> tuple[str, dict[str, str]]:
    r = client.post(
        "/api/auth/register", json={"handle": handle, "email": f"{handle}@example.org", "password": PASSWORD}
    )
    r.raise_for_status()
    user_id = r.json()["profile"]["id"]
    r = client.post("/api/auth/login", json={"login": handle, "password": PASSWORD})
    r.raise_for_status()
    return user_id, {"Authorization": f"Bearer {r.json()['access_token']}"}


def _seed(client: httpx.Client, authors: int) -> dict[str, str]:
    _, reader = _account(client, "reader")
    for n in range(authors):
        author_id, headers = _account(client, f"author{n}")
        client.put(f"/api/users/me/following/{author_id}", headers=reader).raise_for_status()
        for k in range(2):
            text = f"post {k} by author {n} with a #tag and a few more words to make it a tweet"
            client.post("/api/tweets", json={"text": text}, headers=headers).raise_for_status()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # fan-out is asynchronous
        if len(client.get("/api/timeline/home?limit=20", headers=reader).json()["items"]) >= 20:
            return reader
        time.sleep(0.1)
    raise RuntimeError("the reader's home never filled")


def _web_session(base_url: str) -> httpx.Client:
    web = httpx.Client(base_url=base_url, timeout=10)
    form = web.get("/signin")
    token = CSRF.search(form.text)
    if token is None:
        raise RuntimeError("no sign-in form at /signin")
    r = web.post("/signin", data={"csrf": token.group(1), "login": "reader", "password": PASSWORD})
    if r.status_code != 303:
        raise RuntimeError(f"web sign-in answered {r.status_code}")
    return web


def _phase(
    client: httpx.Client, path: str, headers: dict[str, str], n: int, server_pid: int
) -> dict[str, float]:
    meter = CpuMeter(server_pid)
    meter.start()
    start = time.monotonic()
    size = 0
    for _ in range(n):
        r = client.get(path, headers=headers)
        if r.status_code != 200:
            raise RuntimeError(f"{path} answered {r.status_code}")
        size = len(r.content)
    wall = time.monotonic() - start
    cores = meter.stop()["server_cores"] or 0.0
    return {"server_cpu_ms": cores * wall * 1000 / n, "wall_ms": wall * 1000 / n, "bytes": size}


def run_web_home(authors: int, requests_n: int, rounds: int, out_dir: str) -> None:
    with Monolith("deployments/monolith.toml", workers=1) as server:
        assert server.pid is not None
        with httpx.Client(base_url=server.url, timeout=30) as api:
            reader = _seed(api, authors)
            web = _web_session(server.url)
            routes = {"json": ("/api/timeline/home?limit=20", api, reader), "web": ("/", web, {})}
            for path, client, headers in routes.values():  # warm up: caches, template compile
                for _ in range(50):
                    client.get(path, headers=headers).raise_for_status()
            samples: dict[str, list[dict[str, float]]] = {"json": [], "web": []}
            for _ in range(rounds):
                for name, (path, client, headers) in routes.items():
                    samples[name].append(_phase(client, path, headers, requests_n, server.pid))
            web.close()
    result: dict[str, dict[str, object]] = {}
    medians: dict[str, float] = {}
    for name, runs in samples.items():
        cpu = sorted(r["server_cpu_ms"] for r in runs)
        medians[name] = cpu[len(cpu) // 2]
        result[name] = {
            "server_cpu_ms_per_request_median": round(cpu[len(cpu) // 2], 3),
            "server_cpu_ms_per_request_runs": [round(c, 3) for c in cpu],
            "wall_ms_per_request_median": round(sorted(r["wall_ms"] for r in runs)[len(runs) // 2], 3),
            "bytes": runs[-1]["bytes"],
        }
    ratio = medians["web"] / medians["json"]
    report = {
        "what": "server CPU per home read: GET / (web page) vs GET /api/timeline/home?limit=20 (JSON)",
        "setup": {
            "authors_followed": authors,
            "requests_per_phase": requests_n,
            "rounds": rounds,
            "workers": 1,
        },
        **result,
        "ratio_web_to_json": round(ratio, 2),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "web-home.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
