"""What Mastodon handlers share: the request's Shaper, and handler options."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import Provide

from boundaries.media.port import MediaPort
from boundaries.tweets.port import TweetsPort
from boundaries.users.port import UsersPort
from twitterclone.gateway.mastodon.shaping import Shaper, base_url

#: OpenAPI tag of every Mastodon operation.
TAG = "mastodon"
#: A handler's ``opt`` key: the extra statuses (besides those derived from its shape) it may answer.
ERRORS_OPT = "mastodon_errors"


async def provide_shaper(request: Request[Any, Any, Any]) -> Shaper:
    """Dependency ``shaper``: entity shaping for this request's origin, with the ports it hydrates from."""
    container = request.app.state.dishka_container
    return Shaper(
        base_url(request),
        await container.get(UsersPort),
        await container.get(MediaPort),
        await container.get(TweetsPort),
    )


def may_answer(*statuses: int) -> dict[str, Any]:
    """A handler's ``opt=``: the error statuses its port calls may give (404, 403, 422…)."""
    return {ERRORS_OPT: statuses}


DEPENDENCIES = {"shaper": Provide(provide_shaper)}

__all__ = ["DEPENDENCIES", "ERRORS_OPT", "TAG", "may_answer", "provide_shaper"]
