"""Process settings from environment variables with the ``TWITTERCLONE_`` prefix.

The manifest decides topology; settings hold what varies per machine or per run
(where data lives, secrets, limits). Every field below is documented in the README.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import msgspec

from twitterclone.manifest import Manifest, load_manifest, with_store_urls

PREFIX = "TWITTERCLONE_"


class SettingsError(ValueError):
    """An environment variable has a value that cannot be used."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a process reads from its environment."""

    #: Manifest file that decides the topology.
    manifest: str = "deployments/monolith.toml"
    #: Where embedded SQLite files, signing keys and blobs live.
    data_dir: str = "data"
    #: Snowflake worker id (0-1023); by default derived from the process id.
    worker_id: int | None = None
    #: Issuer and audience of access tokens.
    jwt_issuer: str = "twitterclone"
    jwt_audience: str = "twitterclone-api"
    #: Access token lifetime in seconds; refresh token lifetime in days (each rotation starts it
    #: again, so an unused session ends after this many days).
    access_token_ttl_s: int = 900
    refresh_token_ttl_days: int = 30
    #: A refresh family's absolute lifetime in days: however often it is rotated, a session (or
    #: an app's authorisation) ends this long after the login that opened it; log in again then.
    refresh_family_max_days: Annotated[int, msgspec.Meta(ge=1)] = 90
    #: Longest tweet in characters.
    tweet_max_length: int = 280
    #: Authors with at least this many followers are merged into timelines at read time.
    fanout_follower_threshold: int = 10_000
    #: Home timeline capacity (entries kept per user).
    home_timeline_size: int = 800
    #: Largest request body the gateway accepts, in bytes.
    max_body_bytes: int = 1_048_576
    #: Origins allowed by CORS, comma-separated; empty allows none.
    cors_origins: str = ""
    #: Largest accepted image upload in bytes, and the most pixels a decoded image may have.
    media_max_bytes: int = 5 * 1024 * 1024
    media_max_pixels: int = 40_000_000
    #: The most memory one image may take once decoded (pixels x bytes per pixel, checked from
    #: the header before decoding): 64 MiB holds a 16-megapixel colour picture.
    media_max_decoded_bytes: Annotated[int, msgspec.Meta(ge=1)] = 64 * 1024 * 1024
    #: Image work runs on its own threads, this many per process; this many more uploads may
    #: wait for one, and past that an upload gets a fast 503 ``media-busy``.
    media_image_workers: Annotated[int, msgspec.Meta(ge=1)] = 1
    media_image_queue: Annotated[int, msgspec.Meta(ge=0)] = 4
    #: Uploads never attached to a tweet are removed after this many seconds.
    media_unattached_grace_s: int = 86_400
    #: Applied events are remembered in each consumer's inbox (to recognise a redelivery) this
    #: many seconds, then purged. Longer than the outbox keeps published events (a day) and
    #: than any redelivery can come late; default a week.
    inbox_retention_s: Annotated[float, msgspec.Meta(gt=86_400)] = 7 * 86_400.0
    #: Published events stay in their module's outbox this many seconds, to be published again
    #: when Redis comes back empty or a consumer group has to be created again (streams are
    #: rebuilt from them). Shorter than ``inbox_retention_s``, so a replayed event is recognised.
    outbox_retention_s: Annotated[float, msgspec.Meta(ge=60)] = 86_400.0
    #: How long a tweet's Idempotency-Key is remembered (seconds); a reuse after that posts anew.
    tweets_idempotency_ttl_s: Annotated[int, msgspec.Meta(ge=1)] = 86_400
    #: The folder of the services' identity keys: this service's private ``<service>.key`` and
    #: every service's public ``<service>.pub`` (default: <data_dir>/service-identity).
    service_keys_dir: str = ""
    #: When set, replaces the manifest's ``database.url`` (credentials come from a secret, not the file).
    database_url: str = ""
    #: When set, replaces the manifest's ``redis.url``.
    redis_url: str = ""
    #: Every public request gets this many seconds; downstream calls share the budget.
    request_timeout_s: float = 5.0
    #: Admission control (gateway/admission.py): requests run at once per process; how long one
    #: more may wait for a slot, and how many may wait, before the answer is a fast 503.
    admission_max_active: Annotated[int, msgspec.Meta(ge=1)] = 64
    admission_max_wait_s: Annotated[float, msgspec.Meta(ge=0)] = 0.05
    admission_max_queue: Annotated[int, msgspec.Meta(ge=0)] = 512
    #: Slow clients (slowloris): seconds a client has to send a request's headers (granian's http1
    #: header read timeout, which also bounds an idle keep-alive connection), and its body: the
    #: body must arrive within ``body_read_timeout_s``, extended by one second per
    #: ``body_min_rate_bytes_s`` bytes received, so a large upload on a fair link is not cut off.
    header_read_timeout_s: Annotated[float, msgspec.Meta(ge=1)] = 10.0
    body_read_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    body_min_rate_bytes_s: Annotated[int, msgspec.Meta(ge=1)] = 65_536
    #: Long-lived streams (SSE): at most this many open per user and per process; an open stream
    #: re-checks its token and account every ``stream_recheck_s`` seconds and closes when they lapse.
    streams_per_user: Annotated[int, msgspec.Meta(ge=1)] = 5
    streams_max: Annotated[int, msgspec.Meta(ge=1)] = 512
    stream_recheck_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    #: Log level of the application loggers.
    log_level: str = "INFO"
    #: argon2id cost parameters (memory in KiB).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65_536
    argon2_parallelism: int = 4
    #: Whether the OAuth token endpoint accepts the (first-party) password grant.
    oauth_password_grant: bool = True
    #: The gateway re-reads the JWKS at least this often (seconds), so a retired key stops verifying.
    jwks_max_age_s: float = 5.0
    #: How long the gateway trusts that a token's account is not suspended and the token not revoked.
    access_status_cache_s: float = 1.0
    #: Rate limits (token buckets): "<burst>/<seconds to refill fully>", e.g. "30/60" (see SECURITY.md).
    #: Off only for benchmarks that measure something else.
    rate_limit_enabled: bool = True
    #: Every /api and /oauth request, per client address and per authenticated user.
    rate_address: str = "1200/60"
    rate_user: str = "600/60"
    #: Stricter budgets: logins per address and per target account (across addresses),
    #: registrations per address, token requests (refresh, OAuth token) per address.
    rate_login_address: str = "30/60"
    rate_login_account: str = "10/300"
    rate_register_address: str = "30/3600"
    rate_token_address: str = "60/60"  # noqa: S105 - a rate budget, not a secret
    #: Posting (tweets, replies, quotes, retweets) and following, per user: a burst budget and an hourly cap.
    rate_post_user: str = "30/60"
    rate_post_hourly: str = "300/3600"
    rate_follow_user: str = "30/60"
    rate_follow_hourly: str = "400/3600"
    #: Proxies in front of the gateway whose X-Forwarded-For entries are trusted (0: use the peer address).
    rate_trusted_proxy_hops: int = 0

    def __post_init__(self) -> None:
        if self.outbox_retention_s >= self.inbox_retention_s:
            raise ValueError(
                f"{PREFIX}OUTBOX_RETENTION_S must be shorter than {PREFIX}INBOX_RETENTION_S "
                "(an event published again must still be recognised by the inboxes)"
            )

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read settings from ``TWITTERCLONE_*`` variables; a bad value names its variable."""
        env = os.environ if environ is None else environ
        raw: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            key = PREFIX + field.name.upper()
            if key in env:
                raw[field.name] = env[key]
        raw.update(overrides)
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise SettingsError(f"bad environment setting: {_env_name(str(exc))}") from exc


def _env_name(message: str) -> str:
    # msgspec says "... - at `$.field`"; name the environment variable instead.
    if "`$." in message:
        head, _, tail = message.partition("`$.")
        field = tail.split("`", 1)[0]
        return f"{head.rstrip(' -')} (in {PREFIX}{field.upper()})"
    return message


def load_deployment(settings: Settings) -> Manifest:
    """The manifest ``settings`` names, with the store URLs the environment gives (if any)."""
    return with_store_urls(
        load_manifest(settings.manifest), database_url=settings.database_url, redis_url=settings.redis_url
    )
