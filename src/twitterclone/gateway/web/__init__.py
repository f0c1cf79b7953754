"""The web client: server-rendered pages (Jinja templates, HTMX) over the same ports as the API.

Served by the gateway at ``/``; see README ("The web client") and ``session.py`` for how signing
in, cookies and CSRF tokens work. Handlers only translate forms to port calls and port answers to
pages; every rule lives in the modules.
"""

from __future__ import annotations

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.plugins.htmx import HTMXRequest
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from twitterclone.gateway.web.account import AccountPages
from twitterclone.gateway.web.activity import ActivityPages
from twitterclone.gateway.web.common import WEB_DEPENDENCIES
from twitterclone.gateway.web.people import PeoplePages
from twitterclone.gateway.web.render import STATIC, WEB_EXCEPTION_HANDLERS, web_template_config
from twitterclone.gateway.web.session import build_session_store, session_user_id
from twitterclone.gateway.web.tweets import TweetPages


def web_handlers() -> list[ControllerRouterHandler]:
    """The web client's pages and its static assets (CSS, JS, the vendored htmx)."""
    pages = Router(
        path="/",
        route_handlers=[AccountPages, TweetPages, PeoplePages, ActivityPages],
        dependencies=dict(WEB_DEPENDENCIES),
        exception_handlers=WEB_EXCEPTION_HANDLERS,
        request_class=HTMXRequest,
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/static",
        directories=[STATIC],
        include_in_schema=False,
        name="web-static",
        cache_control=CacheControlHeader(public=True, max_age=86_400),
    )
    return [pages, static]


__all__ = ["build_session_store", "session_user_id", "web_handlers", "web_template_config"]
