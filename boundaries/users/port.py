"""What other modules and the gateway may ask of the users module."""

from typing import Protocol

from boundaries._kernel.ids import Id
from boundaries._kernel.markers import not_idempotent
from boundaries._kernel.pagination import Page, PageRequest
from boundaries.users.dto import (
    Account,
    AccountImport,
    AccountStatus,
    AppRegistration,
    Author,
    AuthorizationCode,
    AuthorizationPrompt,
    AuthorizationRequest,
    AuthorizedApp,
    ClientRegistration,
    IdPage,
    ImportResult,
    Jwks,
    Login,
    OAuthToken,
    PasswordChange,
    Profile,
    ProfileUpdate,
    Register,
    RegisteredClient,
    Relationship,
    RevocationRequest,
    SigningKey,
    TokenPair,
    TokenRequest,
    TokenSettings,
)


class UsersPort(Protocol):
    """Accounts, credentials and tokens, profiles, and the follow graph."""

    @not_idempotent
    async def register(self, command: Register) -> Account:
        """Create an account; raises HandleTaken (HandleTooSimilar for a look-alike) or EmailTaken."""
        ...

    @not_idempotent
    async def authenticate(self, command: Login) -> TokenPair:
        """Check credentials and open a new token family; raises InvalidCredentials."""
        ...

    @not_idempotent
    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token; reuse of a rotated one revokes its whole family."""
        ...

    async def logout(self, refresh_token: str) -> None:
        """Revoke the family of a refresh token (its access tokens stop too); unknown tokens are ignored."""
        ...

    async def jwks(self) -> Jwks:
        """The public keys that verify access tokens (current and not yet retired)."""
        ...

    async def token_settings(self) -> TokenSettings:
        """Issuer, audience and algorithm that access tokens are signed with."""
        ...

    async def account(self, user_id: Id) -> Account:
        """One's own account (profile and email); raises UserNotFound."""
        ...

    async def profile(self, user_id: Id) -> Profile:
        """A public profile by id; raises UserNotFound."""
        ...

    async def profile_by_handle(self, handle: str) -> Profile:
        """A public profile by handle, ignoring case; raises UserNotFound."""
        ...

    async def profiles(self, user_ids: list[Id]) -> list[Profile]:
        """Profiles for many ids in one call, in the order asked; unknown ids are left out."""
        ...

    async def authors(self, user_ids: list[Id]) -> list[Author]:
        """Author summaries for many ids in one call, in the order asked; unknown left out."""
        ...

    async def ids_by_handles(self, handles: list[str]) -> dict[str, Id]:
        """Resolve handles (ignoring case) to ids; the keys are the handles as given."""
        ...

    async def update_profile(self, user_id: Id, update: ProfileUpdate) -> Account:
        """Change one's own display name or bio."""
        ...

    async def follow(self, follower_id: Id, followee_id: Id) -> Relationship:
        """Follow someone; idempotent. Raises CannotFollowSelf, UserNotFound or Blocked."""
        ...

    async def unfollow(self, follower_id: Id, followee_id: Id) -> Relationship:
        """Stop following someone; idempotent."""
        ...

    async def block(self, user_id: Id, target_id: Id) -> Relationship:
        """Block someone (and end follows both ways); idempotent."""
        ...

    async def unblock(self, user_id: Id, target_id: Id) -> Relationship:
        """Lift a block; idempotent."""
        ...

    async def mute(self, user_id: Id, target_id: Id) -> Relationship:
        """Mute someone; idempotent."""
        ...

    async def unmute(self, user_id: Id, target_id: Id) -> Relationship:
        """Lift a mute; idempotent."""
        ...

    async def relationship(self, user_id: Id, target_id: Id) -> Relationship:
        """How ``user_id`` stands to ``target_id``."""
        ...

    async def followers(self, user_id: Id, page: PageRequest) -> Page[Profile]:
        """Who follows a user, most recent first."""
        ...

    async def following(self, user_id: Id, page: PageRequest) -> Page[Profile]:
        """Whom a user follows, most recent first."""
        ...

    async def follower_ids(self, user_id: Id, cursor: str | None, limit: int) -> IdPage:
        """Follower ids in bulk (up to 5000 a call), for fan-out."""
        ...

    async def following_ids(self, user_id: Id) -> list[Id]:
        """Every id a user follows (bounded by the follow cap), for timeline assembly."""
        ...

    async def popular_following_ids(self, user_id: Id, min_followers: int) -> list[Id]:
        """Ids a user follows that have at least ``min_followers`` followers (hybrid timelines)."""
        ...

    async def search(self, prefix: str, page: PageRequest) -> Page[Profile]:
        """Users whose handle or display name starts with ``prefix`` (ignoring case)."""
        ...

    # ------------------------------------------------------------ OAuth 2.0 authorization server

    @not_idempotent
    async def register_client(self, owner_id: Id, command: ClientRegistration) -> RegisteredClient:
        """Register an OAuth client owned by a user; its secret (if confidential) is shown only here."""
        ...

    async def list_clients(self, owner_id: Id) -> list[RegisteredClient]:
        """The OAuth clients a user registered and has not deleted, newest first, without secrets."""
        ...

    async def delete_client(self, owner_id: Id, client_id: str) -> None:
        """Delete one's OAuth client and revoke every token and code it holds; OAuthClientNotFound."""
        ...

    async def authorization_prompt(self, request: AuthorizationRequest) -> AuthorizationPrompt:
        """Check an authorization request (client, exact redirect URI, scope, S256 PKCE); OAuthError."""
        ...

    @not_idempotent
    async def approve_authorization(
        self, request: AuthorizationRequest, credentials: Login
    ) -> AuthorizationCode:
        """The user logged in and consented: a single-use, short-lived code bound to client, URI and PKCE."""
        ...

    @not_idempotent
    async def exchange_token(self, request: TokenRequest) -> OAuthToken:
        """The token endpoint: authenticate the client and apply one grant; raises OAuthError."""
        ...

    async def revoke_token(self, request: RevocationRequest) -> None:
        """Revoke a refresh token's family or an access token (RFC 7009); unknown tokens are ignored."""
        ...

    async def token_active(self, subject: str, token_id: str | None) -> bool:
        """Whether an access token's subject may act now: not suspended, and the token not revoked."""
        ...

    @not_idempotent
    async def register_app(self, command: AppRegistration) -> RegisteredClient:
        """Register an app without an account (Mastodon's apps API); its secret is shown only here."""
        ...

    async def describe_client(self, client_id: str) -> RegisteredClient:
        """The app behind a token (its client id), without its secret; raises OAuthClientNotFound."""
        ...

    @not_idempotent
    async def register_through_client(self, client_id: str, scope: str, command: Register) -> OAuthToken:
        """Sign up through an app's client-credentials token; a token of ``scope`` for that app."""
        ...

    async def authorized_apps(self, user_id: Id) -> list[AuthorizedApp]:
        """The apps a user let act for them and has not revoked, most recently used first."""
        ...

    async def revoke_authorized_app(self, user_id: Id, client_id: str) -> None:
        """Take back an app's access: its tokens and codes for this user stop at once; idempotent."""
        ...

    @not_idempotent
    async def change_password(self, user_id: Id, command: PasswordChange) -> TokenPair:
        """Change one's password; every session and grant ends; the answer is the caller's new session."""
        ...

    # -------------------------------------------------------------------------------- moderation

    async def account_status(self, user_id: Id) -> AccountStatus:
        """An account's role and suspension; raises UserNotFound."""
        ...

    async def grant_admin(self, handle: str) -> AccountStatus:
        """Make an account an administrator (the operator's CLI); raises UserNotFound."""
        ...

    async def suspend(self, admin_id: Id, user_id: Id) -> AccountStatus:
        """Suspend an account: its tokens stop working at once; raises NotAdmin or UserNotFound."""
        ...

    async def unsuspend(self, admin_id: Id, user_id: Id) -> AccountStatus:
        """Lift a suspension (the user logs in again); raises NotAdmin or UserNotFound."""
        ...

    async def signing_keys(self, admin_id: Id) -> list[SigningKey]:
        """Every access-token signing key with its lifecycle, newest first; raises NotAdmin."""
        ...

    @not_idempotent
    async def rotate_signing_key(self, admin_id: Id) -> SigningKey:
        """Make a new current signing key; the previous one still verifies until retired."""
        ...

    async def retire_signing_key(self, admin_id: Id, kid: str) -> SigningKey:
        """Stop a rotated key from verifying; raises SigningKeyNotFound or SigningKeyInUse (current)."""
        ...

    @not_idempotent
    async def import_accounts(self, batch: AccountImport) -> ImportResult:
        """Create accounts, then follows, in bulk (all or nothing); emits what register and follow emit."""
        ...
