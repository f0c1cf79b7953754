"""What Mastodon handlers share: the request's Shaper, and handler options."""

from __future__ import annotations

from typing import Any, cast

from litestar import Request, Response

from boundaries.media.port import MediaPort
from boundaries.tweets.port import TweetsPort
from boundaries.users.port import UsersPort
from twitterclone.gateway.mastodon import entities as m
from twitterclone.gateway.mastodon.shaping import Shaper, base_url
from twitterclone.gateway.media_urls import media_urls_of

#: OpenAPI tag of every Mastodon operation.
TAG = "mastodon"
#: A handler's ``opt`` key: the extra statuses (besides those derived from its shape) it may answer.
ERRORS_OPT = "mastodon_errors"
#: Where the app's state keeps the ports a Shaper hydrates from (resolved once per app).
_PORTS = "mastodon_shaper_ports"


async def shaper_for(request: Request[Any, Any, Any]) -> Shaper:
    """Entity shaping for this request's origin, with the ports it hydrates from.

    Called by the handler rather than given as a Litestar dependency: a handler with two
    dependencies (the principal and the shaper) has Litestar resolve them in an anyio task
    group, which cost a Mastodon home page more CPU than all its shaping (BENCHMARKS.md).
    The ports are application singletons: resolved once per container (an app started again
    gets a new one).
    """
    state = request.app.state
    container = state.dishka_container
    kept = state.get(_PORTS)
    if kept is None or kept[0] is not container:
        users, media = await container.get(UsersPort), await container.get(MediaPort)
        kept = state[_PORTS] = (container, (users, media, await container.get(TweetsPort)))
    return Shaper(base_url(request), *kept[1], urls=media_urls_of(request.app))


def statuses_response(body: bytes, headers: dict[str, str] | None = None) -> Response[list[m.Status]]:
    """A list of statuses already written as JSON (``Shaper.status_page``). Litestar sends bytes
    as they are; the annotation says what the body holds, so the OpenAPI document says so."""
    return Response(cast("list[m.Status]", body), media_type="application/json", headers=headers)


def may_answer(*statuses: int) -> dict[str, Any]:
    """A handler's ``opt=``: the error statuses its port calls may give (404, 403, 422…)."""
    return {ERRORS_OPT: statuses}


__all__ = ["ERRORS_OPT", "TAG", "may_answer", "shaper_for", "statuses_response"]
