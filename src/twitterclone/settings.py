"""Process settings from environment variables with the ``TWITTERCLONE_`` prefix.

The manifest decides topology; settings hold what varies per machine or per run
(where data lives, secrets, limits). Every field below is documented in the README.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

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
    #: Access token lifetime in seconds; refresh token lifetime in days.
    access_token_ttl_s: int = 900
    refresh_token_ttl_days: int = 30
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
    #: Uploads never attached to a tweet are removed after this many seconds.
    media_unattached_grace_s: int = 86_400
    #: Log level of the application loggers.
    log_level: str = "INFO"
    #: argon2id cost parameters (memory in KiB).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65_536
    argon2_parallelism: int = 4

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
