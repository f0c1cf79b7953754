"""The token issuer: signed access tokens and refresh-token families, for sessions and OAuth alike.

Both first-party sessions and the OAuth authorization server issue through this one component,
so the two cannot drift apart in how tokens are signed, stored, rotated or revoked.

A refresh token lives ``refresh_token_ttl_days`` from its rotation, and never past its family's
absolute end, ``refresh_family_max_days`` after the login that opened the family. Every access
token is recorded (jti, user, client, family) until it would expire, so that whatever ends a
family or a grant (a password change, revoking an app, deleting a client) can deny its live
access tokens at once; recording refuses a token whose family was revoked meanwhile.
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
from modules.users.tables import (
    oauth_access_tokens,
    oauth_codes,
    oauth_grants,
    refresh_tokens,
    revoked_access_tokens,
)
from twitterclone.infra.sql import insert_or_ignore
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
        family_expires_at: datetime | None = None,
    ) -> str:
        """Store (as SHA-256) and return a new refresh token of a family (new: ``family_expires_at`` None)."""
        token = secrets.token_urlsafe(32)
        created = now()
        if family_expires_at is None:  # a new family
            family_expires_at = created + timedelta(days=self._settings.refresh_family_max_days)
        await tx.conn.execute(
            refresh_tokens.insert().values(
                token_hash=sha256(token),
                family_id=family_id,
                user_id=user_id,
                created_at=created,
                expires_at=min(
                    created + timedelta(days=self._settings.refresh_token_ttl_days), family_expires_at
                ),
                client_id=client_id,
                scope=scope,
                family_expires_at=family_expires_at,
            )
        )
        return token

    async def family_end(self, tx: Transaction, row: Any) -> datetime:
        """A family's absolute end; for families older than the rule, from its first token."""
        if row.family_expires_at is not None:
            return row.family_expires_at  # type: ignore[no-any-return]
        first = (
            await tx.conn.execute(
                sa.select(sa.func.min(refresh_tokens.c.created_at)).where(
                    refresh_tokens.c.family_id == row.family_id
                )
            )
        ).scalar_one()
        started = first if first is not None else row.created_at
        return started + timedelta(days=self._settings.refresh_family_max_days)  # type: ignore[no-any-return]

    async def record_access(
        self,
        tx: Transaction,
        access: IssuedAccess,
        *,
        user_id: int | None,
        client_id: str | None,
        family_id: int | None,
    ) -> None:
        """Record an access token so it can be denied later; raises InvalidRefreshToken when its
        family was revoked meanwhile (a password change or a revocation that ran while it was signed).
        """
        if family_id is not None:
            revoked = (
                await tx.conn.execute(
                    sa.select(refresh_tokens.c.token_hash)
                    .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_not(None))
                    .limit(1)
                )
            ).first()
            if revoked is not None:
                raise InvalidRefreshToken(BAD_REFRESH)
        await tx.conn.execute(
            oauth_access_tokens.insert().values(
                jti=access.jti[:64],
                client_id=client_id,
                user_id=user_id,
                family_id=family_id,
                expires_at=access.expires_at,
            )
        )
        await tx.conn.execute(sa.delete(oauth_access_tokens).where(oauth_access_tokens.c.expires_at < now()))

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
                family_end = await self.family_end(tx, row)
                if family_end <= at:  # the family's absolute lifetime is over: log in again
                    raise InvalidRefreshToken(BAD_REFRESH)
                new_refresh = await self.new_refresh(
                    tx,
                    row.user_id,
                    row.family_id,
                    client_id=row.client_id,
                    scope=row.scope,
                    family_expires_at=family_end,
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

    async def deny_many(self, tx: Transaction, tokens: list[tuple[str, datetime]]) -> None:
        """Put access token ids (with their expiry) on the deny list in one statement."""
        if tokens:
            await tx.conn.execute(
                insert_or_ignore(tx.conn, revoked_access_tokens),
                [{"jti": jti[:64], "expires_at": expires_at} for jti, expires_at in tokens],
            )
        await tx.conn.execute(
            sa.delete(revoked_access_tokens).where(revoked_access_tokens.c.expires_at < now())
        )

    async def end_user_tokens(
        self, tx: Transaction, user_id: int, at: datetime, *, client_id: str | None = None
    ) -> int:
        """End what a user holds (of one client, or of every client and first-party when None):
        revoke the refresh families, deny the live access tokens, spend the unused codes and mark
        the grants revoked. Returns how many access tokens were denied."""
        families = sa.update(refresh_tokens).where(
            refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None)
        )
        live = sa.select(oauth_access_tokens.c.jti, oauth_access_tokens.c.expires_at).where(
            oauth_access_tokens.c.user_id == user_id, oauth_access_tokens.c.expires_at > at
        )
        codes = sa.update(oauth_codes).where(
            oauth_codes.c.user_id == user_id, oauth_codes.c.used_at.is_(None)
        )
        grants = sa.update(oauth_grants).where(
            oauth_grants.c.user_id == user_id, oauth_grants.c.revoked_at.is_(None)
        )
        if client_id is not None:
            families = families.where(refresh_tokens.c.client_id == client_id)
            live = live.where(oauth_access_tokens.c.client_id == client_id)
            codes = codes.where(oauth_codes.c.client_id == client_id)
            grants = grants.where(oauth_grants.c.client_id == client_id)
        await tx.conn.execute(families.values(revoked_at=at))
        issued = (await tx.conn.execute(live)).all()
        await self.deny_many(tx, [(t.jti, t.expires_at) for t in issued])
        await tx.conn.execute(codes.values(used_at=at))
        await tx.conn.execute(grants.values(revoked_at=at))
        return len(issued)
