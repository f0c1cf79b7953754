"""The token issuer: signed access tokens and refresh-token families, for sessions and OAuth alike.

Both first-party sessions and the OAuth authorization server issue through this one component,
so the two cannot drift apart in how tokens are signed, stored, rotated or revoked.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from boundaries.users.errors import InvalidRefreshToken
from modules.users.common import now, sha256, user_row
from modules.users.keys import SigningKeys
from modules.users.tables import refresh_tokens
from twitterclone.infra.store import ModuleStore, Transaction
from twitterclone.settings import Settings

BAD_REFRESH = "the refresh token is not valid; log in again"


@dataclass(frozen=True)
class IssuedAccess:
    """A signed access token and what revoking it needs."""

    token: str
    jti: str
    expires_at: datetime


class TokenIssuer:
    """Signs access tokens and keeps refresh tokens (as SHA-256), rotating them with reuse detection."""

    def __init__(self, store: ModuleStore, settings: Settings, keys: SigningKeys) -> None:
        self._store = store
        self._settings = settings
        self._keys = keys

    async def issue_access(self, subject: str, scope: str, client_id: str | None) -> IssuedAccess:
        """Sign an access token for ``subject``; OAuth tokens name their client (RFC 9068)."""
        issued = now()
        jti = secrets.token_urlsafe(16)
        expires = issued + timedelta(seconds=self._settings.access_token_ttl_s)
        claims: dict[str, Any] = {
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "sub": subject,
            "iat": issued,
            "nbf": issued,
            "exp": expires,
            "jti": jti,
            "scope": scope,
        }
        if client_id is not None:
            claims["client_id"] = client_id
        token = await self._keys.sign(claims, {"typ": "at+jwt"})
        return IssuedAccess(token=token, jti=jti, expires_at=expires)

    async def new_refresh(
        self,
        tx: Transaction,
        user_id: int,
        family_id: int,
        *,
        client_id: str | None = None,
        scope: str | None = None,
    ) -> str:
        """Store (as SHA-256) and return a new refresh token of a family."""
        token = secrets.token_urlsafe(32)
        created = now()
        await tx.conn.execute(
            refresh_tokens.insert().values(
                token_hash=sha256(token),
                family_id=family_id,
                user_id=user_id,
                created_at=created,
                expires_at=created + timedelta(days=self._settings.refresh_token_ttl_days),
                client_id=client_id,
                scope=scope,
            )
        )
        return token

    async def rotate_refresh(self, refresh_token: str, client_id: str | None) -> tuple[Any, str]:
        """Use up a refresh token of ``client_id``'s (None: first-party) and return its row and successor.

        Reuse of a used token revokes its whole family; raises InvalidRefreshToken.
        """
        digest = sha256(refresh_token)
        at = now()
        reused_family: int | None = None
        async with self._store.transaction() as tx:
            row = (
                await tx.conn.execute(sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == digest))
            ).first()
            if (
                row is None
                or row.revoked_at is not None
                or row.expires_at <= at
                or row.client_id != client_id  # a client's token works only for that client
            ):
                raise InvalidRefreshToken(BAD_REFRESH)
            if row.used_at is None:
                claimed = await tx.conn.execute(
                    sa.update(refresh_tokens)
                    .where(refresh_tokens.c.token_hash == digest, refresh_tokens.c.used_at.is_(None))
                    .values(used_at=at)
                )
                if claimed.rowcount != 1:  # a concurrent refresh took it first: that is reuse too
                    reused_family = row.family_id
            else:
                reused_family = row.family_id
            if reused_family is not None:
                await self.revoke_family(tx, reused_family, at)
            else:
                owner = await user_row(tx.conn, row.user_id)
                if owner is None or owner.suspended_at is not None:
                    raise InvalidRefreshToken(BAD_REFRESH)
                new_refresh = await self.new_refresh(
                    tx, row.user_id, row.family_id, client_id=row.client_id, scope=row.scope
                )
        if reused_family is not None:
            # The revocation above is committed before we refuse.
            raise InvalidRefreshToken("this refresh token was already used; every session of it is revoked")
        return row, new_refresh

    async def revoke_family(self, tx: Transaction, family_id: int, at: datetime) -> None:
        """Revoke every refresh token of a family."""
        await tx.conn.execute(
            sa.update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
