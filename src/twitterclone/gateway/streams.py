"""Long-lived streams (SSE): counted, capped per user and per process, never holding a request slot.

A stream lasts minutes or hours, so it must not hold one of the admission slots that ordinary
requests share (64 streams would take the gateway down), and one user must not be able to open
them without end. Its handler opens it through ``StreamGate.open`` (429 past the user's cap,
503 past the process's, both with ``Retry-After``) and hands the request over with
``admission.hold_as_stream``, which gives the slot back and closes the ticket when it ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from boundaries._kernel.errors import DomainError, Unavailable
from boundaries._kernel.pagination import PageRequest
from boundaries.notifications.port import NotificationsPort

STREAMS_OPEN = Gauge("twitterclone_streams_open", "Long-lived streams (SSE) open in this process.")
STREAMS_REFUSED = Counter(
    "twitterclone_streams_refused_total", "Streams refused past a cap (user or process).", ["cap"]
)

#: Seconds a refused client is told to wait before trying again.
RETRY_AFTER_S = 5


class TooManyStreams(DomainError):
    """The user has as many streams open as one user may (429)."""

    kind = "rate_limited"
    code = "too-many-streams"
    status = 429
    retry_after_s = RETRY_AFTER_S


class StreamsFull(Unavailable):
    """The process holds as many streams as it may (503)."""

    code = "streams-full"
    retry_after_s = RETRY_AFTER_S


@dataclass
class StreamTicket:
    """One open stream; ``close`` (idempotent) frees its place."""

    gate: StreamGate
    user_id: str
    open: bool = True

    def close(self) -> None:
        if self.open:
            self.open = False
            self.gate._closed(self.user_id)


class StreamGate:
    """At most ``per_user`` open streams per user and ``max_open`` in the process."""

    def __init__(self, per_user: int, max_open: int) -> None:
        self.per_user = per_user
        self.max_open = max_open
        self.open_count = 0
        self._by_user: dict[str, int] = {}

    def open(self, user_id: str) -> StreamTicket:
        """Count one more stream of ``user_id``; raise TooManyStreams or StreamsFull past a cap."""
        if self._by_user.get(user_id, 0) >= self.per_user:
            STREAMS_REFUSED.labels(cap="user").inc()
            raise TooManyStreams(
                f"at most {self.per_user} streams may be open per user; close one or retry later"
            )
        if self.open_count >= self.max_open:
            STREAMS_REFUSED.labels(cap="process").inc()
            raise StreamsFull("this server holds as many streams as it can; retry later")
        self._by_user[user_id] = self._by_user.get(user_id, 0) + 1
        self.open_count += 1
        STREAMS_OPEN.inc()
        return StreamTicket(self, user_id)

    def _closed(self, user_id: str) -> None:
        left = self._by_user.get(user_id, 0) - 1
        if left > 0:
            self._by_user[user_id] = left
        else:
            self._by_user.pop(user_id, None)
        self.open_count -= 1
        STREAMS_OPEN.dec()


#: Pages of notifications a stream's baseline reads at most looking for the newest one shown.
BASELINE_PAGES = 5
BASELINE_PAGE_SIZE = 20


async def notification_baseline(notifications: NotificationsPort, user_id: str) -> str | None:
    """Where a notification stream that starts "from now" starts: the newest notification the
    user is shown (None when there is none).

    Pages leave out notifications from accounts blocked or muted since they were made, so the
    first page may be empty while older ones exist; a baseline read from it alone ("0") would
    replay the user's whole history. It pages on (a few pages) to the newest one shown; what
    lies after it is only what the waits leave out anyway.
    """
    page = await notifications.notifications(user_id, PageRequest(limit=BASELINE_PAGE_SIZE))
    for _ in range(BASELINE_PAGES):
        if page.items:
            return page.items[0].id
        if page.next_cursor is None:
            return None
        page = await notifications.notifications(
            user_id, PageRequest(cursor=page.next_cursor, limit=BASELINE_PAGE_SIZE)
        )
    return page.items[0].id if page.items else None
