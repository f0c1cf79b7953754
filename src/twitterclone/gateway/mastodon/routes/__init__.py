"""The Mastodon route groups, one Controller each."""

from twitterclone.gateway.mastodon.routes.instance import InstanceController
from twitterclone.gateway.mastodon.streaming import STREAMING_HANDLERS

CONTROLLERS: list[type] = [
    InstanceController,
]
CONTROLLERS += STREAMING_HANDLERS  # streaming.py: SSE routes and the WebSocket

__all__ = ["CONTROLLERS"]
