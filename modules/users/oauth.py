"""The OAuth 2.0 authorization server of the users module (RFC 6749, 7636 PKCE, 7009 revocation).

Clients are registered by users, or (apps, Mastodon's apps API) by anyone: those have no owner,
are confidential and may use every grant; their PKCE is optional, as a secret authenticates the
exchange (public clients must use S256). Scopes are Mastodon's (boundaries/users/scopes.py). The
apps a user authorised are kept in ``oauth_grants`` (written with each token issued for the user),
listed and revoked by the user; revoking ends the app's families, access tokens and codes.

Confidential clients have a 256-bit random secret, stored as its SHA-256 (a slow password hash
buys nothing for a secret that cannot be guessed, and would cost a hash per token request).
Authorization codes are single-use, short-lived and bound to the client, the redirect URI and
the PKCE challenge if any; only their SHA-256 is stored, with what was issued from them so that
a replayed code revokes it (a replay racing the first exchange marks the code, and the exchange
refuses what it was issuing: both hold the code's row lock). Tokens come from the module's one
``TokenIssuer`` (tokens.py), as first-party sessions' do: refresh tokens rotate with reuse
detection revoking the family, with the client and scope recorded; access tokens are the same
short-lived JWTs, with a ``client_id`` claim and the granted ``scope``; revoking one puts its
``jti`` on a deny list until it would expire. Passwords (approval, the password grant) are
checked by ``Credentials`` (credentials.py).

Every access token is recorded (jti, user, client, family, expiry), so that deleting the client
denies them all at once, besides revoking its refresh tokens and unused codes; a token being
issued while its client is deleted is refused (the two lock the client's row in turn).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import Id
from boundaries.users.dto import (
    OAUTH_GRANTS,
    OOB_REDIRECT_URI,
    AppRegistration,
    AuthorizationCode,
    AuthorizationPrompt,
    AuthorizationRequest,
    AuthorizedApp,
    ClientRegistration,
    Login,
    OAuthToken,
    Register,
    RegisteredClient,
    RevocationRequest,
    TokenRequest,
)
from boundaries.users.errors import (
    AccountSuspended,
    InvalidCredentials,
    InvalidRefreshToken,
    NotAdmin,
    OAuthClientNotFound,
    OAuthError,
    OAuthInvalidClient,
    OAuthInvalidGrant,
    OAuthInvalidRequest,
    OAuthInvalidScope,
    OAuthUnauthorizedClient,
    OAuthUnknownRedirect,
    OAuthUnsupportedGrantType,
    OAuthUnsupportedResponseType,
    UserNotFound,
)
from boundaries.users.scopes import ordered as ordered_scopes
from boundaries.users.scopes import split as scope_words
from boundaries.users.scopes import unknown as unknown_scopes
from boundaries.users.scopes import within as scopes_within
from modules.users.accounts import Accounts
from modules.users.common import int_id
from modules.users.common import now as _now
from modules.users.common import sha256 as _sha256
from modules.users.credentials import Credentials
from modules.users.keys import SigningKeys
from modules.users.tables import (
    oauth_access_tokens,
    oauth_clients,
    oauth_codes,
    oauth_grants,
    refresh_tokens,
    users,
)
from modules.users.tokens import IssuedAccess, TokenIssuer
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.sql import insert_or_ignore
from twitterclone.infra.store import ModuleStore, Transaction
from twitterclone.settings import Settings

log = logging.getLogger("twitterclone.users.oauth")

#: Codes live this long (RFC 6749 recommends at most 10 minutes; a browser redirect needs seconds).
CODE_TTL_S = 60
#: The most clients one account may register.
MAX_CLIENTS_PER_OWNER = 25
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256, unpadded
_VERIFIER_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 §4.1
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def s256(verifier: str) -> str:
    """The S256 code challenge of a PKCE code verifier (RFC 7636 §4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _scopes(text: str) -> list[str]:
    return scope_words(text)


def _ordered(scopes: set[str]) -> str:
    return ordered_scopes(scopes)


#: Schemes a browser would run or read locally: never a redirect target.
_UNSAFE_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "ftp"})
_PRIVATE_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+$")


def _valid_redirect(uri: str) -> bool:
    """Where a code may be sent: https anywhere, http on the loopback interface only, an app's
    private-use scheme with a dot (``com.example.app:/cb``, RFC 8252 §7.1), or the out-of-band
    URI (the page shows the code); never a fragment or credentials (RFC 8252 §7.3)."""
    if uri == OOB_REDIRECT_URI:
        return True
    if any(c.isspace() for c in uri):
        return False
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    if parts.fragment or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return bool(parts.hostname)
    if parts.scheme == "http":
        return parts.hostname in LOOPBACK_HOSTS
    scheme = parts.scheme.lower()
    return (
        bool(_PRIVATE_SCHEME_RE.match(scheme))
        and scheme not in _UNSAFE_SCHEMES
        and bool(parts.path or parts.netloc)
    )


