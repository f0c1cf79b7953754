"""Accounts: registration (unique handles and emails, look-alike handles refused) and account lookup."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import Id
from boundaries.users.dto import Account, Profile, Register
from boundaries.users.errors import EmailTaken, HandleTaken, HandleTooSimilar
from boundaries.users.events import UserRegistered
from modules.users.common import (
    EMAIL_RE,
    HANDLE_RE,
    MAX_DISPLAY_NAME,
    MAX_PASSWORD,
    MIN_PASSWORD,
    event_meta,
    existing_user_row,
    normalise_email,
    now,
    profile_of,
)
from modules.users.credentials import Credentials
from modules.users.handles import handle_skeleton, normalise_handle
from modules.users.tables import users
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import HotRead, ModuleStore, Reader

#: The ids of some handles, by their lower-case spelling (every post with a mention runs it).
_IDS_BY_HANDLES = HotRead(
    sa.select(users.c.id, users.c.handle_lower).where(
        users.c.handle_lower.in_(sa.bindparam("handles", expanding=True))
    )
)


class Accounts:
    """Creates accounts and reads them back by id or by handle."""

    def __init__(self, store: ModuleStore, ids: IdGenerator, credentials: Credentials) -> None:
        self._store = store
        self._ids = ids
        self._credentials = credentials

    async def register(self, command: Register) -> Account:
        """Create an account; raises HandleTaken (HandleTooSimilar for a look-alike) or EmailTaken."""
        if not isinstance(command.handle, str) or not isinstance(command.email, str):
            raise InvalidInput("a handle and an email address are text", field="handle")
        handle, email, password = (
            normalise_handle(command.handle),
            normalise_email(command.email),
            command.password,
        )
        if not HANDLE_RE.match(handle):
            raise InvalidInput("a handle is 1-15 letters, digits or underscores", field="handle")
        if len(email) > 254 or not EMAIL_RE.match(email):
            raise InvalidInput("that is not an email address", field="email")
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise InvalidInput(f"a password has at least {MIN_PASSWORD} characters", field="password")
        display_name = (command.display_name or "").strip() or handle
        if len(display_name) > MAX_DISPLAY_NAME:
            raise InvalidInput(
                f"a display name has at most {MAX_DISPLAY_NAME} characters", field="display_name"
            )

        skeleton = handle_skeleton(handle)
        async with self._store.read() as conn:
            await self._check_free(conn, handle, skeleton, email)
        password_hash = await self._credentials.hash(password)
        user_id = self._ids.next_int()
        created = now()
        try:
            async with self._store.transaction() as tx:
                await self._check_free(tx.conn, handle, skeleton, email)
                await tx.conn.execute(
                    users.insert().values(
                        id=user_id,
                        handle=handle,
                        handle_lower=handle.lower(),
                        handle_skeleton=skeleton,
                        email=email,
                        password_hash=password_hash,
                        display_name=display_name,
                        bio="",
                        created_at=created,
                        followers_count=0,
                        following_count=0,
                    )
                )
                await tx.emit(
                    UserRegistered(
                        **event_meta(self._ids),
                        user_id=str(user_id),
                        handle=handle,
                        display_name=display_name,
                    )
                )
        except IntegrityError:
            # Lost a race with a concurrent registration: say which value is taken.
            async with self._store.read() as conn:
                await self._check_free(conn, handle, skeleton, email)
            raise
        profile = Profile(
            id=str(user_id),
            handle=handle,
            display_name=display_name,
            bio="",
            created_at=created,
            followers_count=0,
            following_count=0,
        )
        return Account(profile=profile, email=email)

    async def _check_free(self, conn: Reader, handle: str, skeleton: str, email: str) -> None:
        """Refuse a handle taken (ignoring case) or looking like a taken one, and a taken email.

        The message for a look-alike does not name the handle it resembles.
        """
        rows = (
            await conn.execute(
                sa.select(users.c.handle_lower, users.c.handle_skeleton, users.c.email).where(
                    sa.or_(
                        users.c.handle_lower == handle.lower(),
                        users.c.handle_skeleton == skeleton,
                        users.c.email == email,
                    )
                )
            )
        ).all()
        if any(r.handle_lower == handle.lower() for r in rows):
            raise HandleTaken("that handle is taken", field="handle")
        if any(r.handle_skeleton == skeleton for r in rows):
            raise HandleTooSimilar("that handle is too similar to an existing handle", field="handle")
        if rows:
            raise EmailTaken("that email address already has an account", field="email")

    async def account(self, user_id: Id) -> Account:
        """One's own account (profile and email); raises UserNotFound."""
        async with self._store.read() as conn:
            row = await existing_user_row(conn, user_id)
        return Account(profile=profile_of(row), email=row.email)

    async def ids_by_handles(self, handles: list[str]) -> dict[str, Id]:
        """Resolve handles (ignoring case) to ids; the keys are the handles as given."""
        lowered = {h.lower() for h in handles if isinstance(h, str) and HANDLE_RE.match(h)}
        if not lowered:
            return {}
        rows = await self._store.fetch(_IDS_BY_HANDLES, {"handles": list(lowered)})
        found = {handle: str(uid) for uid, handle in rows}
        return {h: found[h.lower()] for h in handles if isinstance(h, str) and h.lower() in found}
