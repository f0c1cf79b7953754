"""Passwords: argon2id hashing off the event loop, the login check, and rehashing on login."""

from __future__ import annotations

import asyncio
import secrets

import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from boundaries.users.dto import Login, login_account
from boundaries.users.errors import AccountSuspended, InvalidCredentials, UserNotFound, WrongPassword
from modules.users.tables import users
from twitterclone.infra.store import ModuleStore
from twitterclone.settings import Settings

BAD_CREDENTIALS = "the login or the password is wrong"


class Credentials:
    """Hashes passwords and checks a login against the stored hash."""

    def __init__(self, store: ModuleStore, settings: Settings) -> None:
        self._store = store
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        """The argon2id hash of a password (computed in a thread: it is slow on purpose)."""
        return await asyncio.to_thread(self._hasher.hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    async def check_password(self, user_id: int, password: str) -> str:
        """The stored hash of an account whose password this is; raises WrongPassword (UserNotFound).

        An imported account has no password (an empty hash): nothing matches it.
        """
        async with self._store.read() as conn:
            stored = (
                await conn.execute(sa.select(users.c.password_hash).where(users.c.id == user_id))
            ).scalar_one_or_none()
        if stored is None:
            raise UserNotFound("no such user", field="user_id")
        if not await asyncio.to_thread(self._verify, stored, password):
            raise WrongPassword("the current password is wrong", field="current_password")
        return str(stored)

    async def check_login(self, command: Login) -> int:
        """The id of the account these credentials open; raises InvalidCredentials or AccountSuspended.

        Suspension is told only to someone who knows the password.
        """
        login = login_account(command.login)  # a handle or an email; the throttle keys on the same
        column = users.c.email if "@" in login else users.c.handle_lower
        async with self._store.read() as conn:
            row = (
                await conn.execute(
                    sa.select(users.c.id, users.c.password_hash, users.c.suspended_at).where(column == login)
                )
            ).first()
        if row is None:
            # Spend the same work as a real check, so timing does not tell who has an account.
            await asyncio.to_thread(self._verify, await self._dummy(), command.password)
            raise InvalidCredentials(BAD_CREDENTIALS)
        if not await asyncio.to_thread(self._verify, row.password_hash, command.password):
            raise InvalidCredentials(BAD_CREDENTIALS)
        if row.suspended_at is not None:
            raise AccountSuspended("this account is suspended")
        if self._hasher.check_needs_rehash(row.password_hash):
            new_hash = await self.hash(command.password)
            async with self._store.transaction() as tx:
                await tx.conn.execute(
                    sa.update(users)
                    .where(users.c.id == row.id, users.c.password_hash == row.password_hash)
                    .values(password_hash=new_hash)
                )
        return int(row.id)