def _checked_redirects(uris: list[str]) -> list[str]:
    """Redirect URIs without repeats; raises InvalidInput for one that may not receive a code."""
    uris = list(dict.fromkeys(uris))
    for uri in uris:
        if not _valid_redirect(uri):
            raise InvalidInput(
                "a redirect URI is https, http on 127.0.0.1 / localhost, an app's own scheme "
                f"(com.example.app:/callback) or {OOB_REDIRECT_URI}, without a fragment",
                field="redirect_uris",
            )
    return uris


@dataclass(frozen=True)
class _Client:
    client_id: str
    owner_id: int | None  # None: an app registered without an account
    name: str
    confidential: bool
    redirect_uris: list[str]
    scopes: list[str]
    grants: list[str]
    bot_account: bool
    website: str | None = None


def _client(row: Any) -> _Client:
    return _Client(
        client_id=row.client_id,
        owner_id=row.owner_id,
        name=row.name,
        confidential=row.secret_hash is not None,
        redirect_uris=list(json.loads(row.redirect_uris)),
        scopes=_scopes(row.scopes),
        grants=_scopes(row.grants),
        bot_account=bool(row.bot_account),
        website=row.website,
    )


def _registered(row: Any) -> RegisteredClient:
    """A stored client as its owner sees it (never its secret)."""
    client = _client(row)
    return RegisteredClient(
        client_id=client.client_id,
        name=client.name,
        redirect_uris=client.redirect_uris,
        confidential=client.confidential,
        scopes=client.scopes,
        grants=client.grants,
        bot_account=client.bot_account,
        created_at=row.created_at,
        website=client.website,
        has_owner=client.owner_id is not None,
    )


