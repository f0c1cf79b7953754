"""Web pages about people: profiles, who follows whom, and follow/block/mute."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from boundaries._kernel.pagination import DEFAULT_PAGE_SIZE, PageRequest
from boundaries.media.port import MediaPort
from boundaries.timeline.port import TimelinePort
from boundaries.users.dto import Relationship
from boundaries.users.port import UsersPort
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.params import Cursor, UserId
from twitterclone.gateway.ratelimit import RateRule, limited
from twitterclone.gateway.routes.users import HANDLE_PATTERN
from twitterclone.gateway.web.common import media_alts, read_form
from twitterclone.gateway.web.render import back, page
from twitterclone.gateway.web.session import WebSession

Handle = Annotated[str, PathParameter(pattern=HANDLE_PATTERN)]
Action = Literal["follow", "unfollow", "block", "unblock", "mute", "unmute"]


class PeoplePages(Controller):
    """Profiles, followers, following, and changing how one stands to someone."""

    path = "/"
    include_in_schema = False

    @get("/u/{handle:str}", name="web-profile")
    @inject
    async def profile(
        self,
        request: HTMXRequest,
        handle: Handle,
        web: NamedDependency[WebSession | None],
        users: FromDishka[UsersPort],
        timeline: FromDishka[TimelinePort],
        media: FromDishka[MediaPort],
        cursor: Cursor = None,
    ) -> Template:
        profile = await users.profile_by_handle(handle)
        viewer = web.user_id if web else None
        tweets = await timeline.user_timeline(
            profile.id, viewer, PageRequest(cursor=cursor, limit=DEFAULT_PAGE_SIZE)
        )
        next_url = f"/u/{profile.handle}?cursor={tweets.next_cursor}" if tweets.next_cursor else None
        alts = await media_alts(media, tweets.items, viewer)
        if request.htmx and cursor:
            return page(request, web, "_feed.html", tweets=tweets.items, next_url=next_url, alts=alts)
        relationship: Relationship | None = None
        if web is not None and web.user_id != profile.id:
            relationship = await users.relationship(web.user_id, profile.id)
        return page(
            request,
            web,
            "profile.html",
            profile=profile,
            relationship=relationship,
            tweets=tweets.items,
            next_url=next_url,
            alts=alts,
        )

    @get("/u/{handle:str}/followers", name="web-followers")
    @inject
    async def followers(
        self,
        request: HTMXRequest,
        handle: Handle,
        web: NamedDependency[WebSession | None],
        users: FromDishka[UsersPort],
        cursor: Cursor = None,
    ) -> Template:
        profile = await users.profile_by_handle(handle)
        people = await users.followers(profile.id, PageRequest(cursor=cursor, limit=DEFAULT_PAGE_SIZE))
        return page(request, web, "people.html", profile=profile, kind="followers", people=people)

    @get("/u/{handle:str}/following", name="web-following")
    @inject
    async def following(
        self,
        request: HTMXRequest,
        handle: Handle,
        web: NamedDependency[WebSession | None],
        users: FromDishka[UsersPort],
        cursor: Cursor = None,
    ) -> Template:
        profile = await users.profile_by_handle(handle)
        people = await users.following(profile.id, PageRequest(cursor=cursor, limit=DEFAULT_PAGE_SIZE))
        return page(request, web, "people.html", profile=profile, kind="following", people=people)

    @post("/users/{user_id:str}/follow", name="web-follow", opt=limited(RateRule.FOLLOW))
    @inject
    async def follow(
        self,
        request: HTMXRequest,
        user_id: UserId,
        me: NamedDependency[WebSession],
        users: FromDishka[UsersPort],
    ) -> Redirect:
        return await _change(request, me, users, "follow", user_id)

    @post("/users/{user_id:str}/unfollow", name="web-unfollow")
    @inject
    async def unfollow(
        self,
        request: HTMXRequest,
        user_id: UserId,
        me: NamedDependency[WebSession],
        users: FromDishka[UsersPort],
    ) -> Redirect:
        return await _change(request, me, users, "unfollow", user_id)

    @post("/users/{user_id:str}/block", name="web-block")
    @inject
    async def block(
        self,
        request: HTMXRequest,
        user_id: UserId,
        me: NamedDependency[WebSession],
        users: FromDishka[UsersPort],
    ) -> Redirect:
        return await _change(request, me, users, "block", user_id)

    @post("/users/{user_id:str}/unblock", name="web-unblock")
    @inject
    async def unblock(
        self,
        request: HTMXRequest,
        user_id: UserId,
        me: NamedDependency[WebSession],
        users: FromDishka[UsersPort],
    ) -> Redirect:
        return await _change(request, me, users, "unblock", user_id)

    @post("/users/{user_id:str}/mute", name="web-mute")
    @inject
    async def mute(
        self,
        request: HTMXRequest,
        user_id: UserId,
        me: NamedDependency[WebSession],
        users: FromDishka[UsersPort],
    ) -> Redirect:
        return await _change(request, me, users, "mute", user_id)

    @post("/users/{user_id:str}/unmute", name="web-unmute")
    @inject
    async def unmute(
        self,
        request: HTMXRequest,
        user_id: UserId,
        me: NamedDependency[WebSession],
        users: FromDishka[UsersPort],
    ) -> Redirect:
        return await _change(request, me, users, "unmute", user_id)


async def _change(
    request: HTMXRequest, me: WebSession, users: UsersPort, action: Action, target: str
) -> Redirect:
    """Call the users port's ``action`` with the caller and the target, then back to the page."""
    form = await read_form(request, me)
    change: Callable[[str, str], Awaitable[Relationship]] = getattr(users, action)
    await change(me.user_id, target)
    return back(request, form.text("next"))
