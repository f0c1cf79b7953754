"""A retry budget (Finagle's idea): retries may add at most ``ratio`` extra load.

Every first attempt deposits ``ratio`` tokens (up to ``cap``); every retry must withdraw a whole
token. Over many calls, retries ≤ ``ratio`` * calls + ``cap``, so when a dependency is down,
retries cannot multiply the load on it (no retry storms), while a sporadic failure under normal
traffic still gets its retry. The bucket starts full, so a process that has just started (or a
quiet one) can still ride out an instance dying before its circuit breaker ejects it; Finagle
keeps a similar reserve (``minRetriesPerSec``).
"""

from __future__ import annotations


class RetryBudget:
    """A token bucket of retries, filled by first attempts."""

    def __init__(self, ratio: float = 0.2, *, cap: float = 10.0, initial: float | None = None) -> None:
        if not 0 <= ratio <= 1:
            raise ValueError("ratio must be between 0 and 1")
        if cap < 1:
            raise ValueError("cap must allow at least one retry")
        self.ratio = ratio
        self.cap = cap
        self._tokens = min(cap, cap if initial is None else initial)
        self.deposits = 0
        self.retries = 0
        self.refused = 0

    @property
    def tokens(self) -> float:
        return self._tokens

    def deposit(self) -> None:
        """Record a first attempt."""
        self.deposits += 1
        self._tokens = min(self.cap, self._tokens + self.ratio)

    def try_spend(self) -> bool:
        """Take one token for a retry; False means the budget is spent and the retry must not happen."""
        if self._tokens >= 1.0 - 1e-9:  # tolerate float error from summing ratios
            self._tokens = max(0.0, self._tokens - 1.0)
            self.retries += 1
            return True
        self.refused += 1
        return False
