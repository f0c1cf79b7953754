"""Where a profile without its own avatar or header points: default images this gateway serves.

The files are static assets of the gateway (``web/static``, served at ``/static``): every face
(the Mastodon API, the web client) links the same ones, and a client that loads the URL as it
is gets an image, as Mastodon's clients expect of ``avatar`` and ``header``.
"""

from __future__ import annotations

from typing import Final

from boundaries.media.dto import ProfileImageRole

#: The path of the default image of each profile image role.
DEFAULT_IMAGES: Final[dict[ProfileImageRole, str]] = {
    "avatar": "/static/default-avatar.png",
    "header": "/static/default-header.png",
}

__all__ = ["DEFAULT_IMAGES"]