class OAuthServer:
    """Client registration, the authorization and token endpoints, and revocation."""

    def __init__(
        self,
        store: ModuleStore,
        ids: IdGenerator,
        settings: Settings,
        keys: SigningKeys,
        credentials: Credentials,
        issuer: TokenIssuer,
        accounts: Accounts,
    ) -> None:
        self._accounts = accounts
        self._credentials = credentials
        self._issuer = issuer
        self._store = store
        self._ids = ids
        self._settings = settings
        self._keys = keys

    # ------------------------------------------------------------------- clients

    async def register_client(self, owner_id: Id, command: ClientRegistration) -> RegisteredClient:
        """Check a registration and store the client; the secret leaves only in this answer."""
        uid = int_id(owner_id)
        if uid is None:
            raise UserNotFound("no such user", field="owner_id")
        return await self._register_client(uid, command)

    async def list_clients(self, owner_id: Id) -> list[RegisteredClient]:
        """An owner's clients that are not deleted, newest first, without their secrets."""
        uid = int_id(owner_id)
        return [] if uid is None else await self._list_clients(uid)

    async def delete_client(self, owner_id: Id, client_id: str) -> None:
        """Delete an owner's client and everything it holds; raises OAuthClientNotFound."""
        uid = int_id(owner_id)
        if uid is None or not isinstance(client_id, str):
            raise OAuthClientNotFound("no such OAuth client", field="client_id")
        await self._delete_client(uid, client_id)

    async def register_app(self, command: AppRegistration) -> RegisteredClient:
        """Register an app that no account owns (Mastodon's apps API): confidential, with every grant
        an app may use (the password grant while the operator allows it)."""
        name = command.client_name.strip()
        if not name:
            raise InvalidInput("an app has a name", field="client_name")
        scopes = _scopes(command.scopes or "") or ["read"]
        if unknown_scopes(scopes):
            raise InvalidInput(f"unknown scope: {' '.join(unknown_scopes(scopes))[:200]}", field="scopes")
        uris = _checked_redirects([u.strip() for u in command.redirect_uris if u.strip()])
        if not uris:
            raise InvalidInput("an app gives at least one redirect URI", field="redirect_uris")
        website = (command.website or "").strip() or None
        if website is not None:
            parts = urlsplit(website)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidInput("the website is an http or https URL", field="website")
        now = _now()
        client_id = secrets.token_urlsafe(16)
        secret = secrets.token_urlsafe(32)
        grants = list(OAUTH_GRANTS)
        async with self._store.transaction() as tx:
            await tx.conn.execute(
                oauth_clients.insert().values(
                    client_id=client_id,
                    owner_id=None,
                    name=name,
                    secret_hash=_sha256(secret),
                    redirect_uris=json.dumps(uris),
                    scopes=_ordered(set(scopes)),
                    grants=" ".join(grants),
                    bot_account=False,
                    created_at=now,
                    website=website,
                )
            )
        log.info("oauth app registered", extra={"client_id": client_id})
        return RegisteredClient(
            client_id=client_id,
            client_secret=secret,
            name=name,
            redirect_uris=uris,
            confidential=True,
            scopes=_scopes(_ordered(set(scopes))),
            grants=grants,
            bot_account=False,
            created_at=now,
            website=website,
            has_owner=False,
        )

    async def describe_client(self, client_id: str) -> RegisteredClient:
        """The app behind a token, without its secret; raises OAuthClientNotFound (deleted too)."""
        if not isinstance(client_id, str) or not _CLIENT_ID_RE.match(client_id):
            raise OAuthClientNotFound("no such OAuth client", field="client_id")
        async with self._store.read() as conn:
            row = (
                await conn.execute(
                    sa.select(oauth_clients).where(
                        oauth_clients.c.client_id == client_id, oauth_clients.c.revoked_at.is_(None)
                    )
                )
            ).first()
        if row is None or await self._load_client(client_id) is None:  # deleted, or owner suspended
            raise OAuthClientNotFound("no such OAuth client", field="client_id")
        return _registered(row)

    async def register_through_client(self, client_id: str, scope: str, command: Register) -> OAuthToken:
        """Sign up through an app token: register's rules, then a token for the new account."""
        client = await self._load_client(client_id if isinstance(client_id, str) else None)
        if client is None:
            raise OAuthClientNotFound("no such OAuth client", field="client_id")
        wanted = _scopes(scope or "") or client.scopes
        if unknown_scopes(wanted) or not scopes_within(wanted, client.scopes):
            raise OAuthInvalidScope(f"this client may ask only for: {' '.join(client.scopes)}")
        started = _now()
        account = await self._accounts.register(command)
        log.info("account registered through an app", extra={"client_id": client.client_id})
        return await self._issue_for_user(client, int(account.profile.id), _ordered(set(wanted)), started)

    async def authorized_apps(self, user_id: Id) -> list[AuthorizedApp]:
        """The apps a user authorised and has not revoked (deleted apps left out), last used first."""
        uid = int_id(user_id)
        if uid is None:
            return []
        async with self._store.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        oauth_grants.c.client_id,
                        oauth_grants.c.scope,
                        oauth_grants.c.created_at,
                        oauth_grants.c.last_used_at,
                        oauth_clients.c.name,
                        oauth_clients.c.website,
                    )
                    .select_from(
                        oauth_grants.join(
                            oauth_clients, oauth_clients.c.client_id == oauth_grants.c.client_id
                        )
                    )
                    .where(
                        oauth_grants.c.user_id == uid,
                        oauth_grants.c.revoked_at.is_(None),
                        oauth_clients.c.revoked_at.is_(None),
                    )
                    .order_by(oauth_grants.c.last_used_at.desc(), oauth_grants.c.client_id)
                )
            ).all()
        return [
            AuthorizedApp(
                client_id=r.client_id,
                name=r.name,
                website=r.website,
                scopes=_scopes(r.scope),
                authorized_at=r.created_at,
                last_used_at=r.last_used_at,
            )
            for r in rows
        ]

    async def revoke_authorized_app(self, user_id: Id, client_id: str) -> None:
        """End an app's access for a user at once: its refresh families, live access tokens and
        unused codes; raises OAuthClientNotFound if the user never authorised it (idempotent after)."""
        uid = int_id(user_id)
        if uid is None or not isinstance(client_id, str) or not _CLIENT_ID_RE.match(client_id):
            raise OAuthClientNotFound("no such authorised app", field="client_id")
        at = _now()
        async with self._store.transaction() as tx:
            granted = (
                await tx.conn.execute(
                    sa.select(oauth_grants.c.revoked_at)
                    .where(oauth_grants.c.user_id == uid, oauth_grants.c.client_id == client_id)
                    .with_for_update()
                )
            ).first()
            if granted is None:
                raise OAuthClientNotFound("no such authorised app", field="client_id")
            denied = await self._issuer.end_user_tokens(tx, uid, at, client_id=client_id)
        log.info(
            "authorised app revoked",
            extra={"client_id": client_id, "user_id": str(uid), "access_tokens_denied": denied},
        )

    async def _register_client(self, owner_id: int, command: ClientRegistration) -> RegisteredClient:
        scopes = _scopes(_ordered(set(command.scopes)))
        grants = sorted(set(command.grants), key=OAUTH_GRANTS.index)
        if unknown_scopes(scopes):
            raise InvalidInput(f"unknown scope: {' '.join(unknown_scopes(scopes))[:200]}", field="scopes")
        uris = _checked_redirects(list(dict.fromkeys(command.redirect_uris)))
        if "authorization_code" in grants and not uris:
            raise InvalidInput("the authorization code grant needs a redirect URI", field="redirect_uris")
        if "refresh_token" in grants and not {"authorization_code", "password"} & set(grants):
            raise InvalidInput(
                "refresh tokens come with the authorization code or password grant", field="grants"
            )
        if "client_credentials" in grants and not command.confidential:
            raise InvalidInput("a public client cannot use client credentials", field="grants")
        if command.bot_account and "client_credentials" not in grants:
            raise InvalidInput("a bot account client uses the client credentials grant", field="bot_account")
        now = _now()
        client_id = secrets.token_urlsafe(16)
        secret = secrets.token_urlsafe(32) if command.confidential else None
        async with self._store.transaction() as tx:
            owner = (
                await tx.conn.execute(
                    sa.select(users.c.role, users.c.suspended_at).where(users.c.id == owner_id)
                )
            ).first()
            if owner is None or owner.suspended_at is not None:
                raise AccountSuspended("this account may not register clients")
            if "password" in grants and owner.role != "admin":
                # The password grant hands the user's password to the client: first-party only.
                raise NotAdmin("only an administrator may register a client for the password grant")
            count = (
                await tx.conn.execute(
                    sa.select(sa.func.count())
                    .select_from(oauth_clients)
                    .where(oauth_clients.c.owner_id == owner_id, oauth_clients.c.revoked_at.is_(None))
                )
            ).scalar_one()
            if count >= MAX_CLIENTS_PER_OWNER:
                raise InvalidInput(f"an account may register at most {MAX_CLIENTS_PER_OWNER} clients")
            await tx.conn.execute(
                oauth_clients.insert().values(
                    client_id=client_id,
                    owner_id=owner_id,
                    name=command.name.strip() or client_id,
                    secret_hash=_sha256(secret) if secret is not None else None,
                    redirect_uris=json.dumps(uris),
                    scopes=" ".join(scopes),
                    grants=" ".join(grants),
                    bot_account=command.bot_account,
                    created_at=now,
                    website=command.website,
                )
            )
        log.info("oauth client registered", extra={"client_id": client_id, "owner_id": str(owner_id)})
        return RegisteredClient(
            client_id=client_id,
            client_secret=secret,
            name=command.name.strip() or client_id,
            redirect_uris=uris,
            confidential=command.confidential,
            scopes=scopes,
            grants=grants,
            bot_account=command.bot_account,
            created_at=now,
            website=command.website,
        )

    async def _list_clients(self, owner_id: int) -> list[RegisteredClient]:
        async with self._store.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(oauth_clients)
                    .where(oauth_clients.c.owner_id == owner_id, oauth_clients.c.revoked_at.is_(None))
                    .order_by(oauth_clients.c.created_at.desc(), oauth_clients.c.client_id)
                )
            ).all()
        return [_registered(row) for row in rows]

    async def _delete_client(self, owner_id: int, client_id: str) -> None:
        """Delete an owner's client and everything it holds; idempotent for the owner.

        Its refresh tokens are revoked, its unused codes spent and its unexpired access tokens
        denied, in one transaction. Unknown ids and other owners' clients are both "not found".
        """
        if not _CLIENT_ID_RE.match(client_id):
            raise OAuthClientNotFound("no such OAuth client", field="client_id")
        now = _now()
        async with self._store.transaction() as tx:
            conn = tx.conn
            row = (
                await conn.execute(
                    sa.select(oauth_clients.c.owner_id)
                    .where(oauth_clients.c.client_id == client_id)
                    .with_for_update()
                )
            ).first()
            if row is None or row.owner_id != owner_id:
                raise OAuthClientNotFound("no such OAuth client", field="client_id")
            await conn.execute(
                sa.update(oauth_clients)
                .where(oauth_clients.c.client_id == client_id, oauth_clients.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            revoked_refresh = await conn.execute(
                sa.update(refresh_tokens)
                .where(refresh_tokens.c.client_id == client_id, refresh_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            await conn.execute(
                sa.update(oauth_codes)
                .where(oauth_codes.c.client_id == client_id, oauth_codes.c.used_at.is_(None))
                .values(used_at=now)
            )
            issued = (
                await conn.execute(
                    sa.select(oauth_access_tokens.c.jti, oauth_access_tokens.c.expires_at).where(
                        oauth_access_tokens.c.client_id == client_id, oauth_access_tokens.c.expires_at > now
                    )
                )
            ).all()
            await self.deny_many(tx, [(t.jti, t.expires_at) for t in issued])
            await conn.execute(
                sa.delete(oauth_access_tokens).where(oauth_access_tokens.c.client_id == client_id)
            )
        log.info(
            "oauth client deleted",
            extra={
                "client_id": client_id,
                "owner_id": str(owner_id),
                "refresh_tokens_revoked": revoked_refresh.rowcount,
                "access_tokens_denied": len(issued),
            },
        )

    async def _load_client(self, client_id: str | None) -> _Client | None:
        if not client_id or not _CLIENT_ID_RE.match(client_id):
            return None
        async with self._store.read() as conn:
            row = (
                await conn.execute(
                    sa.select(oauth_clients).where(
                        oauth_clients.c.client_id == client_id, oauth_clients.c.revoked_at.is_(None)
                    )
                )
            ).first()
            if row is None:
                return None
            if row.owner_id is None:
                return _client(row)  # an app nobody owns
            owner = (
                await conn.execute(sa.select(users.c.suspended_at).where(users.c.id == row.owner_id))
            ).first()
        if owner is None or owner.suspended_at is not None:
            return None  # a suspended owner's clients stop working with it
        return _client(row)

    async def _authenticate_client(self, client_id: str | None, secret: str | None) -> _Client:
        """The client of a token or revocation request; raises OAuthInvalidClient (401)."""
        client = await self._load_client(client_id)
        if client is None:
            raise OAuthInvalidClient("unknown client, or client authentication failed")
        async with self._store.read() as conn:
            stored = (
                await conn.execute(
                    sa.select(oauth_clients.c.secret_hash).where(
                        oauth_clients.c.client_id == client.client_id
                    )
                )
            ).scalar_one_or_none()
        if client.confidential:
            if not secret or stored is None or not hmac.compare_digest(_sha256(secret), stored):
                raise OAuthInvalidClient("unknown client, or client authentication failed")
        elif secret:
            raise OAuthInvalidClient("a public client has no secret")
        return client

    # ----------------------------------------------------------- authorization

    async def authorization_prompt(self, request: AuthorizationRequest) -> AuthorizationPrompt:
        """Check an authorization request; the errors say whether they may go to the redirect URI."""
        client = await self._load_client(request.client_id)
        if client is None or "authorization_code" not in client.grants:
            raise OAuthUnknownRedirect("unknown client, or it may not use the authorization code grant")
        redirect_uri = request.redirect_uri
        if not redirect_uri and len(client.redirect_uris) == 1:
            redirect_uri = client.redirect_uris[0]  # as Mastodon does when there is only one
        if redirect_uri not in client.redirect_uris:
            raise OAuthUnknownRedirect("the redirect URI is not one this client registered")
        if request.response_type != "code":
            raise OAuthUnsupportedResponseType("only response_type=code is supported")
        # PKCE (S256 only) is required of public clients; a confidential client's secret already
        # authenticates its exchange, so PKCE is optional for it (Mastodon's apps do not send it),
        # but a challenge it sends is checked like any other.
        if request.code_challenge or request.code_challenge_method or not client.confidential:
            if request.code_challenge_method != "S256":
                raise OAuthInvalidRequest(
                    "PKCE is required with code_challenge_method=S256 ('plain' is refused)"
                )
            if not _CHALLENGE_RE.match(request.code_challenge):
                raise OAuthInvalidRequest("code_challenge must be the base64url SHA-256 of the code verifier")
        scope = self._granted_scope(request.scope, client)
        return AuthorizationPrompt(
            client_id=client.client_id,
            client_name=client.name,
            redirect_uri=redirect_uri,
            scopes=_scopes(scope),
            state=request.state,
        )

    @staticmethod
    def _granted_scope(requested: str | None, client: _Client) -> str:
        """The asked scope when the client may have all of it; none asked means all it may have."""
        wanted = _scopes(requested or "")
        if not wanted:
            return _ordered(set(client.scopes))
        if unknown_scopes(wanted):
            raise OAuthInvalidScope(f"unknown scope: {' '.join(unknown_scopes(wanted))[:200]}")
        if not scopes_within(wanted, client.scopes):
            raise OAuthInvalidScope(f"this client may ask only for: {' '.join(client.scopes)}")
        return _ordered(set(wanted))

    async def approve(self, request: AuthorizationRequest, credentials: Login) -> AuthorizationCode:
        """The user logged in and consented: issue a code bound to client, URI, scope and challenge."""
        prompt = await self.authorization_prompt(request)
        user_id = await self._credentials.check_login(credentials)
        code = secrets.token_urlsafe(32)
        now = _now()
        async with self._store.transaction() as tx:
            await tx.conn.execute(
                oauth_codes.insert().values(
                    code_hash=_sha256(code),
                    client_id=prompt.client_id,
                    user_id=user_id,
                    redirect_uri=prompt.redirect_uri,
                    scope=" ".join(prompt.scopes),
                    code_challenge=request.code_challenge,
                    created_at=now,
                    expires_at=now + timedelta(seconds=CODE_TTL_S),
                )
            )
            # Codes are useless once expired: sweep old ones while here.
            await tx.conn.execute(
                sa.delete(oauth_codes).where(oauth_codes.c.expires_at < now - timedelta(days=1))
            )
        return AuthorizationCode(
            code=code, redirect_uri=prompt.redirect_uri, state=prompt.state, expires_in=CODE_TTL_S
        )

    # ------------------------------------------------------------------- tokens

    async def exchange(self, request: TokenRequest) -> OAuthToken:
        """The token endpoint: authenticate the client, then apply its grant."""
        grant = request.grant_type
        if grant not in OAUTH_GRANTS or (grant == "password" and not self._settings.oauth_password_grant):
            raise OAuthUnsupportedGrantType(f"unsupported grant_type {grant[:40]!r}")
        client = await self._authenticate_client(request.client_id, request.client_secret)
        if grant not in client.grants:
            raise OAuthUnauthorizedClient(f"this client may not use the {grant} grant")
        if grant == "authorization_code":
            return await self._code_grant(client, request)
        if grant == "refresh_token":
            return await self._refresh_grant(client, request)
        if grant == "client_credentials":
            return await self._client_credentials_grant(client, request)
        return await self._password_grant(client, request)

    async def _record(
        self,
        tx: Transaction,
        client: _Client,
        access: IssuedAccess,
        *,
        user_id: int | None,
        scope: str,
        family_id: int | None = None,
        started: datetime,
        grant: bool = True,
    ) -> None:
        """Record a signed access token in the transaction that hands it out, or refuse it.

        Refused when the client was deleted, the account suspended, the user's grant to the app
        revoked after ``started`` (when the authorisation behind the request began), or the token's
        refresh family revoked meanwhile. A refused token is never handed out.
        """
        conn = tx.conn
        # Shares the row lock delete_client takes: either the deletion sees this token, or
        # this sees the deletion.
        revoked = (
            await conn.execute(
                sa.select(oauth_clients.c.revoked_at)
                .where(oauth_clients.c.client_id == client.client_id)
                .with_for_update(read=True)
            )
        ).first()
        if revoked is None or revoked.revoked_at is not None:
            raise OAuthInvalidClient("unknown client, or client authentication failed")
        at = _now()
        if user_id is not None:
            suspended = (
                await conn.execute(sa.select(users.c.suspended_at).where(users.c.id == user_id))
            ).first()
            if suspended is None or suspended.suspended_at is not None:
                raise OAuthInvalidGrant("the account is suspended")
        if user_id is not None and grant:
            await conn.execute(
                insert_or_ignore(conn, oauth_grants).values(
                    user_id=user_id,
                    client_id=client.client_id,
                    scope=scope,
                    created_at=at,
                    last_used_at=at,
                )
            )
            row = (
                await conn.execute(
                    sa.select(oauth_grants.c.scope, oauth_grants.c.revoked_at)
                    .where(oauth_grants.c.user_id == user_id, oauth_grants.c.client_id == client.client_id)
                    .with_for_update()
                )
            ).one()
            if row.revoked_at is not None and row.revoked_at >= started:
                raise OAuthInvalidGrant("the user revoked this app's access")
            kept = scope_words(row.scope) if row.revoked_at is None else []
            await conn.execute(
                sa.update(oauth_grants)
                .where(oauth_grants.c.user_id == user_id, oauth_grants.c.client_id == client.client_id)
                .values(scope=_ordered({*kept, *scope_words(scope)}), last_used_at=at, revoked_at=None)
            )
        try:
            await self._issuer.record_access(
                tx, access, user_id=user_id, client_id=client.client_id, family_id=family_id
            )
        except InvalidRefreshToken as exc:
            raise OAuthInvalidGrant("the authorization was revoked") from exc

    def _token(self, access: IssuedAccess, scope: str, refresh: str | None) -> OAuthToken:
        return OAuthToken(
            access_token=access.token,
            token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
            expires_in=self._settings.access_token_ttl_s,
            scope=scope,
            refresh_token=refresh,
            created_at=int(
                (access.expires_at - timedelta(seconds=self._settings.access_token_ttl_s)).timestamp()
            ),
        )

    async def _code_grant(self, client: _Client, request: TokenRequest) -> OAuthToken:
        if not request.code or not request.redirect_uri:
            raise OAuthInvalidRequest("code and redirect_uri are required")
        digest = _sha256(request.code)
        now = _now()
        replayed = False
        async with self._store.transaction() as tx:
            row = (
                await tx.conn.execute(
                    sa.select(oauth_codes).where(oauth_codes.c.code_hash == digest).with_for_update()
                )
            ).first()
            if row is None or row.client_id != client.client_id:
                raise OAuthInvalidGrant("the authorization code is not valid")
            if row.used_at is not None:
                replayed = True
            else:
                # Claim the code before anything else: whatever happens next, it is spent.
                claimed = await tx.conn.execute(
                    sa.update(oauth_codes)
                    .where(oauth_codes.c.code_hash == digest, oauth_codes.c.used_at.is_(None))
                    .values(used_at=now)
                )
                replayed = claimed.rowcount != 1
            if replayed:
                # Revoke what the first exchange issued; if it is still running, the mark makes it
                # refuse what it is issuing (it checks under the same row lock before recording).
                await tx.conn.execute(
                    sa.update(oauth_codes).where(oauth_codes.c.code_hash == digest).values(replayed_at=now)
                )
                await self._revoke_issued(tx, row, now)
        if replayed:  # the revocation is committed before refusing
            log.warning(
                "authorization code replayed; its tokens are revoked", extra={"client_id": client.client_id}
            )
            raise OAuthInvalidGrant("the authorization code was already used; its tokens are revoked")
        if row.expires_at <= now:
            raise OAuthInvalidGrant("the authorization code has expired")
        if request.redirect_uri != row.redirect_uri:
            raise OAuthInvalidGrant("redirect_uri differs from the one the code was issued for")
        if row.code_challenge:
            if not request.code_verifier:
                raise OAuthInvalidRequest(
                    "code_verifier is required: the code was issued with a PKCE challenge"
                )
            if not _VERIFIER_RE.match(request.code_verifier) or not hmac.compare_digest(
                s256(request.code_verifier), row.code_challenge
            ):
                raise OAuthInvalidGrant("the code verifier does not match the code challenge")
        elif not client.confidential:  # a public client's code always carries a challenge
            raise OAuthInvalidGrant("the authorization code is not valid")
        access = await self._issuer.issue_access(str(row.user_id), row.scope, client.client_id)
        refresh = None
        async with self._store.transaction() as tx:
            marked = (
                await tx.conn.execute(
                    sa.select(oauth_codes.c.replayed_at)
                    .where(oauth_codes.c.code_hash == digest)
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if marked is not None:  # replayed while this exchange ran: hand out nothing
                raise OAuthInvalidGrant("the authorization code was already used; its tokens are revoked")
            family = self._ids.next_int() if "refresh_token" in client.grants else None
            if family is not None:
                refresh = await self._issuer.new_refresh(
                    tx, row.user_id, family, client_id=client.client_id, scope=row.scope
                )
            await self._record(
                tx,
                client,
                access,
                user_id=row.user_id,
                scope=row.scope,
                family_id=family,
                started=row.created_at,
            )
            await tx.conn.execute(
                sa.update(oauth_codes)
                .where(oauth_codes.c.code_hash == digest)
                .values(family_id=family, access_jti=access.jti, access_expires_at=access.expires_at)
            )
        return self._token(access, row.scope, refresh)

    async def _revoke_issued(self, tx: Transaction, code: Any, now: datetime) -> None:
        """Revoke what a code was exchanged for (its refresh family and its access token)."""
        if code.family_id is not None:
            await self._issuer.revoke_family(tx, code.family_id, now)
        if code.access_jti is not None and code.access_expires_at is not None:
            await self.deny(tx, code.access_jti, code.access_expires_at)

    async def _refresh_grant(self, client: _Client, request: TokenRequest) -> OAuthToken:
        if not request.refresh_token:
            raise OAuthInvalidRequest("refresh_token is required")
        started = _now()
        try:
            row, new_refresh = await self._issuer.rotate_refresh(request.refresh_token, client.client_id)
        except InvalidRefreshToken as exc:
            raise OAuthInvalidGrant(exc.detail) from exc
        family_scope = row.scope or ""
        scope = family_scope
        if request.scope:
            wanted = scope_words(request.scope)
            if not scopes_within(wanted, scope_words(family_scope)):
                raise OAuthInvalidScope("a refresh may narrow the scope, never widen it")
            scope = _ordered(set(wanted))
        access = await self._issuer.issue_access(str(row.user_id), scope, client.client_id)
        async with self._store.transaction() as tx:
            await self._record(
                tx, client, access, user_id=row.user_id, scope=scope, family_id=row.family_id, started=started
            )
        return self._token(access, scope, new_refresh)

    async def _client_credentials_grant(self, client: _Client, request: TokenRequest) -> OAuthToken:
        if not client.confidential:
            raise OAuthUnauthorizedClient("a public client cannot use client credentials")
        scope = self._granted_scope(request.scope, client)
        # A bot client acts as the account that registered it; any other client as itself.
        bot = client.bot_account and client.owner_id is not None
        subject = str(client.owner_id) if bot else f"client:{client.client_id}"
        access = await self._issuer.issue_access(subject, scope, client.client_id)
        async with self._store.transaction() as tx:
            await self._record(
                tx,
                client,
                access,
                user_id=client.owner_id if bot else None,
                scope=scope,
                started=_now(),
                grant=False,  # the owner's own client: listed among its clients, not its grants
            )
        return self._token(access, scope, None)

    async def _password_grant(self, client: _Client, request: TokenRequest) -> OAuthToken:
        if not request.username or not request.password:
            raise OAuthInvalidRequest("username and password are required")
        scope = self._granted_scope(request.scope, client)
        started = _now()
        try:
            user_id = await self._credentials.check_login(
                Login(login=request.username, password=request.password)
            )
        except (InvalidCredentials, AccountSuspended) as exc:
            raise OAuthInvalidGrant(exc.detail) from exc
        return await self._issue_for_user(client, user_id, scope, started)

    async def _issue_for_user(
        self, client: _Client, user_id: int, scope: str, started: datetime
    ) -> OAuthToken:
        """An access token (and a refresh family when the client may refresh) for a user."""
        access = await self._issuer.issue_access(str(user_id), scope, client.client_id)
        refresh = None
        async with self._store.transaction() as tx:
            family = self._ids.next_int() if "refresh_token" in client.grants else None
            if family is not None:
                refresh = await self._issuer.new_refresh(
                    tx, user_id, family, client_id=client.client_id, scope=scope
                )
            await self._record(
                tx, client, access, user_id=user_id, scope=scope, family_id=family, started=started
            )
        return self._token(access, scope, refresh)

    # --------------------------------------------------------------- revocation

    async def deny(self, tx: Transaction, jti: str, expires_at: datetime) -> None:
        """Put an access token's id on the deny list until it would have expired anyway."""
        await self.deny_many(tx, [(jti, expires_at)])

    async def deny_many(self, tx: Transaction, tokens: list[tuple[str, datetime]]) -> None:
        """Put access token ids (with their expiry) on the deny list in one statement."""
        await self._issuer.deny_many(tx, tokens)

    async def revoke(self, request: RevocationRequest) -> None:
        """RFC 7009: revoke a refresh token (its family) or an access token; unknown ones are ignored."""
        if not request.token:
            raise OAuthInvalidRequest("token is required")
        client = None
        if request.client_id or request.client_secret:
            client = await self._authenticate_client(request.client_id, request.client_secret)
        requester = client.client_id if client else None
        order = (
            ("access_token", "refresh_token")
            if request.token_type_hint == "access_token"  # noqa: S105 - a token kind, not a secret
            else ("refresh_token", "access_token")
        )
        for kind in order:
            found = await (self._revoke_refresh if kind == "refresh_token" else self._revoke_access)(
                request.token, requester
            )
            if found:
                return

    @staticmethod
    def _check_owner(token_client: str | None, requester: str | None) -> None:
        """A client may revoke only its own tokens; first-party tokens need no client."""
        if token_client == requester:
            return
        if requester is None:
            raise OAuthInvalidClient("client authentication is required to revoke this token")
        raise OAuthUnauthorizedClient("this token was not issued to this client")

    async def _revoke_refresh(self, token: str, requester: str | None) -> bool:
        async with self._store.transaction() as tx:
            row = (
                await tx.conn.execute(
                    sa.select(refresh_tokens.c.family_id, refresh_tokens.c.client_id).where(
                        refresh_tokens.c.token_hash == _sha256(token)
                    )
                )
            ).first()
            if row is None:
                return False
            self._check_owner(row.client_id, requester)
            await self._issuer.revoke_family(tx, row.family_id, _now())
        return True

    async def _revoke_access(self, token: str, requester: str | None) -> bool:
        claims = await self._keys.decode(
            token, issuer=self._settings.jwt_issuer, audience=self._settings.jwt_audience
        )
        jti, exp = (claims or {}).get("jti"), (claims or {}).get("exp")
        if claims is None or not isinstance(jti, str) or not isinstance(exp, int | float):
            return False
        client_id = claims.get("client_id")
        self._check_owner(client_id if isinstance(client_id, str) else None, requester)
        async with self._store.transaction() as tx:
            await self.deny(tx, jti, datetime.fromtimestamp(exp, UTC))
        return True


__all__ = ["CODE_TTL_S", "OAuthError", "OAuthServer", "s256"]
