"""First-party sessions: log in, refresh, log out, change the password, and whether an access token
may still act.

A password change ends everything the account holds: every refresh family (first-party and
OAuth), every live access token (recorded by the issuer), every unused authorization code and
every app's grant. The reasoning: a password is changed because it may be known to someone else,
and whoever knew it could have opened a session, authorised an app on the consent page or used
the password grant; only ending all of them shuts that person out. The caller gets a new session
in the answer; the apps the user still wants ask for authorisation again. Clients the user
registered (``/api/oauth/clients``) are not deleted: a bot client's client-credentials tokens
are ended, but its secret still mints new ones until its owner deletes it.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from boundaries._kernel.errors import Conflict
from boundaries._kernel.ids import Id
from boundaries.users.dto import Jwks, Login, PasswordChange, TokenPair, TokenSettings
from boundaries.users.errors import UserNotFound
from modules.users.common import int_id, now, sha256
from modules.users.credentials import Credentials
from modules.users.keys import ALGORITHM, SigningKeys
from modules.users.tables import (
    oauth_access_tokens,
    oauth_clients,
    refresh_tokens,
    revoked_access_tokens,
    users,
)
from modules.users.tokens import TokenIssuer
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import HotRead, ModuleStore
from twitterclone.settings import Settings

log = logging.getLogger("twitterclone.users.sessions")

#: The scope of a first-party access token: everything the user may do.
ACCESS_SCOPE = "read write follow"

#: Hot reads, built once (a statement built per call costs more than running it on SQLite).
_DENIED = sa.exists().where(revoked_access_tokens.c.jti == sa.bindparam("jti")).label("denied")
_USER_TOKEN_STATUS = HotRead(
    sa.select(users.c.suspended_at.is_not(None), _DENIED).where(users.c.id == sa.bindparam("uid"))
)
_CLIENT_TOKEN_STATUS = HotRead(
    sa.select(users.c.suspended_at.is_not(None), _DENIED)
    # An app nobody owns (owner_id NULL) has no account to be suspended: the outer join keeps it.
    .select_from(oauth_clients.outerjoin(users, users.c.id == oauth_clients.c.owner_id))
    .where(oauth_clients.c.client_id == sa.bindparam("client_id"), oauth_clients.c.revoked_at.is_(None))
)


class Sessions:
    """Token pairs for users who log in with a password, and the status check behind every token."""

    def __init__(
        self,
        store: ModuleStore,
        ids: IdGenerator,
        settings: Settings,
        credentials: Credentials,
        issuer: TokenIssuer,
        keys: SigningKeys,
    ) -> None:
        self._store = store
        self._ids = ids
        self._settings = settings
        self._credentials = credentials
        self._issuer = issuer
        self._keys = keys

    async def _open(self, user_id: int) -> TokenPair:
        """A new session: a refresh family and its first access token, recorded together."""
        access = await self._issuer.issue_access(str(user_id), ACCESS_SCOPE, None)
        family = self._ids.next_int()
        async with self._store.transaction() as tx:
            refresh = await self._issuer.new_refresh(tx, user_id, family)
            await self._issuer.record_access(tx, access, user_id=user_id, client_id=None, family_id=family)
        return self._pair(access.token, refresh, user_id)

    def _pair(self, access: str, refresh: str, user_id: int) -> TokenPair:
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=self._settings.access_token_ttl_s,
            user_id=str(user_id),
        )

    async def authenticate(self, command: Login) -> TokenPair:
        """Check credentials and open a new token family; raises InvalidCredentials."""
        user_id = await self._credentials.check_login(command)
        return await self._open(user_id)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token; reuse of a rotated one revokes its whole family."""
        row, new_refresh = await self._issuer.rotate_refresh(refresh_token, None)
        access = await self._issuer.issue_access(str(row.user_id), ACCESS_SCOPE, None)
        async with self._store.transaction() as tx:
            # Refused if the family was ended (password change, logout) while this was signed.
            await self._issuer.record_access(
                tx, access, user_id=row.user_id, client_id=None, family_id=row.family_id
            )
        return self._pair(access.token, new_refresh, row.user_id)

    async def change_password(self, user_id: Id, command: PasswordChange) -> TokenPair:
        """Check the current password, store the new one's argon2id hash (both off the event loop),
        end everything the account holds, and open the caller's new session."""
        uid = int_id(user_id)
        if uid is None:
            raise UserNotFound("no such user", field="user_id")
        old_hash = await self._credentials.check_password(uid, command.current_password)
        new_hash = await self._credentials.hash(command.new_password)
        at = now()
        async with self._store.transaction() as tx:
            changed = await tx.conn.execute(
                sa.update(users)
                .where(users.c.id == uid, users.c.password_hash == old_hash, users.c.suspended_at.is_(None))
                .values(password_hash=new_hash)
            )
            if changed.rowcount != 1:
                # Changed by a concurrent request (or suspended) since the check: do not overwrite.
                raise Conflict("the password changed meanwhile; try again", field="current_password")
            ended = await self._issuer.end_user_tokens(tx, uid, at)
        log.info(
            "password changed; every session ended",
            extra={"user_id": str(uid), "access_tokens_denied": ended},
        )
        return await self._open(uid)

    async def logout(self, refresh_token: str) -> None:
        """Revoke the family of a refresh token and deny its live access tokens; unknown ones are ignored."""
        digest = sha256(refresh_token)
        async with self._store.transaction() as tx:
            family = (
                await tx.conn.execute(
                    sa.select(refresh_tokens.c.family_id).where(refresh_tokens.c.token_hash == digest)
                )
            ).scalar_one_or_none()
            if family is not None:
                at = now()
                await self._issuer.revoke_family(tx, family, at)
                # The session's access tokens end with it, not up to 15 minutes later.
                live = (
                    await tx.conn.execute(
                        sa.select(oauth_access_tokens.c.jti, oauth_access_tokens.c.expires_at).where(
                            oauth_access_tokens.c.family_id == family, oauth_access_tokens.c.expires_at > at
                        )
                    )
                ).all()
                await self._issuer.deny_many(tx, [(t.jti, t.expires_at) for t in live])

    async def jwks(self) -> Jwks:
        """The public keys that verify access tokens (current and not yet retired)."""
        return await self._keys.jwks()

    async def token_settings(self) -> TokenSettings:
        """Issuer, audience and algorithm that access tokens are signed with."""
        return TokenSettings(
            issuer=self._settings.jwt_issuer, audience=self._settings.jwt_audience, algorithm=ALGORITHM
        )

    async def token_active(self, subject: str, token_id: str | None) -> bool:
        """Whether an access token's subject may act now: not suspended, and the token not revoked.

        One statement either way (it runs on every authenticated request the gateway has not
        seen within its status cache's second).
        """
        jti = (token_id or "")[:64]
        if subject.startswith("client:"):
            rows = await self._store.fetch(
                _CLIENT_TOKEN_STATUS, {"client_id": subject.removeprefix("client:"), "jti": jti}
            )
        else:
            uid = int_id(subject)
            rows = (
                [] if uid is None else await self._store.fetch(_USER_TOKEN_STATUS, {"uid": uid, "jti": jti})
            )
        if not rows:
            return False
        suspended, denied = rows[0]
        if suspended:
            return False
        return token_id is None or not denied
