"""Following the ports' long-polls from a stream: shared by every face that streams.

The Mastodon streams (``gateway/mastodon/streaming.py``) and the web client's live stream
(``gateway/web/activity.py``) learn of changes the same way: a *feed* asks a waiting port method
(``TimelinePort.home_changes``, ``TweetsPort.public_changes``, ``NotificationsPort.wait_for_new``)
what changed since its position, waiting up to ``LONG_POLL_S``, delivers what it got, and asks
again from the position the answer gave. ``follow`` runs one feed until it is cancelled: a call
that fails is asked again from the same position after ``RETRY_S`` (so a port down for a moment
loses nothing), and a position the module refuses starts the feed again from now.

Each wait runs under its own deadline, the wait plus ``WAIT_MARGIN_S``: over HTTP a waiting
method (``boundaries._kernel.markers.waits``) may last that long and is never hedged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import Id
from boundaries.timeline.dto import HomeChanges
from boundaries.timeline.port import TimelinePort
from twitterclone.remote.deadline import deadline_scope

log = logging.getLogger("twitterclone.gateway.streaming")

#: The longest one long-poll asks to wait. An idle feed makes one call per wait; a change ends a
#: wait at once (the modules wake their waits, through Redis across replicas), so a longer wait
#: costs no latency, only a slower notice of a closed stream on the serving side.
LONG_POLL_S = 5.0
#: Time a feed's port call gets beyond the wait it asks for (its deadline, when split).
WAIT_MARGIN_S = 5.0
#: Seconds a feed waits before asking again after its port failed (unreachable, overloaded).
RETRY_S = 1.0

#: One wait of a feed: where it resumes -> where the next one resumes.
Step = Callable[[Any], Awaitable[Any]]


async def follow(step: Step, position: Any, *, name: str) -> None:
    """Run a feed's steps until cancelled; after a failure wait a moment and resume from the same
    position; a position the module no longer takes starts the feed again from now (None)."""
    while True:
        try:
            position = await step(position)
        except asyncio.CancelledError:
            raise
        except InvalidInput:
            log.warning("stream position refused; starting from now", extra={"stream": name})
            position = None
        except Exception:
            log.warning("stream feed failed; retrying", exc_info=True, extra={"stream": name})
            await asyncio.sleep(RETRY_S)


async def home_changes(
    timeline: TimelinePort, user_id: Id, position: str | None, wait_s: float
) -> HomeChanges:
    """One wait of a home timeline feed (None: where "now" is, at once), under its own deadline."""
    with deadline_scope(wait_s + WAIT_MARGIN_S):
        return await timeline.home_changes(user_id, position, wait_s)
