"""What every web page handler shares: who is signing, reading forms (with their CSRF check)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException

from boundaries.media.port import MediaPort
from boundaries.tweets.dto import Tweet
from twitterclone.gateway.web.session import CSRF_FIELD, WebSession, check_csrf, current_session


async def _web(request: Request[Any, Any, Any]) -> WebSession | None:
    return await current_session(request)


async def _me(request: Request[Any, Any, Any]) -> WebSession:
    session = await current_session(request)
    if session is None:  # the web router's error handler turns this into a redirect to /signin
        raise NotAuthorizedException("sign in to see this page")
    return session


#: ``web``: the signed-in session or None; ``me``: the session, else a redirect to /signin.
WEB_DEPENDENCIES = {"web": Provide(_web), "me": Provide(_me)}


class Form:
    """A submitted form whose CSRF token was checked; text fields trimmed of surrounding space."""

    def __init__(self, data: Any) -> None:
        self._data = data

    def text(self, name: str, *, strip: bool = True) -> str:
        value = self._data.get(name)
        if not isinstance(value, str):
            return ""
        return value.strip() if strip else value

    def file(self, name: str) -> UploadFile | None:
        value = self._data.get(name)
        return value if isinstance(value, UploadFile) and value.filename else None


async def read_form(request: Request[Any, Any, Any], session: WebSession | None) -> Form:
    """The request's form, after checking its CSRF token (CsrfRefused, a 403 page, otherwise)."""
    data = await request.form()
    token = data.get(CSRF_FIELD)
    check_csrf(request, session, token if isinstance(token, str) else None)
    return Form(data)


async def media_alts(media: MediaPort, tweets: Iterable[Tweet], viewer_id: str | None) -> dict[str, str]:
    """The alt text of every image the tweets show (with retweeted and quoted ones): one batch
    call to the media port, and none at all when no tweet has an image."""
    ids: list[str] = []
    for tweet in tweets:
        for shown in (tweet, tweet.retweet_of, tweet.quoted, tweet.retweet_of and tweet.retweet_of.quoted):
            if shown is not None:
                ids.extend(shown.media_ids)
    if not ids:
        return {}
    found = await media.get_many(list(dict.fromkeys(ids)), viewer_id)
    return {m.id: m.description for m in found if m.description}


_FIELD_HINTS = {
    "handle": "1 to 15 letters, digits or underscores",
    "email": "an email address, like you@example.org",
    "password": "at least 8 characters",
    "display_name": "at most 50 characters",
    "bio": "at most 160 characters",
    "login": "your handle or email",
}


def field_errors(exc: msgspec.ValidationError) -> dict[str, str]:
    """Which form field a DTO's validation error is about, with a message a person can act on."""
    message = str(exc)
    field = message.rsplit("$.", 1)[1].rstrip("`") if "$." in message else ""
    field = field.split(".", 1)[0].split("[", 1)[0]
    return {field or "form": _FIELD_HINTS.get(field, message)}
