"""Mastodon 4.3 client-API entities, as its documentation spells them (content/en/entities/*.md).

Only the adapter knows these shapes; modules never see them. Every field a Mastodon 4.3 server
always sends is declared without a default, so the OpenAPI document marks it required and the
fuzz run checks it is there. Fields Mastodon documents as optional (and clients dereference
when present) are left out of the struct rather than sent as null: a Status has no
``scheduled_at``, an anonymous reader's Status still carries ``favourited`` and friends (false).
Nullable fields are always present, as null when unknown.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Visibility = Literal["public", "unlisted", "private", "direct"]


class _Entity(msgspec.Struct, frozen=True, kw_only=True):
    """Base: every entity is an immutable keyword-only struct."""


class CustomEmoji(_Entity, frozen=True, kw_only=True):
    shortcode: str
    url: str
    static_url: str
    visible_in_picker: bool
    category: str | None = None


class Field(_Entity, frozen=True, kw_only=True):
    name: str
    value: str
    verified_at: str | None = None


class Account(_Entity, frozen=True, kw_only=True):
    """Account (entities/Account.md): a local account; ``acct`` is the bare username."""

    id: str
    username: str
    acct: str
    url: str
    uri: str
    display_name: str
    note: str
    avatar: str
    avatar_static: str
    header: str
    header_static: str
    locked: bool
    fields: list[Field]
    emojis: list[CustomEmoji]
    bot: bool
    group: bool
    discoverable: bool | None
    indexable: bool
    hide_collections: bool | None
    noindex: bool | None
    created_at: str
    last_status_at: str | None
    statuses_count: int
    followers_count: int
    following_count: int


class Source(_Entity, frozen=True, kw_only=True):
    """CredentialAccount's ``source``: what the owner edits, unrendered."""

    privacy: Visibility
    sensitive: bool
    language: str
    note: str
    fields: list[Field]
    follow_requests_count: int


class Role(_Entity, frozen=True, kw_only=True):
    id: str
    name: str
    permissions: str
    color: str
    highlighted: bool


class CredentialAccount(Account, frozen=True, kw_only=True):
    """The caller's own Account (verify_credentials, update_credentials): adds ``source``, ``role``."""

    source: Source
    role: Role


class MediaDimensions(_Entity, frozen=True, kw_only=True):
    width: int
    height: int
    size: str
    aspect: float


class Focus(_Entity, frozen=True, kw_only=True):
    x: float
    y: float


class MediaMeta(_Entity, frozen=True, kw_only=True):
    original: MediaDimensions
    small: MediaDimensions
    focus: Focus


class MediaAttachment(_Entity, frozen=True, kw_only=True):
    """MediaAttachment (entities/MediaAttachment.md); only images are stored here."""

    id: str
    type: Literal["image", "gifv", "video", "audio", "unknown"]
    url: str | None
    preview_url: str | None
    remote_url: str | None
    meta: MediaMeta | None
    description: str | None
    blurhash: str | None


class StatusMention(_Entity, frozen=True, kw_only=True):
    id: str
    username: str
    url: str
    acct: str


class StatusTag(_Entity, frozen=True, kw_only=True):
    name: str
    url: str


class Status(_Entity, frozen=True, kw_only=True):
    """Status (entities/Status.md); a reblog is a wrapper whose ``reblog`` is the original."""

    id: str
    uri: str
    url: str | None
    created_at: str
    edited_at: str | None
    account: Account
    content: str
    visibility: Visibility
    sensitive: bool
    spoiler_text: str
    media_attachments: list[MediaAttachment]
    mentions: list[StatusMention]
    tags: list[StatusTag]
    emojis: list[CustomEmoji]
    reblogs_count: int
    favourites_count: int
    replies_count: int
    in_reply_to_id: str | None
    in_reply_to_account_id: str | None
    reblog: Status | None
    poll: None
    card: None
    language: str | None
    favourited: bool
    reblogged: bool
    muted: bool
    bookmarked: bool
    pinned: bool


class DeletedStatus(Status, frozen=True, kw_only=True):
    """The answer to DELETE /api/v1/statuses/:id: the status with its source ``text``."""

    text: str


class Context(_Entity, frozen=True, kw_only=True):
    ancestors: list[Status]
    descendants: list[Status]


class Relationship(_Entity, frozen=True, kw_only=True):
    id: str
    following: bool
    showing_reblogs: bool
    notifying: bool
    languages: list[str] | None
    followed_by: bool
    blocking: bool
    blocked_by: bool
    muting: bool
    muting_notifications: bool
    requested: bool
    requested_by: bool
    domain_blocking: bool
    endorsed: bool
    note: str


NotificationType = Literal[
    "mention", "status", "reblog", "follow", "follow_request", "favourite", "poll", "update"
]


class Notification(_Entity, frozen=True, kw_only=True):
    """Notification (entities/Notification.md); ``status`` is absent (not null) when there is none."""

    id: str
    type: NotificationType
    group_key: str
    created_at: str
    account: Account


class StatusNotification(Notification, frozen=True, kw_only=True):
    status: Status


class UnreadCount(_Entity, frozen=True, kw_only=True):
    """GET /api/v1/notifications/unread_count: the (capped) number of unread notifications."""

    count: int


