"""Data the users module accepts and returns."""

from datetime import datetime
from typing import Annotated

import msgspec

from boundaries._kernel.ids import Id

Handle = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=15,
        pattern=r"^[A-Za-z0-9_]{1,15}$",
        description="1-15 letters, digits or underscores; unique ignoring case.",
    ),
]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=1024)]
DisplayName = Annotated[str, msgspec.Meta(max_length=50)]
Bio = Annotated[str, msgspec.Meta(max_length=160)]


class Register(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new account."""

    handle: Handle
    email: Email
    password: Password
    display_name: DisplayName = ""


class Login(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Credentials: the handle or the email, and the password."""

    login: Annotated[str, msgspec.Meta(min_length=1, max_length=254)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class RefreshRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An opaque refresh token to exchange (it is rotated) or revoke."""

    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class TokenPair(msgspec.Struct, frozen=True, kw_only=True):
    """A short-lived access token (JWT) and an opaque, single-use refresh token."""

    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = 900
    user_id: Id = ""


class ProfileUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The fields of one's own profile that may change; an absent field stays as it is."""

    display_name: DisplayName | None = None
    bio: Bio | None = None


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """A public profile."""

    id: Id
    handle: str
    display_name: str
    bio: str
    created_at: datetime
    followers_count: int
    following_count: int


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """One's own profile, with what only its owner may see."""

    profile: Profile
    email: str


class Author(msgspec.Struct, frozen=True, kw_only=True):
    """The few profile fields shown next to a tweet."""

    id: Id
    handle: str
    display_name: str


class Relationship(msgspec.Struct, frozen=True, kw_only=True):
    """How one user (the viewer) stands to another (the target)."""

    user_id: Id
    target_id: Id
    following: bool
    followed_by: bool
    blocking: bool = False
    blocked_by: bool = False
    muting: bool = False


class IdPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of ids (for fan-out and other bulk work), with an opaque cursor."""

    ids: list[Id]
    next_cursor: str | None = None


class Jwk(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One public signing key (RFC 7517)."""

    kty: str
    kid: str
    alg: str
    use: str = "sig"
    crv: str | None = None
    x: str | None = None
    y: str | None = None


class Jwks(msgspec.Struct, frozen=True, kw_only=True):
    """The public keys that verify access tokens."""

    keys: list[Jwk]


class TokenSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What a verifier needs besides the keys: issuer, audience and the pinned algorithm."""

    issuer: str
    audience: str
    algorithm: str
