"""The users service: ``UsersPort`` (and the narrow ``UserDirectoryPort``) over the module's components.

Each responsibility is one component over the module's store; this façade only builds them and
delegates, so a port method leads to its component in one hop:

- ``accounts``    (accounts.py)    register, account, ids_by_handles
- ``sessions``    (sessions.py)    authenticate, refresh, logout, change_password, jwks, token_settings,
  token_active
  over ``credentials`` (credentials.py: passwords) and ``issuer`` (tokens.py: access tokens,
  refresh families), which the OAuth server shares
- ``public_profiles`` (profiles.py)   profile, profile_by_handle, profiles, authors, search, update_profile
- ``graph``       (graph.py)       follow … unmute, relationship, silencing, followers/following,
  follower_ids, following_ids, popular_following_ids
- ``moderation``  (moderation.py)  account_status, grant_admin, suspend, unsuspend, signing keys
- ``oauth``       (oauth.py)       OAuth clients and apps, authorization, token and revocation endpoints,
  authorised apps (list, revoke), sign-up through an app
"""

from __future__ import annotations

from boundaries._kernel.ids import Id
from boundaries._kernel.pagination import Page, PageRequest
from boundaries.media.port import MediaPort
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
    Silencing,
    Standing,
    TokenPair,
    TokenRequest,
    TokenSettings,
)
from modules.users.accounts import Accounts
from modules.users.common import normalise_email
from modules.users.credentials import Credentials
from modules.users.graph import FOLLOW_CAP, Graph
from modules.users.importer import AccountImporter
from modules.users.keys import SigningKeys
from modules.users.moderation import Moderation
from modules.users.oauth import OAuthServer
from modules.users.profiles import Profiles
from modules.users.sessions import Sessions
from modules.users.tokens import TokenIssuer
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore
from twitterclone.settings import Settings


