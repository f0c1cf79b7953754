"""Data the users module accepts and returns."""

import unicodedata
from datetime import datetime
from typing import Annotated

import msgspec

from boundaries._kernel.ids import Id
from boundaries.users.scopes import SCOPES

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
#: A media id, or "" to remove the image.
ImageChoice = Annotated[
    str, msgspec.Meta(pattern=r"^(|0|[1-9][0-9]{0,18})$", description='A media id, or "" to remove.')
]


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


def login_account(login: str) -> str:
    """The account a login names, the same for every spelling of it: NFKC (full-width and styled
    forms fold onto ASCII), surrounding spaces dropped, lower case, no leading ``@``.

    Logins that give the same answer name the same account (a handle, or an email address),
    so whatever counts attempts per account (the gateway's login throttle) keys on this.
    """
    return unicodedata.normalize("NFKC", login).strip().lower().lstrip("@")


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
    #: An image the user uploaded, to show as their avatar; "" removes the avatar.
    avatar_id: ImageChoice | None = None
    #: An image the user uploaded, to show as their profile header; "" removes it.
    header_id: ImageChoice | None = None


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """A public profile."""

    id: Id
    handle: str
    display_name: str
    bio: str
    created_at: datetime
    followers_count: int
    following_count: int
    #: The media id of the avatar (bytes at the media API), or None.
    avatar_id: Id | None = None
    #: The media id of the profile header, or None.
    header_id: Id | None = None


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


class Silencing(msgspec.Struct, frozen=True, kw_only=True):
    """Whether one user (``user_id``) blocks or mutes an actor: may the actor reach them."""

    user_id: Id
    actor_id: Id
    blocking: bool
    muting: bool
    #: Whether the actor blocks the user (then the actor's posts do not reach the user either).
    blocked: bool = False


class Standing(msgspec.Struct, frozen=True, kw_only=True):
    """How a viewer stands to one other user: what decides which of that user's posts the viewer sees."""

    user_id: Id
    #: The viewer follows the user.
    following: bool = False
    #: The viewer blocks the user.
    blocking: bool = False
    #: The user blocks the viewer.
    blocked_by: bool = False
    #: The viewer mutes the user.
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


# ------------------------------------------------------------------ OAuth 2.0 and moderation

#: The scopes an access token may carry: Mastodon's vocabulary (boundaries/users/scopes.py), whose
#: broad ones are reading, writing (posting, liking, profile), following, push and profile.
OAUTH_SCOPES = SCOPES
#: The redirect URI of the out-of-band flow: the authorization page shows the code to copy.
OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
#: The grant types the authorization server knows.
OAUTH_GRANTS = ("authorization_code", "refresh_token", "client_credentials", "password")

ScopeName = Annotated[str, msgspec.Meta(pattern="^(" + "|".join(SCOPES) + ")$")]
GrantName = Annotated[
    str, msgspec.Meta(pattern=r"^(authorization_code|refresh_token|client_credentials|password)$")
]
RedirectUri = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
_Short = Annotated[str, msgspec.Meta(max_length=512)]
_Secret = Annotated[str, msgspec.Meta(max_length=1024)]


