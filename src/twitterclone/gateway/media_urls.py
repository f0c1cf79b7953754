"""Image URLs that carry their viewer, for clients that fetch images without the token.

Mastodon apps load an attachment's ``url`` and ``preview_url`` as a browser loads an ``<img>``:
a plain GET, no ``Authorization`` header. An image only some may see (in a followers-only or
direct tweet, or a draft) is therefore handed to its viewer as

    /api/media/<id>/<variant>?v=<viewer id>&e=<expiry, unix s>&s=<signature>

where the signature is HMAC-SHA256 (first 16 bytes, URL-safe base64) over
``media|<id>|<variant>|<viewer>|<expiry>`` with the deployment's media URL key. The media route
takes a valid, unexpired signature in place of the token and then still asks the audience rule
as that viewer (``media_audience.check_audience``), so an unfollow or a block ends access at
once, not at expiry. A URL that fails any check is ignored: the request is answered as an
anonymous one (404 for such an image, saying nothing of it).

The expiry is the end of the next whole hour: a URL stays the same within an hour (clients may
keep it, and their cached bytes) and lives between one and two hours.

The key (``media-url.key``, 32 random bytes) sits beside the service identity keys
(``identity.media_url_keys``), so every gateway process of a deployment signs alike. During a
rotation the previous key (``media-url.previous.key``) is still accepted, never used to sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path

from litestar import Litestar

from twitterclone.identity import media_url_keys

#: An issued URL lives until the end of the next whole hour (so one to two hours).
BUCKET_S = 3600
#: Bytes of the HMAC kept in the URL (128 bits).
SIGNATURE_BYTES = 16


def now() -> float:
    """The clock (a test moves it)."""
    return time.time()


def _signature(key: bytes, media_id: str, variant: str, viewer_id: str, expires: int) -> str:
    message = f"media|{media_id}|{variant}|{viewer_id}|{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class MediaUrls:
    """Signs restricted image URLs for a viewer and verifies them (one per gateway process)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._loaded: list[bytes] | None = None

    @property
    def _keys(self) -> list[bytes]:
        """The deployment's key (made on first need) and, during a rotation, the previous one."""
        if self._loaded is None:
            self._loaded = media_url_keys(self._directory)
        return self._loaded

    def query(self, media_id: str, variant: str, viewer_id: str) -> str:
        """The query string (without ``?``) that lets ``viewer_id`` fetch this rendition."""
        expires = (int(now()) // BUCKET_S + 2) * BUCKET_S
        signature = _signature(self._keys[0], media_id, variant, viewer_id, expires)
        return f"v={viewer_id}&e={expires}&s={signature}"

    def viewer(
        self, media_id: str, variant: str, viewer_id: str | None, expires: str | None, signature: str | None
    ) -> str | None:
        """The viewer a URL was signed for, if its signature holds and it has not expired."""
        if not viewer_id or not signature or not expires:
            return None
        if not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
            return None
        if int(expires) <= now():
            return None
        for key in self._keys:
            expected = _signature(key, media_id, variant, viewer_id, int(expires))
            if hmac.compare_digest(expected.encode(), signature.encode()):
                return viewer_id
        return None


def media_urls_of(app: Litestar) -> MediaUrls:
    """This gateway's signer (``create_app`` puts it on the app's state)."""
    found: MediaUrls = app.state.media_urls
    return found


__all__ = ["BUCKET_S", "MediaUrls", "media_urls_of", "now"]