class UsersService:
    """Implements ``UsersPort`` and ``UserDirectoryPort`` by delegating to the components."""

    def __init__(
        self, store: ModuleStore, ids: IdGenerator, settings: Settings, media: MediaPort | None = None
    ) -> None:
        keys = SigningKeys(store)
        self.credentials = Credentials(store, settings)
        self.issuer = TokenIssuer(store, settings, keys)
        self.accounts = Accounts(store, ids, self.credentials)
        self.sessions = Sessions(store, ids, settings, self.credentials, self.issuer, keys)
        self.public_profiles = Profiles(store, ids, media)
        self.graph = Graph(store, ids)
        self.moderation = Moderation(store, keys)
        self.oauth = OAuthServer(store, ids, settings, keys, self.credentials, self.issuer, self.accounts)
        self.importer = AccountImporter(store, ids, follow_cap=FOLLOW_CAP, normalise_email=normalise_email)

    # ------------------------------------------------------------------ accounts

    async def import_accounts(self, batch: AccountImport) -> ImportResult:
        return await self.importer.import_accounts(batch)

    async def register(self, command: Register) -> Account:
        return await self.accounts.register(command)

    async def account(self, user_id: Id) -> Account:
        return await self.accounts.account(user_id)

    async def ids_by_handles(self, handles: list[str]) -> dict[str, Id]:
        return await self.accounts.ids_by_handles(handles)

    # ------------------------------------------------------------------ sessions

    async def authenticate(self, command: Login) -> TokenPair:
        return await self.sessions.authenticate(command)

    async def refresh(self, refresh_token: str) -> TokenPair:
        return await self.sessions.refresh(refresh_token)

    async def logout(self, refresh_token: str) -> None:
        await self.sessions.logout(refresh_token)

    async def change_password(self, user_id: Id, command: PasswordChange) -> TokenPair:
        return await self.sessions.change_password(user_id, command)

    async def jwks(self) -> Jwks:
        return await self.sessions.jwks()

    async def token_settings(self) -> TokenSettings:
        return await self.sessions.token_settings()

    async def token_active(self, subject: str, token_id: str | None) -> bool:
        return await self.sessions.token_active(subject, token_id)

    # ------------------------------------------------------------------ profiles

    async def profile(self, user_id: Id) -> Profile:
        return await self.public_profiles.profile(user_id)

    async def profile_by_handle(self, handle: str) -> Profile:
        return await self.public_profiles.profile_by_handle(handle)

    async def profiles(self, user_ids: list[Id]) -> list[Profile]:
        return await self.public_profiles.profiles(user_ids)

    async def authors(self, user_ids: list[Id]) -> list[Author]:
        return await self.public_profiles.authors(user_ids)

    async def search(self, prefix: str, page: PageRequest) -> Page[Profile]:
        return await self.public_profiles.search(prefix, page)

    async def update_profile(self, user_id: Id, update: ProfileUpdate) -> Account:
        return await self.public_profiles.update_profile(user_id, update)

    # --------------------------------------------------------------------- graph

    async def follow(self, follower_id: Id, followee_id: Id) -> Relationship:
        return await self.graph.follow(follower_id, followee_id)

    async def unfollow(self, follower_id: Id, followee_id: Id) -> Relationship:
        return await self.graph.unfollow(follower_id, followee_id)

    async def block(self, user_id: Id, target_id: Id) -> Relationship:
        return await self.graph.block(user_id, target_id)

    async def unblock(self, user_id: Id, target_id: Id) -> Relationship:
        return await self.graph.unblock(user_id, target_id)

    async def mute(self, user_id: Id, target_id: Id) -> Relationship:
        return await self.graph.mute(user_id, target_id)

    async def unmute(self, user_id: Id, target_id: Id) -> Relationship:
        return await self.graph.unmute(user_id, target_id)

    async def relationship(self, user_id: Id, target_id: Id) -> Relationship:
        return await self.graph.relationship(user_id, target_id)

    async def silencing(self, actor_id: Id, user_ids: list[Id]) -> list[Silencing]:
        return await self.graph.silencing(actor_id, user_ids)

    async def standings(self, viewer_id: Id, user_ids: list[Id]) -> list[Standing]:
        return await self.graph.standings(viewer_id, user_ids)

    async def followers(self, user_id: Id, page: PageRequest) -> Page[Profile]:
        return await self.graph.followers(user_id, page)

    async def following(self, user_id: Id, page: PageRequest) -> Page[Profile]:
        return await self.graph.following(user_id, page)

    async def follower_ids(self, user_id: Id, cursor: str | None, limit: int) -> IdPage:
        return await self.graph.follower_ids(user_id, cursor, limit)

    async def following_ids(self, user_id: Id) -> list[Id]:
        return await self.graph.following_ids(user_id)

    async def popular_following_ids(self, user_id: Id, min_followers: int) -> list[Id]:
        return await self.graph.popular_following_ids(user_id, min_followers)

    # --------------------------------------------------------------------- oauth

    async def register_client(self, owner_id: Id, command: ClientRegistration) -> RegisteredClient:
        return await self.oauth.register_client(owner_id, command)

    async def list_clients(self, owner_id: Id) -> list[RegisteredClient]:
        return await self.oauth.list_clients(owner_id)

    async def delete_client(self, owner_id: Id, client_id: str) -> None:
        await self.oauth.delete_client(owner_id, client_id)

    async def authorization_prompt(self, request: AuthorizationRequest) -> AuthorizationPrompt:
        return await self.oauth.authorization_prompt(request)

    async def approve_authorization(
        self, request: AuthorizationRequest, credentials: Login
    ) -> AuthorizationCode:
        return await self.oauth.approve(request, credentials)

    async def exchange_token(self, request: TokenRequest) -> OAuthToken:
        return await self.oauth.exchange(request)

    async def revoke_token(self, request: RevocationRequest) -> None:
        await self.oauth.revoke(request)

    async def register_app(self, command: AppRegistration) -> RegisteredClient:
        return await self.oauth.register_app(command)

    async def describe_client(self, client_id: str) -> RegisteredClient:
        return await self.oauth.describe_client(client_id)

    async def register_through_client(self, client_id: str, scope: str, command: Register) -> OAuthToken:
        return await self.oauth.register_through_client(client_id, scope, command)

    async def authorized_apps(self, user_id: Id) -> list[AuthorizedApp]:
        return await self.oauth.authorized_apps(user_id)

    async def revoke_authorized_app(self, user_id: Id, client_id: str) -> None:
        await self.oauth.revoke_authorized_app(user_id, client_id)

    # ---------------------------------------------------------------- moderation

    async def account_status(self, user_id: Id) -> AccountStatus:
        return await self.moderation.account_status(user_id)

    async def grant_admin(self, handle: str) -> AccountStatus:
        return await self.moderation.grant_admin(handle)

    async def suspend(self, admin_id: Id, user_id: Id) -> AccountStatus:
        return await self.moderation.suspend(admin_id, user_id)

    async def unsuspend(self, admin_id: Id, user_id: Id) -> AccountStatus:
        return await self.moderation.unsuspend(admin_id, user_id)

    async def signing_keys(self, admin_id: Id) -> list[SigningKey]:
        return await self.moderation.signing_keys(admin_id)

    async def rotate_signing_key(self, admin_id: Id) -> SigningKey:
        return await self.moderation.rotate_signing_key(admin_id)

    async def retire_signing_key(self, admin_id: Id, kid: str) -> SigningKey:
        return await self.moderation.retire_signing_key(admin_id, kid)
