"""Write down a fixed set of the gateway's answers and its OpenAPI document, to diff two trees.

Builds the monolith's gateway as ``measure_gateway_cpu.py`` does (a fresh SQLite data directory,
rate limits on with budgets no run reaches, but 2 follows a minute so a 429 can be asked for),
sends 29 requests with a fixed ``X-Request-ID`` and ``traceparent`` (register, login, follow and
a 429, post, home, user timeline, like, unlike, 400, 401, 404, 405, 422, ``/livez``, HEAD,
OPTIONS, Mastodon's home timeline and a Mastodon 404) and writes ``answers.txt`` (every status,
every header in order, every body; ids, times and tokens replaced by placeholders; the values of
``allow`` sorted, as Litestar's order of them varies from run to run) and ``openapi.json``
(``/schema/openapi.json`` as served) into the directory given. Run each tree from its own
directory with ``PYTHONHASHSEED=0`` and diff the two directories:

    PYTHONHASHSEED=0 PYTHONPATH=.:src .venv/bin/python scripts/dump_gateway_answers.py /tmp/answers-head
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import msgspec

# The script's own directory is first on sys.path: the app is built as measure_gateway_cpu builds it.
from measure_gateway_cpu import SEED_PASSWORD, Client, _lifespan, build_gateway, http_scope

#: The request id and trace context every request carries (the answers echo them).
FIXED = (
    (b"x-request-id", b"fixed-id"),
    (b"traceparent", b"00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"),
)


async def answers() -> tuple[str, bytes]:
    """The answers, as text, and the OpenAPI document as served."""
    # 2 follows a minute, so a 429 can be asked for
    runtime, app = await build_gateway("gw8dump_", rate_follow_user="2/60")
    stop = await _lifespan(app)
    client = Client(app)
    lines: list[str] = []

    async def call(
        label: str, method: str, path: str, token: str | None = None, body: bytes = b"", query: bytes = b""
    ) -> tuple[int, bytes]:
        """Like ``Client.call``, with a fixed request id and traceparent, every message kept."""
        msgs = await client.exchange(
            http_scope(method, path, token=token or None, body=body, query=query, extra_headers=FIXED), body
        )
        start = msgs[0]
        bodyb = b"".join(m.get("body", b"") for m in msgs[1:])
        lines.append(f"== {label}: {method} {path} -> {start['status']} ({len(msgs)} messages)")
        for n, v in start["headers"]:
            lines.append(f"  {n.decode()}: {v.decode()}")
        lines.append("  body: " + bodyb.decode("utf-8", "replace"))
        return start["status"], bodyb

    try:
        ids: list[str] = []
        tokens: list[str] = []
        for i in range(3):
            _, b = await call(
                "register",
                "POST",
                "/api/auth/register",
                body=msgspec.json.encode(
                    {"handle": f"d{i}", "email": f"d{i}@example.org", "password": SEED_PASSWORD}
                ),
            )
            ids.append(json.loads(b)["profile"]["id"])
            _, b = await call(
                "login",
                "POST",
                "/api/auth/login",
                body=msgspec.json.encode({"login": f"d{i}", "password": SEED_PASSWORD}),
            )
            tokens.append(json.loads(b)["access_token"])
        t = tokens[0]
        await call("follow", "PUT", f"/api/users/me/following/{ids[1]}", token=t)
        await call("follow again", "PUT", f"/api/users/me/following/{ids[2]}", token=t)
        await call("follow 429", "PUT", f"/api/users/me/following/{ids[2]}", token=t)
        _, b = await call(
            "post", "POST", "/api/tweets", token=tokens[1], body=msgspec.json.encode({"text": "hello #gw"})
        )
        tid = json.loads(b)["id"]
        await runtime.drain_events()
        await call("home", "GET", "/api/timeline/home", token=t, query=b"limit=20")
        await call("home empty", "GET", "/api/timeline/home", token=tokens[2], query=b"limit=20")
        await call("user timeline", "GET", f"/api/users/{ids[1]}/tweets", token=t, query=b"limit=20")
        await call("like", "PUT", f"/api/tweets/{tid}/like", token=t)
        await call("unlike", "DELETE", f"/api/tweets/{tid}/like", token=t)
        await call("400 bad json", "POST", "/api/tweets", token=t, body=b"{not json")
        await call("401 no token", "GET", "/api/timeline/home")
        await call("401 bad token", "GET", "/api/timeline/home", token="abc.def.ghi")  # noqa: S106
        await call("404 no tweet", "GET", "/api/tweets/123456789", token=t)
        await call("404 unrouted", "GET", "/api/nothing-here", token=t)
        await call("405", "PATCH", "/api/timeline/home", token=t)
        await call("400 limit too large", "GET", "/api/timeline/home", token=t, query=b"limit=100000")
        await call("422 empty tweet", "POST", "/api/tweets", token=t, body=msgspec.json.encode({"text": ""}))
        await call("livez", "GET", "/livez")
        await call("head livez", "HEAD", "/livez")
        await call("options", "OPTIONS", "/api/timeline/home")
        await call("mastodon home", "GET", "/api/v1/timelines/home", token=t)
        await call("mastodon 404", "GET", "/api/v1/statuses/999", token=t)
        _, schema = await call("schema", "GET", "/schema/openapi.json")
        lines.pop()  # the schema body goes to its own file
    finally:
        await stop()
    text = "\n".join(lines)
    for i, x in enumerate(ids):
        text = text.replace(x, f"<user{i}>")
    text = text.replace(tid, "<tweet>")
    text = re.sub(r'"(created_at|edited_at|expires_at|updated_at)":"[^"]*"', r'"\1":"<time>"', text)
    text = re.sub(r"eyJ[A-Za-z0-9_.-]+", "<jwt>", text)
    text = re.sub(r'"(refresh_token|cursor|next_cursor|id)":"[^"]*"', r'"\1":"<v>"', text)
    text = re.sub(r"(x-ratelimit-reset|retry-after): \d+", r"\1: <n>", text)
    text = re.sub(r"allow: (.*)", lambda m: "allow: " + ", ".join(sorted(m.group(1).split(", "))), text)
    return text + "\n", schema


def main(out_dir: str) -> None:
    text, schema = asyncio.run(answers())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "answers.txt").write_text(text)
    (out / "openapi.json").write_bytes(schema)


if __name__ == "__main__":
    main(sys.argv[1])
