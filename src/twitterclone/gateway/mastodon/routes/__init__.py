"""The Mastodon route groups, one Controller each."""

from twitterclone.gateway.mastodon.routes.instance import InstanceController

CONTROLLERS: list[type] = [
    InstanceController,
]

__all__ = ["CONTROLLERS"]
