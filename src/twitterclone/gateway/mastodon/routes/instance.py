"""The server's description (instance v1 and v2), custom emojis and preferences.

Clients read the version to decide which endpoints exist: it reads as Mastodon 4.3 first
("4.3.0 (compatible; twitterclone 0.1.0)", as GoToSocial and Takahe do), and ``api_versions``
says which API revision we follow. The configuration limits are ours, from the settings, so a
client's character counter and upload checks agree with the server. Both instance routes also
answer with a trailing slash (``/api/v1/instance/``): the gateway's path normalisation does it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency

from twitterclone.gateway.auth import Principal
from twitterclone.gateway.mastodon import entities as m
from twitterclone.gateway.mastodon.deps import TAG
from twitterclone.gateway.mastodon.scopes import scope
from twitterclone.gateway.mastodon.shaping import base_url
from twitterclone.gateway.params import BEARER
from twitterclone.settings import Settings

#: The Mastodon release whose client API we follow, and its API revision (``api_versions``).
MASTODON_VERSION = "4.3.0"
MASTODON_API_VERSION = 2
#: Images only: what the media module accepts (it decides by content).
IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"]
#: Alt text limit, as Mastodon's.
DESCRIPTION_LIMIT = 1500
#: Bounds of the users module (display name and bio): see boundaries/users/dto.py.
MAX_DISPLAY_NAME = 50
MAX_NOTE = 160
TITLE = "twitterclone"
DESCRIPTION = "A Twitter-like backend: one codebase, any topology."
SOURCE_URL = "https://github.com/twitterclone/twitterclone"


def software_version() -> str:
    """The version string: Mastodon's first (clients parse it), then ours."""
    try:
        ours = version("twitterclone")
    except PackageNotFoundError:  # running from a source tree without an installed distribution
        ours = "0.1.0"
    return f"{MASTODON_VERSION} (compatible; twitterclone {ours})"


def _host(request: Request[Any, Any, Any]) -> str:
    return request.url.netloc or "localhost"


def _streaming(request: Request[Any, Any, Any]) -> str:
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return f"{scheme}://{_host(request)}"


def _statuses(settings: NamedDependency[Settings]) -> m.StatusesConfig:
    return m.StatusesConfig(
        max_characters=settings.tweet_max_length, max_media_attachments=4, characters_reserved_per_url=23
    )


def _media(settings: NamedDependency[Settings]) -> m.MediaConfig:
    return m.MediaConfig(
        supported_mime_types=IMAGE_TYPES,
        description_limit=DESCRIPTION_LIMIT,
        image_size_limit=settings.media_max_bytes,
        image_matrix_limit=settings.media_max_pixels,
        video_size_limit=0,
        video_frame_rate_limit=0,
        video_matrix_limit=0,
    )


#: No polls here: a client that checks the limits offers none.
POLLS = m.PollsConfig(max_options=0, max_characters_per_option=0, min_expiration=0, max_expiration=0)


class InstanceController(Controller):
    """Instance v1 and v2, custom emojis, preferences."""

    path = ""
    tags = [TAG]

    @get("/v2/instance", operation_id="mastodonInstanceV2", summary="The server (Mastodon Instance, v2)")
    async def instance_v2(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings]
    ) -> m.Instance:
        base = base_url(request)
        return m.Instance(
            domain=_host(request),
            title=TITLE,
            version=software_version(),
            source_url=SOURCE_URL,
            description=DESCRIPTION,
            usage=m.Usage(users=m.Users(active_month=0)),
            thumbnail=m.Thumbnail(url=f"{base}/schema/assets/favicon-32x32.png", blurhash=None, versions={}),
            icon=[],
            languages=["en"],
            configuration=m.InstanceConfiguration(
                urls=m.UrlsConfig(
                    streaming=_streaming(request),
                    status=None,
                    about=f"{base}/schema",
                    privacy_policy=None,
                    terms_of_service=None,
                ),
                vapid=m.Vapid(public_key=""),
                accounts=m.AccountsConfig(
                    max_featured_tags=0,
                    max_pinned_statuses=5,
                    max_display_name_length=MAX_DISPLAY_NAME,
                    max_note_length=MAX_NOTE,
                ),
                statuses=_statuses(settings),
                media_attachments=_media(settings),
                polls=POLLS,
                translation=m.TranslationConfig(enabled=False),
            ),
            registrations=m.Registrations(enabled=True, approval_required=False, message=None, url=None),
            api_versions={"mastodon": MASTODON_API_VERSION},
            contact=m.Contact(email="", account=None),
            rules=[],
        )

    @get("/v1/instance", operation_id="mastodonInstanceV1", summary="The server (Mastodon V1::Instance)")
    async def instance_v1(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings]
    ) -> m.V1Instance:
        base = base_url(request)
        return m.V1Instance(
            uri=_host(request),
            title=TITLE,
            short_description=DESCRIPTION,
            description=DESCRIPTION,
            email="",
            version=software_version(),
            urls=m.V1Urls(streaming_api=_streaming(request)),
            stats=m.V1Stats(user_count=0, status_count=0, domain_count=0),
            thumbnail=f"{base}/schema/assets/favicon-32x32.png",
            languages=["en"],
            registrations=True,
            approval_required=False,
            invites_enabled=False,
            configuration=m.V1Configuration(
                accounts=m.V1AccountsConfig(max_featured_tags=0),
                statuses=_statuses(settings),
                media_attachments=_media(settings),
                polls=POLLS,
            ),
            contact_account=None,
            rules=[],
            api_versions={"mastodon": MASTODON_API_VERSION},
        )

    @get("/v1/custom_emojis", operation_id="mastodonCustomEmojis", summary="Custom emojis (none here)")
    async def custom_emojis(self) -> list[m.CustomEmoji]:
        return []

    @get(
        "/v1/preferences",
        operation_id="mastodonPreferences",
        summary="The caller's posting and reading preferences",
        security=BEARER,
        guards=[scope("read:accounts")],
    )
    async def preferences(self, user: NamedDependency[Principal]) -> dict[str, Any]:
        del user  # the defaults are everyone's until preferences are stored per account
        return {
            "posting:default:visibility": "public",
            "posting:default:sensitive": False,
            "posting:default:language": None,
            "reading:expand:media": "default",
            "reading:expand:spoilers": False,
        }
