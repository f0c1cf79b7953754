"""A circuit breaker for one instance: trip on consecutive failures, back off, probe once.

closed ──N consecutive failures──▶ open ──backoff elapsed──▶ half-open ──probe ok──▶ closed
                                    ▲                            │
                                    └──────probe failed──────────┘  (backoff doubles)

The backoff is ``base_s * 2^(trips-1)`` capped at ``max_s``, then jittered by ±``jitter`` so a fleet
of callers does not probe a recovering instance in lockstep. In half-open exactly one call (the
probe) is let through; everyone else keeps away until it reports. Written by hand (≈100 lines)
because the maintained async breakers do not do per-instance single-probe half-open with
jittered exponential backoff, and this one is tested with a fake clock.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """One instance's breaker. Call ``allow()`` before a call and report its outcome after."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        base_backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        jitter: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        window_s: float = 60.0,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if not 0 <= jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        self.failure_threshold = failure_threshold
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self.jitter = jitter
        self._clock = clock
        self._rng = rng
        self._window_s = window_s
        self._state = BreakerState.CLOSED
        self._open_until = 0.0
        self._probing = False
        self.consecutive_failures = 0
        self.trips = 0  # times opened since it was last closed; drives the backoff
        self.last_backoff_s = 0.0
        self._failure_times: deque[float] = deque(maxlen=1024)

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def open_until(self) -> float:
        """Clock time when an open breaker admits its probe."""
        return self._open_until

    def available(self) -> bool:
        """Would ``allow()`` let a call through now? (No state change; for the balancer.)"""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            return self._clock() >= self._open_until
        return not self._probing

    def allow(self) -> bool:
        """Admit one call: always when closed, only the single probe otherwise."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            if self._clock() < self._open_until:
                return False
            self._state = BreakerState.HALF_OPEN
            self._probing = False
        if self._probing:
            return False
        self._probing = True
        return True

    def record_success(self) -> None:
        """The instance answered (any status that is not a server failure)."""
        self.consecutive_failures = 0
        if self._state is not BreakerState.CLOSED:
            self._state = BreakerState.CLOSED
            self._probing = False
            self.trips = 0

    def record_failure(self) -> None:
        """A transport error, timeout or 5xx."""
        now = self._clock()
        self._failure_times.append(now)
        self.consecutive_failures += 1
        probe_failed = self._state is BreakerState.HALF_OPEN
        if probe_failed or (
            self._state is BreakerState.CLOSED and self.consecutive_failures >= self.failure_threshold
        ):
            self._trip(now)

    def release(self) -> None:
        """The admitted call ended without an outcome (cancelled): free the probe slot."""
        if self._state is BreakerState.HALF_OPEN:
            self._probing = False

    def recent_failures(self) -> int:
        """Failures within the last ``window_s`` seconds."""
        horizon = self._clock() - self._window_s
        while self._failure_times and self._failure_times[0] < horizon:
            self._failure_times.popleft()
        return len(self._failure_times)

    def backoff_s(self, trips: int) -> float:
        """The jittered open period after the ``trips``-th consecutive trip."""
        capped: float = min(self.max_backoff_s, self.base_backoff_s * 2.0 ** min(trips - 1, 32))
        return capped * (1 + self.jitter * (2 * self._rng() - 1))

    def _trip(self, now: float) -> None:
        self.trips += 1
        self.last_backoff_s = self.backoff_s(self.trips)
        self._state = BreakerState.OPEN
        self._open_until = now + self.last_backoff_s
        self._probing = False