class ClientRegistration(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new OAuth client: where it may send users back, what it may ask for, and how it logs in.

    A confidential client gets a secret; a public one (an app that cannot keep a secret) must use
    PKCE. ``bot_account`` makes client-credentials tokens act as the registering account.
    """

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    redirect_uris: Annotated[list[RedirectUri], msgspec.Meta(max_length=10)] = msgspec.field(
        default_factory=list
    )
    confidential: bool = True
    scopes: Annotated[list[ScopeName], msgspec.Meta(min_length=1, max_length=len(SCOPES))] = msgspec.field(
        default_factory=lambda: ["read"]
    )
    grants: Annotated[list[GrantName], msgspec.Meta(min_length=1, max_length=4)] = msgspec.field(
        default_factory=lambda: ["authorization_code", "refresh_token"]
    )
    bot_account: bool = False
    website: Annotated[str, msgspec.Meta(max_length=512)] | None = None


class RegisteredClient(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An OAuth client; ``client_secret`` is present only in the answer to its registration."""

    client_id: str
    name: str
    redirect_uris: list[str]
    confidential: bool
    scopes: list[str]
    grants: list[str]
    bot_account: bool
    created_at: datetime
    client_secret: str | None = None
    #: The app's home page (Mastodon's ``website``), if it gave one.
    website: str | None = None
    #: False for an app registered by nobody (``register_app``, Mastodon's POST /api/v1/apps).
    has_owner: bool = True


class AppRegistration(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An app registered by anyone, without an account (Mastodon's POST /api/v1/apps).

    It is confidential (it gets a secret) and may use the authorization code grant (PKCE
    optional, as the secret authenticates the exchange), refresh tokens, client credentials (an
    app token that stands for no user) and, while the operator allows it, the password grant.
    ``scopes`` is a space-separated string of Mastodon's scopes (default ``read``);
    ``redirect_uris`` may hold ``OOB_REDIRECT_URI`` (the code is shown to copy), https URIs,
    http on loopback, or an app's private-use scheme (``com.example.app:/cb``).
    """

    client_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    redirect_uris: Annotated[list[RedirectUri], msgspec.Meta(min_length=1, max_length=10)]
    scopes: _Short = "read"
    website: Annotated[str, msgspec.Meta(max_length=512)] | None = None


class AuthorizedApp(msgspec.Struct, frozen=True, kw_only=True):
    """An app a user let act for them: which, with which scopes, since when, last used when."""

    client_id: str
    name: str
    website: str | None
    scopes: list[str]
    authorized_at: datetime
    last_used_at: datetime


class PasswordChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new password, given with the current one."""

    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    new_password: Password


class AuthorizationRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The query of GET /oauth/authorize (RFC 6749 §4.1.1 with PKCE, RFC 7636)."""

    response_type: _Short = ""
    client_id: _Short = ""
    redirect_uri: _Short = ""
    scope: _Short = ""
    state: _Short = ""
    code_challenge: _Short = ""
    code_challenge_method: _Short = ""


class AuthorizationPrompt(msgspec.Struct, frozen=True, kw_only=True):
    """What the consent page shows: which client asks for which scopes."""

    client_id: str
    client_name: str
    redirect_uri: str
    scopes: list[str]
    state: str


class AuthorizationCode(msgspec.Struct, frozen=True, kw_only=True):
    """A single-use authorization code and where to send it."""

    code: str
    redirect_uri: str
    state: str
    expires_in: int


class TokenRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A POST /oauth/token form, with the client's credentials from either Basic auth or the body."""

    grant_type: _Short = ""
    client_id: _Short | None = None
    client_secret: _Secret | None = None
    code: _Short | None = None
    redirect_uri: _Short | None = None
    code_verifier: _Short | None = None
    refresh_token: _Short | None = None
    scope: _Short | None = None
    username: _Short | None = None
    password: _Secret | None = None


class OAuthToken(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: str  # always "Bearer"
    expires_in: int
    scope: str
    refresh_token: str | None = None
    #: When it was issued (Unix seconds), as Mastodon's Token entity carries.
    created_at: int | None = None


class RevocationRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A POST /oauth/revoke form (RFC 7009), with the client's credentials if it has any."""

    token: _Secret = ""
    token_type_hint: _Short | None = None
    client_id: _Short | None = None
    client_secret: _Secret | None = None


class AccountStatus(msgspec.Struct, frozen=True, kw_only=True):
    """An account's role (user or admin) and whether it is suspended."""

    user_id: Id
    handle: str
    role: str
    suspended: bool
    suspended_at: datetime | None = None


class SigningKey(msgspec.Struct, frozen=True, kw_only=True):
    """One access-token signing key's lifecycle: it signs while current, verifies until retired."""

    kid: str
    created_at: datetime
    current: bool
    rotated_at: datetime | None = None
    retired_at: datetime | None = None


#: Most accounts, and most follows, one ``UsersPort.import_accounts`` call takes (callers chunk).
MAX_IMPORT = 10_000


class ImportedAccount(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An account created by an import: no password, so nobody can log in as it."""

    handle: Handle
    email: Email
    display_name: DisplayName = ""


class ImportedFollow(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``follower_id`` follows ``followee_id`` (both existing accounts)."""

    follower_id: Id
    followee_id: Id


class AccountImport(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Accounts to create, then follows to add, in bulk (a migration, a load test's population).

    For a population too large to register and follow one by one (the fan-out benchmark's 100,000
    followers): one transaction per call, no password hash (nobody can log in as an imported
    account). The rules are register's and follow's, and so are the events, written with the rows:
    ``UserRegistered`` per account, ``UserFollowed`` per follow not already there (an existing
    follow is left as is). At most ``MAX_IMPORT`` of each per call.
    """

    accounts: Annotated[list[ImportedAccount], msgspec.Meta(max_length=MAX_IMPORT)] = []
    follows: Annotated[list[ImportedFollow], msgspec.Meta(max_length=MAX_IMPORT)] = []


class ImportResult(msgspec.Struct, frozen=True, kw_only=True):
    """The new accounts' ids (in the order given) and how many follows were new."""

    ids: list[Id]
    follows_added: int
