"""Public profiles: by id, by handle, in batches (profiles, author summaries), search, and updates."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import Id
from boundaries._kernel.pagination import MAX_PAGE_SIZE, Page, PageRequest
from boundaries.media.dto import ProfileImageRole
from boundaries.media.port import MediaPort
from boundaries.users.dto import Account, Author, Profile, ProfileUpdate
from boundaries.users.errors import UserNotFound
from boundaries.users.events import ProfileUpdated
from modules.users.common import (
    HANDLE_RE,
    MAX_BIO,
    MAX_DISPLAY_NAME,
    PROFILE_COLUMNS,
    event_meta,
    existing_user_row,
    int_id,
    profile_of,
    user_row,
)
from modules.users.handles import normalise_handle
from modules.users.tables import users
from twitterclone.infra.cursor import decode_cursor, encode_cursor
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.sql import hot_read_utc
from twitterclone.infra.store import HotRead, ModuleStore

#: Hot read, built once (a statement built per call costs more than running it on SQLite).
_AUTHORS_BY_IDS = HotRead(
    sa.select(users.c.id, users.c.handle, users.c.display_name).where(
        users.c.id.in_(sa.bindparam("ids", expanding=True))
    )
)
#: Profiles by ids, each row in ``PROFILE_COLUMNS``' order (the Mastodon adapter asks for the
#: new authors of every page it has not shown before): a hot read, as ``_AUTHORS_BY_IDS``.
_PROFILES_BY_IDS = HotRead(
    sa.select(*PROFILE_COLUMNS).where(users.c.id.in_(sa.bindparam("ids", expanding=True)))
)


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class Profiles:
    """Reads public profiles and lets a user change their own."""

    def __init__(self, store: ModuleStore, ids: IdGenerator, media: MediaPort | None = None) -> None:
        self._store = store
        self._ids = ids
        #: Checks profile images (the user's own uploads) and keeps them public; None: no images.
        self._media = media

    async def profile(self, user_id: Id) -> Profile:
        """A public profile by id; raises UserNotFound."""
        async with self._store.read() as conn:
            row = await existing_user_row(conn, user_id)
        return profile_of(row)

    async def profile_by_handle(self, handle: str) -> Profile:
        """A public profile by handle, ignoring case; raises UserNotFound."""
        handle = normalise_handle(handle).lstrip("@")
        row = None
        if HANDLE_RE.match(handle):
            async with self._store.read() as conn:
                row = (
                    await conn.execute(
                        sa.select(*PROFILE_COLUMNS).where(users.c.handle_lower == handle.lower())
                    )
                ).first()
        if row is None:
            raise UserNotFound(f"no user has the handle {handle!r}", field="handle")
        return profile_of(row)

    async def profiles(self, user_ids: list[Id]) -> list[Profile]:
        """Profiles for many ids in one call, in the order asked; unknown ids are left out."""
        wanted = [i for i in (int_id(u) for u in user_ids) if i is not None]
        if not wanted:
            return []
        rows = await self._store.fetch(_PROFILES_BY_IDS, {"ids": list(set(wanted))})
        by_id = {r[0]: r for r in rows}
        out: list[Profile] = []
        for i in wanted:
            row = by_id.get(i)
            if row is None:
                continue
            uid, handle, display_name, bio, created_at, followers, following, avatar, header = row
            out.append(
                Profile(
                    id=str(uid),
                    handle=handle,
                    display_name=display_name,
                    bio=bio,
                    created_at=hot_read_utc(created_at),
                    followers_count=followers,
                    following_count=following,
                    avatar_id=None if avatar is None else str(avatar),
                    header_id=None if header is None else str(header),
                )
            )
        return out

    async def authors(self, user_ids: list[Id]) -> list[Author]:
        """Author summaries for many ids in one call, in the order asked; unknown left out."""
        wanted = [i for i in (int_id(u) for u in user_ids) if i is not None]
        if not wanted:
            return []
        by_id = {r[0]: r for r in await self._store.fetch(_AUTHORS_BY_IDS, {"ids": list(set(wanted))})}
        return [Author(id=str(i), handle=by_id[i][1], display_name=by_id[i][2]) for i in wanted if i in by_id]

    async def search(self, prefix: str, page: PageRequest) -> Page[Profile]:
        """Users whose handle or display name starts with ``prefix`` (ignoring case)."""
        needle = prefix.strip().lstrip("@").lower()[:50]
        if not needle:
            return Page(items=[])
        limit = max(1, min(page.limit, MAX_PAGE_SIZE))
        pattern = _like_prefix(needle)
        query = (
            sa.select(*PROFILE_COLUMNS, users.c.handle_lower)
            .where(
                sa.or_(
                    users.c.handle_lower.like(pattern, escape="\\"),
                    sa.func.lower(users.c.display_name).like(pattern, escape="\\"),
                )
            )
            .order_by(users.c.handle_lower)
            .limit(limit + 1)
        )
        if page.cursor:
            query = query.where(users.c.handle_lower > decode_cursor(page.cursor, str))
        async with self._store.read() as conn:
            rows = (await conn.execute(query)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = encode_cursor(rows[-1].handle_lower) if more and rows else None
        return Page(items=[profile_of(r) for r in rows], next_cursor=cursor)

    async def update_profile(self, user_id: Id, update: ProfileUpdate) -> Account:
        """Change one's own display name, bio, avatar or header.

        An avatar or header is a media id of an image the user uploaded: the media module checks
        it (it exists, is the user's, is an image not shown in a tweet) and marks it as shown on
        the profile, releasing the one it replaces, before the profile names it; "" removes one.
        """
        values: dict[str, Any] = {}
        if update.display_name is not None:
            name = update.display_name.strip()
            if len(name) > MAX_DISPLAY_NAME:
                raise InvalidInput(
                    f"a display name has at most {MAX_DISPLAY_NAME} characters", field="display_name"
                )
            values["display_name"] = name
        if update.bio is not None:
            if len(update.bio) > MAX_BIO:
                raise InvalidInput(f"a bio has at most {MAX_BIO} characters", field="bio")
            values["bio"] = update.bio
        uid = int_id(user_id)
        images: tuple[tuple[ProfileImageRole, str | None], ...] = (
            ("avatar", update.avatar_id),
            ("header", update.header_id),
        )
        if update.avatar_id and update.avatar_id == update.header_id:
            raise InvalidInput("one image cannot be both the avatar and the header", field="header_id")
        if any(choice is not None for _, choice in images):
            async with self._store.read() as conn:
                current = await existing_user_row(conn, user_id)
            for role, choice in images:
                if choice is None:
                    continue
                new = int_id(choice) if choice else None
                if new != getattr(current, f"{role}_media_id"):
                    await self._set_image(user_id, role, choice or None)
                values[f"{role}_media_id"] = new
        async with self._store.transaction() as tx:
            row = await existing_user_row(tx.conn, user_id)
            if values.get("display_name") == "":
                values["display_name"] = row.handle  # an empty name falls back to the handle
            changed = {k: v for k, v in values.items() if getattr(row, k) != v}
            if changed:
                await tx.conn.execute(sa.update(users).where(users.c.id == uid).values(**changed))
                row = await user_row(tx.conn, uid)
                await tx.emit(
                    ProfileUpdated(
                        **event_meta(self._ids),
                        user_id=str(uid),
                        handle=row.handle,
                        display_name=row.display_name,
                        bio=row.bio,
                    )
                )
        return Account(profile=profile_of(row), email=row.email)

    async def _set_image(self, user_id: Id, role: ProfileImageRole, media_id: Id | None) -> None:
        """Have the media module check and mark (or release) a profile image."""
        if self._media is None:
            raise InvalidInput("profile images are not available here", field=f"{role}_id")
        await self._media.set_profile_image(user_id, role, media_id)
