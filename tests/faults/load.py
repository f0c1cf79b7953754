"""Load for fault rounds, and what it saw: every request's outcome, and every acknowledged write.

Writers post with an ``Idempotency-Key`` and retry a post under the same key until it is
acknowledged (a 201), as a careful client does, so a post the server applied but whose answer
was lost is not posted twice. Every post mentions ``mentioned`` (exactly one mention
notification each). Readers read home timelines and the mentioned account's notifications;
likers like acknowledged tweets (a PUT: idempotent).

``figures()`` summarises one fault: per route, during the window (fault injected → the faulty
part healthy again) how many requests were answered, answered degraded, failed fast (< 1 s) or
failed slowly, the p99 latency, and how long after the heal failures went on.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

from tests.e2e.scenarios import Account

#: A failure answered faster than this is "failed fast".
FAST_S = 1.0


@dataclass(frozen=True)
class Outcome:
    at: float  # monotonic time the request was sent
    route: str
    status: int  # 0: no answer (refused, reset, timed out)
    latency_s: float


@dataclass
class Figures:
    """One route (or all) during one fault."""

    route: str
    answered: int
    degraded: int
    failed_fast: int
    failed_slow: int
    p99_s: float
    recovery_s: float
    statuses: dict[int, int]  # failed answers by status (0: no answer)

    def line(self) -> str:
        failures = ", ".join(f"{s or 'none'}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{self.route:<14} answered {self.answered:>4}  degraded {self.degraded:>4}  "
            f"failed fast {self.failed_fast:>4}  failed slow {self.failed_slow:>3}  "
            f"p99 {self.p99_s * 1000:>6.0f} ms  recovery {self.recovery_s:>5.1f} s"
            + (f"  ({failures})" if failures else "")
        )


@dataclass
class Load:
    base_url: str
    writers: list[Account]
    readers: list[Account]
    mentioned: Account
    tag: str
    outcomes: list[Outcome] = field(default_factory=list)
    #: post text → (tweet id, author id), for every acknowledged post
    acknowledged: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: texts of posts that were tried (acknowledged or not)
    attempted: set[str] = field(default_factory=set)
    #: tweet id → ids of accounts whose like was acknowledged / tried
    likes_acked: dict[str, set[str]] = field(default_factory=dict)
    likes_tried: dict[str, set[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for writer in self.writers:
            self.threads.append(threading.Thread(target=self._write, args=(writer,), daemon=True))
        self.threads.append(threading.Thread(target=self._read, daemon=True))
        self.threads.append(threading.Thread(target=self._read, daemon=True))
        self.threads.append(threading.Thread(target=self._like, daemon=True))
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(15)

    # -- the clients --------------------------------------------------------------------------

    def _request(
        self, client: httpx.Client, route: str, method: str, url: str, **kw: object
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            r = client.request(method, url, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError:
            r = None
        with self.lock:
            self.outcomes.append(
                Outcome(started, route, r.status_code if r else 0, time.monotonic() - started)
            )
        return r

    def _write(self, writer: Account) -> None:
        with httpx.Client(base_url=self.base_url, timeout=6) as client:
            while not self.stop.is_set():
                key = uuid.uuid4().hex
                text = f"{self.tag} {key[:12]} @{self.mentioned.handle}"
                with self.lock:
                    self.attempted.add(text)
                while not self.stop.is_set():  # the same key until acknowledged
                    headers = {**writer.headers, "Idempotency-Key": key}
                    r = self._request(
                        client, "post", "POST", "/api/tweets", json={"text": text}, headers=headers
                    )
                    if r is not None and r.status_code == 201:
                        with self.lock:
                            self.acknowledged[text] = (r.json()["id"], writer.id)
                        break
                    time.sleep(0.2)
                time.sleep(0.15)

    def _read(self) -> None:
        rng = random.Random()
        n = 0
        with httpx.Client(base_url=self.base_url, timeout=6) as client:
            while not self.stop.is_set():
                n += 1
                if n % 4 == 0:
                    self._request(
                        client,
                        "notifications",
                        "GET",
                        "/api/notifications?limit=20",
                        headers=self.mentioned.headers,
                    )
                else:
                    reader = rng.choice(self.readers)
                    self._request(
                        client, "home", "GET", "/api/timeline/home?limit=20", headers=reader.headers
                    )
                time.sleep(0.05)

    def _like(self) -> None:
        rng = random.Random()
        with httpx.Client(base_url=self.base_url, timeout=6) as client:
            while not self.stop.is_set():
                with self.lock:
                    tweets = [tid for tid, _ in self.acknowledged.values()]
                if not tweets:
                    time.sleep(0.1)
                    continue
                tweet_id, liker = rng.choice(tweets[-20:]), rng.choice(self.readers)
                with self.lock:
                    self.likes_tried.setdefault(tweet_id, set()).add(liker.id)
                r = self._request(
                    client, "like", "PUT", f"/api/tweets/{tweet_id}/like", headers=liker.headers
                )
                if r is not None and r.status_code == 200:
                    with self.lock:
                        self.likes_acked.setdefault(tweet_id, set()).add(liker.id)
                time.sleep(0.1)

    # -- figures ------------------------------------------------------------------------------

    def figures(
        self, fault_at: float, healed_at: float, degraded_routes: Iterable[str] = ()
    ) -> list[Figures]:
        """Per route and overall ("all"): the window is [fault_at, healed_at)."""
        degraded_routes = set(degraded_routes)
        with self.lock:
            outcomes = list(self.outcomes)
        routes = sorted({o.route for o in outcomes})
        rows = [
            self._figures(r, [o for o in outcomes if o.route == r], fault_at, healed_at, degraded_routes)
            for r in routes
        ]
        rows.append(self._figures("all", outcomes, fault_at, healed_at, degraded_routes))
        return rows

    @staticmethod
    def _figures(
        route: str, outcomes: list[Outcome], fault_at: float, healed_at: float, degraded_routes: set[str]
    ) -> Figures:
        window = [o for o in outcomes if fault_at <= o.at < healed_at]
        ok = [o for o in window if 200 <= o.status < 300]
        degraded = [o for o in ok if o.route in degraded_routes]
        failed = [o for o in window if not 200 <= o.status < 300]
        latencies = sorted(o.latency_s for o in window)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
        # A request that was still in flight when the heal came, or was sent after it, and failed.
        late = [
            o.at + o.latency_s
            for o in outcomes
            if o.at + o.latency_s >= healed_at and not 200 <= o.status < 300
        ]
        return Figures(
            route=route,
            answered=len(ok) - len(degraded),
            degraded=len(degraded),
            failed_fast=sum(1 for o in failed if o.latency_s < FAST_S),
            failed_slow=sum(1 for o in failed if o.latency_s >= FAST_S),
            p99_s=p99,
            recovery_s=max(late) - healed_at if late else 0.0,
            statuses=dict(Counter(o.status for o in failed)),
        )

    def failures_after(self, t: float) -> list[Outcome]:
        with self.lock:
            return [o for o in self.outcomes if o.at >= t and not 200 <= o.status < 300]