class TagHistory(_Entity, frozen=True, kw_only=True):
    day: str
    uses: str
    accounts: str


class Tag(_Entity, frozen=True, kw_only=True):
    name: str
    url: str
    history: list[TagHistory]


class Search(_Entity, frozen=True, kw_only=True):
    accounts: list[Account]
    statuses: list[Status]
    hashtags: list[Tag]


class Marker(_Entity, frozen=True, kw_only=True):
    last_read_id: str
    version: int
    updated_at: str


class Markers(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """GET /api/v1/markers: the timelines asked for that have a marker."""

    home: Marker | None = None
    notifications: Marker | None = None


class Application(_Entity, frozen=True, kw_only=True):
    """Application (entities/Application.md) as apps/verify_credentials answers it."""

    id: str
    name: str
    website: str | None
    scopes: list[str]
    redirect_uri: str
    redirect_uris: list[str]
    vapid_key: str


class CredentialApplication(Application, frozen=True, kw_only=True):
    """The answer to POST /api/v1/apps: the application with its client credentials."""

    client_id: str
    client_secret: str
    client_secret_expires_at: int


Preferences = dict[str, str | bool | None]


# ------------------------------------------------------------------------------------- instance


class StatusesConfig(_Entity, frozen=True, kw_only=True):
    max_characters: int
    max_media_attachments: int
    characters_reserved_per_url: int


class MediaConfig(_Entity, frozen=True, kw_only=True):
    supported_mime_types: list[str]
    description_limit: int
    image_size_limit: int
    image_matrix_limit: int
    video_size_limit: int
    video_frame_rate_limit: int
    video_matrix_limit: int


class PollsConfig(_Entity, frozen=True, kw_only=True):
    max_options: int
    max_characters_per_option: int
    min_expiration: int
    max_expiration: int


class AccountsConfig(_Entity, frozen=True, kw_only=True):
    max_featured_tags: int
    max_pinned_statuses: int
    max_display_name_length: int
    max_note_length: int


class UrlsConfig(_Entity, frozen=True, kw_only=True):
    streaming: str
    status: str | None
    about: str
    privacy_policy: str | None
    terms_of_service: str | None


class Vapid(_Entity, frozen=True, kw_only=True):
    public_key: str


class TranslationConfig(_Entity, frozen=True, kw_only=True):
    enabled: bool


class InstanceConfiguration(_Entity, frozen=True, kw_only=True):
    urls: UrlsConfig
    vapid: Vapid
    accounts: AccountsConfig
    statuses: StatusesConfig
    media_attachments: MediaConfig
    polls: PollsConfig
    translation: TranslationConfig


class Registrations(_Entity, frozen=True, kw_only=True):
    enabled: bool
    approval_required: bool
    message: str | None
    url: str | None


class Contact(_Entity, frozen=True, kw_only=True):
    email: str
    account: Account | None


class Thumbnail(_Entity, frozen=True, kw_only=True):
    url: str
    blurhash: str | None
    versions: dict[str, str]


class Users(_Entity, frozen=True, kw_only=True):
    active_month: int


class Usage(_Entity, frozen=True, kw_only=True):
    users: Users


class Rule(_Entity, frozen=True, kw_only=True):
    id: str
    text: str
    hint: str


class Instance(_Entity, frozen=True, kw_only=True):
    """Instance (entities/Instance.md), GET /api/v2/instance."""

    domain: str
    title: str
    version: str
    source_url: str
    description: str
    usage: Usage
    thumbnail: Thumbnail
    icon: list[dict[str, str]]
    languages: list[str]
    configuration: InstanceConfiguration
    registrations: Registrations
    api_versions: dict[str, int]
    contact: Contact
    rules: list[Rule]


class V1Urls(_Entity, frozen=True, kw_only=True):
    streaming_api: str


class V1Stats(_Entity, frozen=True, kw_only=True):
    user_count: int
    status_count: int
    domain_count: int


class V1AccountsConfig(_Entity, frozen=True, kw_only=True):
    max_featured_tags: int


class V1Configuration(_Entity, frozen=True, kw_only=True):
    accounts: V1AccountsConfig
    statuses: StatusesConfig
    media_attachments: MediaConfig
    polls: PollsConfig


class V1Instance(_Entity, frozen=True, kw_only=True):
    """V1::Instance (entities/V1_Instance.md), GET /api/v1/instance."""

    uri: str
    title: str
    short_description: str
    description: str
    email: str
    version: str
    urls: V1Urls
    stats: V1Stats
    thumbnail: str | None
    languages: list[str]
    registrations: bool
    approval_required: bool
    invites_enabled: bool
    configuration: V1Configuration
    contact_account: Account | None
    rules: list[Rule]
    api_versions: dict[str, int]


class Error(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Error (entities/Error.md): every error answer of the Mastodon routes."""

    error: str
    error_description: str | None = None


class Token(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Token (entities/Token.md): what sign-up answers; ``refresh_token`` when one was issued."""

    access_token: str
    token_type: str
    scope: str
    created_at: int
    expires_in: int | None = None
    refresh_token: str | None = None
