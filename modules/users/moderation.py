"""Moderation: the admin role, suspensions, and the administrators' hold on signing keys."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import Id
from boundaries.users.dto import AccountStatus, SigningKey
from boundaries.users.errors import NotAdmin, UserNotFound
from modules.users.common import existing_user_row, int_id, now, require_user, user_row
from modules.users.keys import SigningKeys
from modules.users.tables import oauth_codes, refresh_tokens, users
from twitterclone.infra.store import ModuleStore, Reader

log = logging.getLogger("twitterclone.users")


def _status(row: Any) -> AccountStatus:
    return AccountStatus(
        user_id=str(row.id),
        handle=row.handle,
        role=row.role,
        suspended=row.suspended_at is not None,
        suspended_at=row.suspended_at if row.suspended_at is not None else None,
    )


class Moderation:
    """What administrators do: grant the role, suspend and reinstate accounts, rotate and retire keys."""

    def __init__(self, store: ModuleStore, keys: SigningKeys) -> None:
        self._store = store
        self._keys = keys

    async def _admin(self, conn: Reader, admin_id: Id) -> int:
        """The id of an active administrator, checked against the store (not a token claim)."""
        row = await user_row(conn, int_id(admin_id))
        if row is None or row.role != "admin" or row.suspended_at is not None:
            raise NotAdmin("this needs an administrator")
        return int(row.id)

    async def account_status(self, user_id: Id) -> AccountStatus:
        """An account's role and suspension; raises UserNotFound."""
        async with self._store.read() as conn:
            row = await existing_user_row(conn, user_id)
        return _status(row)

    async def grant_admin(self, handle: str) -> AccountStatus:
        """Make an account an administrator (the operator's CLI); raises UserNotFound."""
        handle = handle.lstrip("@")
        async with self._store.transaction() as tx:
            row = (
                await tx.conn.execute(sa.select(users).where(users.c.handle_lower == handle.lower()))
            ).first()
            if row is None:
                raise UserNotFound(f"no user has the handle {handle!r}", field="handle")
            await tx.conn.execute(sa.update(users).where(users.c.id == row.id).values(role="admin"))
            row = await user_row(tx.conn, row.id)
        log.info("admin role granted", extra={"user_id": str(row.id)})
        return _status(row)

    async def suspend(self, admin_id: Id, user_id: Id) -> AccountStatus:
        """Suspend an account: its tokens stop working at once; raises NotAdmin or UserNotFound."""
        at = now()
        async with self._store.transaction() as tx:
            admin = await self._admin(tx.conn, admin_id)
            uid = await require_user(tx.conn, user_id)
            if uid == admin:
                raise InvalidInput("an administrator cannot suspend their own account", field="user_id")
            await tx.conn.execute(
                sa.update(users)
                .where(users.c.id == uid, users.c.suspended_at.is_(None))
                .values(suspended_at=at)
            )
            # Refresh tokens and unused codes die now; access tokens are refused by token_active.
            await tx.conn.execute(
                sa.update(refresh_tokens)
                .where(refresh_tokens.c.user_id == uid, refresh_tokens.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            await tx.conn.execute(
                sa.update(oauth_codes)
                .where(oauth_codes.c.user_id == uid, oauth_codes.c.used_at.is_(None))
                .values(used_at=at)
            )
            row = await user_row(tx.conn, uid)
        log.info("account suspended", extra={"user_id": str(uid), "admin_id": str(admin)})
        return _status(row)

    async def unsuspend(self, admin_id: Id, user_id: Id) -> AccountStatus:
        """Lift a suspension (the user logs in again); raises NotAdmin or UserNotFound."""
        async with self._store.transaction() as tx:
            admin = await self._admin(tx.conn, admin_id)
            uid = await require_user(tx.conn, user_id)
            await tx.conn.execute(sa.update(users).where(users.c.id == uid).values(suspended_at=None))
            row = await user_row(tx.conn, uid)
        log.info("account unsuspended", extra={"user_id": str(uid), "admin_id": str(admin)})
        return _status(row)

    async def signing_keys(self, admin_id: Id) -> list[SigningKey]:
        """Every access-token signing key with its lifecycle, newest first; raises NotAdmin."""
        async with self._store.read() as conn:
            await self._admin(conn, admin_id)
        return await self._keys.lifecycle()

    async def rotate_signing_key(self, admin_id: Id) -> SigningKey:
        """Make a new current signing key; the previous one still verifies until retired."""
        async with self._store.read() as conn:
            admin = await self._admin(conn, admin_id)
        kid = await self._keys.rotate()
        log.info("signing key rotated", extra={"kid": kid, "admin_id": str(admin)})
        return next(k for k in await self._keys.lifecycle() if k.kid == kid)

    async def retire_signing_key(self, admin_id: Id, kid: str) -> SigningKey:
        """Stop a rotated key from verifying; raises SigningKeyNotFound or SigningKeyInUse (current)."""
        async with self._store.read() as conn:
            admin = await self._admin(conn, admin_id)
        await self._keys.retire(kid)
        log.info("signing key retired", extra={"kid": kid, "admin_id": str(admin)})
        return next(k for k in await self._keys.lifecycle() if k.kid == kid)
