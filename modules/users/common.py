"""What the users components share: limits, normalisation, and the few row helpers they all need.

Private to the module; each component (accounts, credentials, tokens, sessions, profiles, graph,
moderation, oauth) imports from here rather than from one another.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from boundaries._kernel.ids import Id, is_id
from boundaries.users.dto import Profile
from boundaries.users.errors import UserNotFound
from modules.users.tables import users
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import HotRead, Reader

HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_DISPLAY_NAME = 50
MAX_BIO = 160


def normalise_email(email: str) -> str:
    """NFKC, then lower case throughout (the domain always; the local part as every large
    provider treats it), so one mailbox cannot hold two accounts by changing case or width."""
    return unicodedata.normalize("NFKC", email).strip().lower()


def now() -> datetime:
    return datetime.now(UTC)


def int_id(value: str) -> int | None:
    """A well-formed id as the integer the tables store; None for anything else."""
    return int(value) if isinstance(value, str) and is_id(value) else None


def sha256(value: str) -> str:
    """How secrets that cannot be guessed (refresh tokens, codes, client secrets) are stored."""
    return hashlib.sha256(value.encode()).hexdigest()


def event_meta(ids: IdGenerator) -> dict[str, Any]:
    """The id and time every event carries."""
    return {"event_id": ids.next(), "occurred_at": now()}


async def user_row(conn: Reader, user_id: int | None) -> Any:
    """The whole users row of an id, or None."""
    if user_id is None:
        return None
    return (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()


async def existing_user_row(conn: Reader, user_id: Id) -> Any:
    """The whole users row of an id; raises UserNotFound."""
    row = await user_row(conn, int_id(user_id))
    if row is None:
        raise UserNotFound("no such user", field="user_id")
    return row


#: A user's id if they exist (``require_user``, and ``ModuleStore.fetch`` where no connection is
#: open); built once, as building a statement costs far more than running it.
USER_ID = HotRead(sa.select(users.c.id).where(users.c.id == sa.bindparam("uid")))


async def require_user(conn: Reader, user_id: Id) -> int:
    """The integer id of an existing user; raises UserNotFound."""
    uid = int_id(user_id)
    if uid is None or (await conn.execute(USER_ID.statement, {"uid": uid})).first() is None:
        raise UserNotFound("no such user", field="user_id")
    return uid


PROFILE_COLUMNS = (
    users.c.id,
    users.c.handle,
    users.c.display_name,
    users.c.bio,
    users.c.created_at,
    users.c.followers_count,
    users.c.following_count,
    users.c.avatar_media_id,
    users.c.header_media_id,
)


def profile_of(row: Any) -> Profile:
    """A users row (at least PROFILE_COLUMNS) as a public profile."""
    return Profile(
        id=str(row.id),
        handle=row.handle,
        display_name=row.display_name,
        bio=row.bio,
        created_at=row.created_at,
        followers_count=row.followers_count,
        following_count=row.following_count,
        avatar_id=None if row.avatar_media_id is None else str(row.avatar_media_id),
        header_id=None if row.header_media_id is None else str(row.header_media_id),
    )
