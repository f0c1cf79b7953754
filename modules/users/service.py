"""The users service: accounts, credentials, tokens, profiles and the follow graph."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import Id, is_id
from boundaries._kernel.pagination import MAX_PAGE_SIZE, Page, PageRequest
from boundaries.users.dto import (
    Account,
    AccountImport,
    AccountStatus,
    Author,
    AuthorizationCode,
    AuthorizationPrompt,
    AuthorizationRequest,
    ClientRegistration,
    IdPage,
    ImportResult,
    Jwks,
    Login,
    OAuthToken,
    Profile,
    ProfileUpdate,
    Register,
    RegisteredClient,
    Relationship,
    RevocationRequest,
    SigningKey,
    TokenPair,
    TokenRequest,
    TokenSettings,
)
from boundaries.users.errors import (
    AccountSuspended,
    Blocked,
    CannotFollowSelf,
    EmailTaken,
    HandleTaken,
    HandleTooSimilar,
    InvalidCredentials,
    InvalidRefreshToken,
    NotAdmin,
    OAuthClientNotFound,
    UserNotFound,
)
from boundaries.users.events import ProfileUpdated, UserFollowed, UserRegistered, UserUnfollowed
from modules.users.handles import handle_skeleton, normalise_handle
from modules.users.importer import AccountImporter
from modules.users.keys import SigningKeys
from modules.users.oauth import IssuedAccess, OAuthServer
from modules.users.tables import (
    blocks,
    follows,
    mutes,
    oauth_clients,
    oauth_codes,
    refresh_tokens,
    revoked_access_tokens,
    users,
)
from twitterclone.infra.cursor import decode_cursor, encode_cursor
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import HotRead, ModuleStore, Reader, Transaction
from twitterclone.settings import Settings

log = logging.getLogger("twitterclone.users")

HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


def normalise_email(email: str) -> str:
    """NFKC, then lower case throughout (the domain always; the local part as every large
    provider treats it), so one mailbox cannot hold two accounts by changing case or width."""
    return unicodedata.normalize("NFKC", email).strip().lower()


MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_DISPLAY_NAME = 50
MAX_BIO = 160
#: The most accounts one user may follow (bounds following_ids and home timeline assembly).
FOLLOW_CAP = 5000
#: The most ids follower_ids hands out per call.
MAX_ID_PAGE = 5000
ACCESS_SCOPE = "read write follow"
ALGORITHM = "EdDSA"
BAD_CREDENTIALS = "the login or the password is wrong"
BAD_REFRESH = "the refresh token is not valid; log in again"


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; make every timestamp timezone-aware."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _int_id(value: str) -> int | None:
    return int(value) if isinstance(value, str) and is_id(value) else None


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


#: Hot reads, built once (a statement built per call costs more than running it on SQLite).
_AUTHORS_BY_IDS = HotRead(
    sa.select(users.c.id, users.c.handle, users.c.display_name).where(
        users.c.id.in_(sa.bindparam("ids", expanding=True))
    )
)
_POPULAR_FOLLOWING = HotRead(
    sa.select(follows.c.followee_id)
    .select_from(follows.join(users, users.c.id == follows.c.followee_id))
    .where(
        follows.c.follower_id == sa.bindparam("uid"),
        users.c.followers_count >= sa.bindparam("min_followers"),
    )
)
_DENIED = sa.exists().where(revoked_access_tokens.c.jti == sa.bindparam("jti")).label("denied")
_USER_TOKEN_STATUS = HotRead(
    sa.select(users.c.suspended_at.is_not(None), _DENIED).where(users.c.id == sa.bindparam("uid"))
)
_CLIENT_TOKEN_STATUS = HotRead(
    sa.select(users.c.suspended_at.is_not(None), _DENIED)
    .select_from(oauth_clients.join(users, users.c.id == oauth_clients.c.owner_id))
    .where(oauth_clients.c.client_id == sa.bindparam("client_id"), oauth_clients.c.revoked_at.is_(None))
)

_PROFILE_COLUMNS = (
    users.c.id,
    users.c.handle,
    users.c.display_name,
    users.c.bio,
    users.c.created_at,
    users.c.followers_count,
    users.c.following_count,
)


def _profile(row: Any) -> Profile:
    return Profile(
        id=str(row.id),
        handle=row.handle,
        display_name=row.display_name,
        bio=row.bio,
        created_at=_aware(row.created_at),
        followers_count=row.followers_count,
        following_count=row.following_count,
    )


class UsersService:
    """Implements ``UsersPort`` over the module's own store."""

    def __init__(self, store: ModuleStore, ids: IdGenerator, settings: Settings) -> None:
        self._store = store
        self._ids = ids
        self._settings = settings
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._dummy_hash: str | None = None
        self._keys = SigningKeys(store)
        self._oauth = OAuthServer(self, store, ids, settings, self._keys)
        self._importer = AccountImporter(store, ids, follow_cap=FOLLOW_CAP, normalise_email=normalise_email)

    # ------------------------------------------------------------------ helpers

    def _event_meta(self) -> dict[str, Any]:
        return {"event_id": self._ids.next(), "occurred_at": _now()}

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(self._hasher.hash, secrets.token_urlsafe(16))
        return self._dummy_hash

    async def _user_row(self, conn: Reader, user_id: int | None) -> Any:
        if user_id is None:
            return None
        return (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()

    async def _require_user(self, conn: Reader, user_id: Id) -> int:
        uid = _int_id(user_id)
        if (
            uid is None
            or (await conn.execute(sa.select(users.c.id).where(users.c.id == uid))).first() is None
        ):
            raise UserNotFound("no such user", field="user_id")
        return uid

    def _insert_ignore(self, table: sa.Table, conn: AsyncConnection, **values: Any) -> Any:
        dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
        return dialect.insert(table).values(**values).on_conflict_do_nothing()

    async def _access_token(self, user_id: str) -> str:
        return (await self.issue_access(user_id, ACCESS_SCOPE, None)).token

    async def issue_access(self, subject: str, scope: str, client_id: str | None) -> IssuedAccess:
        """Sign an access token for ``subject``; OAuth tokens name their client (RFC 9068)."""
        now = _now()
        jti = secrets.token_urlsafe(16)
        expires = now + timedelta(seconds=self._settings.access_token_ttl_s)
        claims: dict[str, Any] = {
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
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
        now = _now()
        await tx.conn.execute(
            refresh_tokens.insert().values(
                token_hash=_token_hash(token),
                family_id=family_id,
                user_id=user_id,
                created_at=now,
                expires_at=now + timedelta(days=self._settings.refresh_token_ttl_days),
                client_id=client_id,
                scope=scope,
            )
        )
        return token

    async def _new_refresh(self, tx: Transaction, user_id: int, family_id: int) -> str:
        return await self.new_refresh(tx, user_id, family_id)

    def _pair(self, access: str, refresh: str, user_id: int) -> TokenPair:
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=self._settings.access_token_ttl_s,
            user_id=str(user_id),
        )

    # --------------------------------------------------------------- accounts

    async def import_accounts(self, batch: AccountImport) -> ImportResult:
        return await self._importer.import_accounts(batch)

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
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        user_id = self._ids.next_int()
        now = _now()
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
                        created_at=now,
                        followers_count=0,
                        following_count=0,
                    )
                )
                await tx.emit(
                    UserRegistered(
                        **self._event_meta(), user_id=str(user_id), handle=handle, display_name=display_name
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
            created_at=now,
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

    async def check_login(self, command: Login) -> int:
        """The id of the account these credentials open; raises InvalidCredentials or AccountSuspended.

        Suspension is told only to someone who knows the password.
        """
        login = normalise_email(command.login).lstrip("@")  # a handle or an email, same folding
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
            new_hash = await asyncio.to_thread(self._hasher.hash, command.password)
            async with self._store.transaction() as tx:
                await tx.conn.execute(
                    sa.update(users)
                    .where(users.c.id == row.id, users.c.password_hash == row.password_hash)
                    .values(password_hash=new_hash)
                )
        return int(row.id)

    async def authenticate(self, command: Login) -> TokenPair:
        """Check credentials and open a new token family; raises InvalidCredentials."""
        user_id = await self.check_login(command)
        access = await self._access_token(str(user_id))
        async with self._store.transaction() as tx:
            refresh = await self._new_refresh(tx, user_id, self._ids.next_int())
        return self._pair(access, refresh, user_id)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token; reuse of a rotated one revokes its whole family."""
        row, new_refresh = await self.rotate_refresh(refresh_token, None)
        access = await self._access_token(str(row.user_id))
        return self._pair(access, new_refresh, row.user_id)

    async def rotate_refresh(self, refresh_token: str, client_id: str | None) -> tuple[Any, str]:
        """Use up a refresh token of ``client_id``'s (None: first-party) and return its row and successor.

        Reuse of a used token revokes its whole family; raises InvalidRefreshToken.
        """
        digest = _token_hash(refresh_token)
        now = _now()
        reused_family: int | None = None
        async with self._store.transaction() as tx:
            row = (
                await tx.conn.execute(sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == digest))
            ).first()
            if (
                row is None
                or row.revoked_at is not None
                or _aware(row.expires_at) <= now
                or row.client_id != client_id  # a client's token works only for that client
            ):
                raise InvalidRefreshToken(BAD_REFRESH)
            if row.used_at is None:
                claimed = await tx.conn.execute(
                    sa.update(refresh_tokens)
                    .where(refresh_tokens.c.token_hash == digest, refresh_tokens.c.used_at.is_(None))
                    .values(used_at=now)
                )
                if claimed.rowcount != 1:  # a concurrent refresh took it first: that is reuse too
                    reused_family = row.family_id
            else:
                reused_family = row.family_id
            if reused_family is not None:
                await self._revoke_family(tx, reused_family, now)
            else:
                owner = await self._user_row(tx.conn, row.user_id)
                if owner is None or owner.suspended_at is not None:
                    raise InvalidRefreshToken(BAD_REFRESH)
                new_refresh = await self.new_refresh(
                    tx, row.user_id, row.family_id, client_id=row.client_id, scope=row.scope
                )
        if reused_family is not None:
            # The revocation above is committed before we refuse.
            raise InvalidRefreshToken("this refresh token was already used; every session of it is revoked")
        return row, new_refresh

    async def revoke_family(self, tx: Transaction, family_id: int, now: datetime) -> None:
        """Revoke every refresh token of a family."""
        await self._revoke_family(tx, family_id, now)

    async def _revoke_family(self, tx: Transaction, family_id: int, now: datetime) -> None:
        await tx.conn.execute(
            sa.update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def logout(self, refresh_token: str) -> None:
        """Revoke the family of a refresh token; unknown tokens are ignored."""
        digest = _token_hash(refresh_token)
        async with self._store.transaction() as tx:
            family = (
                await tx.conn.execute(
                    sa.select(refresh_tokens.c.family_id).where(refresh_tokens.c.token_hash == digest)
                )
            ).scalar_one_or_none()
            if family is not None:
                await self._revoke_family(tx, family, _now())

    async def jwks(self) -> Jwks:
        """The public keys that verify access tokens (current and not yet retired)."""
        return await self._keys.jwks()

    async def token_settings(self) -> TokenSettings:
        """Issuer, audience and algorithm that access tokens are signed with."""
        return TokenSettings(
            issuer=self._settings.jwt_issuer, audience=self._settings.jwt_audience, algorithm=ALGORITHM
        )

    # --------------------------------------------------------------- profiles

    async def account(self, user_id: Id) -> Account:
        """One's own account (profile and email); raises UserNotFound."""
        async with self._store.read() as conn:
            row = await self._user_row(conn, _int_id(user_id))
        if row is None:
            raise UserNotFound("no such user", field="user_id")
        return Account(profile=_profile(row), email=row.email)

    async def profile(self, user_id: Id) -> Profile:
        """A public profile by id; raises UserNotFound."""
        return (await self.account(user_id)).profile

    async def profile_by_handle(self, handle: str) -> Profile:
        """A public profile by handle, ignoring case; raises UserNotFound."""
        handle = normalise_handle(handle).lstrip("@")
        row = None
        if HANDLE_RE.match(handle):
            async with self._store.read() as conn:
                row = (
                    await conn.execute(
                        sa.select(*_PROFILE_COLUMNS).where(users.c.handle_lower == handle.lower())
                    )
                ).first()
        if row is None:
            raise UserNotFound(f"no user has the handle {handle!r}", field="handle")
        return _profile(row)

    async def _rows_by_ids(self, user_ids: list[Id], *columns: Any) -> list[Any]:
        wanted = [i for i in (_int_id(u) for u in user_ids) if i is not None]
        if not wanted:
            return []
        async with self._store.read() as conn:
            rows = (await conn.execute(sa.select(*columns).where(users.c.id.in_(set(wanted))))).all()
        by_id = {r.id: r for r in rows}
        return [by_id[i] for i in wanted if i in by_id]

    async def profiles(self, user_ids: list[Id]) -> list[Profile]:
        """Profiles for many ids in one call, in the order asked; unknown ids are left out."""
        return [_profile(r) for r in await self._rows_by_ids(user_ids, *_PROFILE_COLUMNS)]

    async def authors(self, user_ids: list[Id]) -> list[Author]:
        """Author summaries for many ids in one call, in the order asked; unknown left out."""
        wanted = [i for i in (_int_id(u) for u in user_ids) if i is not None]
        if not wanted:
            return []
        by_id = {r[0]: r for r in await self._store.fetch(_AUTHORS_BY_IDS, {"ids": list(set(wanted))})}
        return [Author(id=str(i), handle=by_id[i][1], display_name=by_id[i][2]) for i in wanted if i in by_id]

    async def ids_by_handles(self, handles: list[str]) -> dict[str, Id]:
        """Resolve handles (ignoring case) to ids; the keys are the handles as given."""
        lowered = {h.lower() for h in handles if isinstance(h, str) and HANDLE_RE.match(h)}
        if not lowered:
            return {}
        async with self._store.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(users.c.id, users.c.handle_lower).where(users.c.handle_lower.in_(lowered))
                )
            ).all()
        found = {r.handle_lower: str(r.id) for r in rows}
        return {h: found[h.lower()] for h in handles if isinstance(h, str) and h.lower() in found}

    async def update_profile(self, user_id: Id, update: ProfileUpdate) -> Account:
        """Change one's own display name or bio."""
        values: dict[str, str] = {}
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
        uid = _int_id(user_id)
        async with self._store.transaction() as tx:
            row = await self._user_row(tx.conn, uid)
            if row is None:
                raise UserNotFound("no such user", field="user_id")
            if values.get("display_name") == "":
                values["display_name"] = row.handle  # an empty name falls back to the handle
            changed = {k: v for k, v in values.items() if getattr(row, k) != v}
            if changed:
                await tx.conn.execute(sa.update(users).where(users.c.id == uid).values(**changed))
                row = await self._user_row(tx.conn, uid)
                await tx.emit(
                    ProfileUpdated(
                        **self._event_meta(),
                        user_id=str(uid),
                        handle=row.handle,
                        display_name=row.display_name,
                        bio=row.bio,
                    )
                )
        return Account(profile=_profile(row), email=row.email)

    # ------------------------------------------------------------ follow graph

    async def _relationship(self, conn: Reader, a: int, b: int) -> Relationship:
        f, bl, m = follows, blocks, mutes
        fol = (
            (
                await conn.execute(
                    sa.select(f.c.follower_id).where(
                        sa.or_(
                            sa.and_(f.c.follower_id == a, f.c.followee_id == b),
                            sa.and_(f.c.follower_id == b, f.c.followee_id == a),
                        )
                    )
                )
            )
            .scalars()
            .all()
        )
        blk = (
            (
                await conn.execute(
                    sa.select(bl.c.blocker_id).where(
                        sa.or_(
                            sa.and_(bl.c.blocker_id == a, bl.c.blocked_id == b),
                            sa.and_(bl.c.blocker_id == b, bl.c.blocked_id == a),
                        )
                    )
                )
            )
            .scalars()
            .all()
        )
        muting = (
            await conn.execute(sa.select(m.c.muter_id).where(m.c.muter_id == a, m.c.muted_id == b))
        ).first() is not None
        return Relationship(
            user_id=str(a),
            target_id=str(b),
            following=a in fol,
            followed_by=b in fol,
            blocking=a in blk,
            blocked_by=b in blk,
            muting=muting,
        )

    async def _pair_ids(self, conn: Reader, user_id: Id, target_id: Id) -> tuple[int, int]:
        a = await self._require_user(conn, user_id)
        b = await self._require_user(conn, target_id)
        return a, b

    async def _remove_follow(self, tx: Transaction, follower: int, followee: int) -> bool:
        result = await tx.conn.execute(
            sa.delete(follows).where(follows.c.follower_id == follower, follows.c.followee_id == followee)
        )
        if result.rowcount != 1:
            return False
        await tx.conn.execute(
            sa.update(users).where(users.c.id == follower).values(following_count=users.c.following_count - 1)
        )
        await tx.conn.execute(
            sa.update(users).where(users.c.id == followee).values(followers_count=users.c.followers_count - 1)
        )
        await tx.emit(
            UserUnfollowed(**self._event_meta(), follower_id=str(follower), followee_id=str(followee))
        )
        return True

    async def follow(self, follower_id: Id, followee_id: Id) -> Relationship:
        """Follow someone; idempotent. Raises CannotFollowSelf, UserNotFound or Blocked."""
        if follower_id == followee_id:
            raise CannotFollowSelf("you cannot follow yourself", field="user_id")
        async with self._store.transaction() as tx:
            a, b = await self._pair_ids(tx.conn, follower_id, followee_id)
            rel = await self._relationship(tx.conn, a, b)
            if rel.blocking or rel.blocked_by:
                raise Blocked("one of you blocks the other", field="user_id")
            if rel.following:
                return rel
            count = (
                await tx.conn.execute(sa.select(users.c.following_count).where(users.c.id == a))
            ).scalar_one()
            if count >= FOLLOW_CAP:
                raise InvalidInput(f"you already follow the most accounts allowed ({FOLLOW_CAP})")
            inserted = await tx.conn.execute(
                self._insert_ignore(follows, tx.conn, follower_id=a, followee_id=b, created_at=_now())
            )
            if inserted.rowcount == 1:
                await tx.conn.execute(
                    sa.update(users)
                    .where(users.c.id == a)
                    .values(following_count=users.c.following_count + 1)
                )
                await tx.conn.execute(
                    sa.update(users)
                    .where(users.c.id == b)
                    .values(followers_count=users.c.followers_count + 1)
                )
                await tx.emit(UserFollowed(**self._event_meta(), follower_id=str(a), followee_id=str(b)))
            return msgspec.structs.replace(rel, following=True)

    async def unfollow(self, follower_id: Id, followee_id: Id) -> Relationship:
        """Stop following someone; idempotent."""
        if follower_id == followee_id:
            raise CannotFollowSelf("you cannot unfollow yourself", field="user_id")
        async with self._store.transaction() as tx:
            a, b = await self._pair_ids(tx.conn, follower_id, followee_id)
            await self._remove_follow(tx, a, b)
            return await self._relationship(tx.conn, a, b)

    async def block(self, user_id: Id, target_id: Id) -> Relationship:
        """Block someone (and end follows both ways); idempotent."""
        if user_id == target_id:
            raise InvalidInput("you cannot block yourself", field="user_id")
        async with self._store.transaction() as tx:
            a, b = await self._pair_ids(tx.conn, user_id, target_id)
            await tx.conn.execute(
                self._insert_ignore(blocks, tx.conn, blocker_id=a, blocked_id=b, created_at=_now())
            )
            await self._remove_follow(tx, a, b)
            await self._remove_follow(tx, b, a)
            return await self._relationship(tx.conn, a, b)

    async def unblock(self, user_id: Id, target_id: Id) -> Relationship:
        """Lift a block; idempotent."""
        async with self._store.transaction() as tx:
            a, b = await self._pair_ids(tx.conn, user_id, target_id)
            await tx.conn.execute(sa.delete(blocks).where(blocks.c.blocker_id == a, blocks.c.blocked_id == b))
            return await self._relationship(tx.conn, a, b)

    async def mute(self, user_id: Id, target_id: Id) -> Relationship:
        """Mute someone; idempotent."""
        if user_id == target_id:
            raise InvalidInput("you cannot mute yourself", field="user_id")
        async with self._store.transaction() as tx:
            a, b = await self._pair_ids(tx.conn, user_id, target_id)
            await tx.conn.execute(
                self._insert_ignore(mutes, tx.conn, muter_id=a, muted_id=b, created_at=_now())
            )
            return await self._relationship(tx.conn, a, b)

    async def unmute(self, user_id: Id, target_id: Id) -> Relationship:
        """Lift a mute; idempotent."""
        async with self._store.transaction() as tx:
            a, b = await self._pair_ids(tx.conn, user_id, target_id)
            await tx.conn.execute(sa.delete(mutes).where(mutes.c.muter_id == a, mutes.c.muted_id == b))
            return await self._relationship(tx.conn, a, b)

    async def relationship(self, user_id: Id, target_id: Id) -> Relationship:
        """How ``user_id`` stands to ``target_id``."""
        async with self._store.read() as conn:
            a, b = await self._pair_ids(conn, user_id, target_id)
            return await self._relationship(conn, a, b)

    async def _follow_page(self, user_id: Id, page: PageRequest, *, followers: bool) -> Page[Profile]:
        limit = max(1, min(page.limit, MAX_PAGE_SIZE))
        anchor, other = (
            (follows.c.followee_id, follows.c.follower_id)
            if followers
            else (follows.c.follower_id, follows.c.followee_id)
        )
        async with self._store.read() as conn:
            uid = await self._require_user(conn, user_id)
            query = (
                sa.select(*_PROFILE_COLUMNS, follows.c.created_at.label("followed_at"))
                .select_from(follows.join(users, users.c.id == other))
                .where(anchor == uid)
                .order_by(follows.c.created_at.desc(), other.desc())
                .limit(limit + 1)
            )
            if page.cursor:
                at_iso, after_id = decode_cursor(page.cursor, tuple[str, int])
                try:
                    at = datetime.fromisoformat(at_iso)
                except ValueError as exc:
                    raise InvalidInput("the cursor is not one this API handed out", field="cursor") from exc
                query = query.where(
                    sa.or_(follows.c.created_at < at, sa.and_(follows.c.created_at == at, other < after_id))
                )
            rows = (await conn.execute(query)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = (
            encode_cursor((_aware(rows[-1].followed_at).isoformat(), rows[-1].id)) if more and rows else None
        )
        return Page(items=[_profile(r) for r in rows], next_cursor=cursor)

    async def followers(self, user_id: Id, page: PageRequest) -> Page[Profile]:
        """Who follows a user, most recent first."""
        return await self._follow_page(user_id, page, followers=True)

    async def following(self, user_id: Id, page: PageRequest) -> Page[Profile]:
        """Whom a user follows, most recent first."""
        return await self._follow_page(user_id, page, followers=False)

    async def follower_ids(self, user_id: Id, cursor: str | None, limit: int) -> IdPage:
        """Follower ids in bulk (up to 5000 a call), for fan-out."""
        limit = max(1, min(int(limit), MAX_ID_PAGE))
        uid = _int_id(user_id)
        if uid is None:
            return IdPage(ids=[])
        query = (
            sa.select(follows.c.follower_id)
            .where(follows.c.followee_id == uid)
            .order_by(follows.c.follower_id)
            .limit(limit + 1)
        )
        if cursor:
            query = query.where(follows.c.follower_id > decode_cursor(cursor, int))
        async with self._store.read() as conn:
            ids = list((await conn.execute(query)).scalars().all())
        more = len(ids) > limit
        ids = ids[:limit]
        return IdPage(ids=[str(i) for i in ids], next_cursor=encode_cursor(ids[-1]) if more and ids else None)

    async def following_ids(self, user_id: Id) -> list[Id]:
        """Every id a user follows (bounded by the follow cap), for timeline assembly."""
        uid = _int_id(user_id)
        if uid is None:
            return []
        async with self._store.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(follows.c.followee_id).where(follows.c.follower_id == uid).limit(FOLLOW_CAP)
                )
            ).scalars()
            return [str(i) for i in rows]

    async def popular_following_ids(self, user_id: Id, min_followers: int) -> list[Id]:
        """Ids a user follows that have at least ``min_followers`` followers (hybrid timelines)."""
        uid = _int_id(user_id)
        if uid is None:
            return []
        rows = await self._store.fetch(_POPULAR_FOLLOWING, {"uid": uid, "min_followers": min_followers})
        return [str(r[0]) for r in rows]

    async def search(self, prefix: str, page: PageRequest) -> Page[Profile]:
        """Users whose handle or display name starts with ``prefix`` (ignoring case)."""
        needle = prefix.strip().lstrip("@").lower()[:50]
        if not needle:
            return Page(items=[])
        limit = max(1, min(page.limit, MAX_PAGE_SIZE))
        pattern = _like_prefix(needle)
        query = (
            sa.select(*_PROFILE_COLUMNS, users.c.handle_lower)
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
        return Page(items=[_profile(r) for r in rows], next_cursor=cursor)

    # ------------------------------------------------------ OAuth 2.0 authorization server

    async def register_client(self, owner_id: Id, command: ClientRegistration) -> RegisteredClient:
        """Register an OAuth client owned by a user; its secret (if confidential) is shown only here."""
        uid = _int_id(owner_id)
        if uid is None:
            raise UserNotFound("no such user", field="owner_id")
        return await self._oauth.register_client(uid, command)

    async def list_clients(self, owner_id: Id) -> list[RegisteredClient]:
        """The OAuth clients a user registered and has not deleted, newest first, without secrets."""
        uid = _int_id(owner_id)
        return [] if uid is None else await self._oauth.list_clients(uid)

    async def delete_client(self, owner_id: Id, client_id: str) -> None:
        """Delete one's OAuth client and revoke every token and code it holds; OAuthClientNotFound."""
        uid = _int_id(owner_id)
        if uid is None or not isinstance(client_id, str):
            raise OAuthClientNotFound("no such OAuth client", field="client_id")
        await self._oauth.delete_client(uid, client_id)

    async def authorization_prompt(self, request: AuthorizationRequest) -> AuthorizationPrompt:
        """Check an authorization request (client, exact redirect URI, scope, S256 PKCE); OAuthError."""
        return await self._oauth.authorization_prompt(request)

    async def approve_authorization(
        self, request: AuthorizationRequest, credentials: Login
    ) -> AuthorizationCode:
        """The user logged in and consented: a single-use, short-lived code bound to client, URI and PKCE."""
        return await self._oauth.approve(request, credentials)

    async def exchange_token(self, request: TokenRequest) -> OAuthToken:
        """The token endpoint: authenticate the client and apply one grant; raises OAuthError."""
        return await self._oauth.exchange(request)

    async def revoke_token(self, request: RevocationRequest) -> None:
        """Revoke a refresh token's family or an access token (RFC 7009); unknown tokens are ignored."""
        await self._oauth.revoke(request)

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
            uid = _int_id(subject)
            rows = (
                [] if uid is None else await self._store.fetch(_USER_TOKEN_STATUS, {"uid": uid, "jti": jti})
            )
        if not rows:
            return False
        suspended, denied = rows[0]
        if suspended:
            return False
        return token_id is None or not denied

    # ------------------------------------------------------------------------ moderation

    @staticmethod
    def _status(row: Any) -> AccountStatus:
        return AccountStatus(
            user_id=str(row.id),
            handle=row.handle,
            role=row.role,
            suspended=row.suspended_at is not None,
            suspended_at=_aware(row.suspended_at) if row.suspended_at is not None else None,
        )

    async def _admin(self, conn: Reader, admin_id: Id) -> int:
        """The id of an active administrator, checked against the store (not a token claim)."""
        uid = _int_id(admin_id)
        row = await self._user_row(conn, uid)
        if row is None or row.role != "admin" or row.suspended_at is not None:
            raise NotAdmin("this needs an administrator")
        return int(row.id)

    async def account_status(self, user_id: Id) -> AccountStatus:
        """An account's role and suspension; raises UserNotFound."""
        async with self._store.read() as conn:
            row = await self._user_row(conn, _int_id(user_id))
        if row is None:
            raise UserNotFound("no such user", field="user_id")
        return self._status(row)

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
            row = await self._user_row(tx.conn, row.id)
        log.info("admin role granted", extra={"user_id": str(row.id)})
        return self._status(row)

    async def suspend(self, admin_id: Id, user_id: Id) -> AccountStatus:
        """Suspend an account: its tokens stop working at once; raises NotAdmin or UserNotFound."""
        now = _now()
        async with self._store.transaction() as tx:
            admin = await self._admin(tx.conn, admin_id)
            uid = await self._require_user(tx.conn, user_id)
            if uid == admin:
                raise InvalidInput("an administrator cannot suspend their own account", field="user_id")
            await tx.conn.execute(
                sa.update(users)
                .where(users.c.id == uid, users.c.suspended_at.is_(None))
                .values(suspended_at=now)
            )
            # Refresh tokens and unused codes die now; access tokens are refused by token_active.
            await tx.conn.execute(
                sa.update(refresh_tokens)
                .where(refresh_tokens.c.user_id == uid, refresh_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            await tx.conn.execute(
                sa.update(oauth_codes)
                .where(oauth_codes.c.user_id == uid, oauth_codes.c.used_at.is_(None))
                .values(used_at=now)
            )
            row = await self._user_row(tx.conn, uid)
        log.info("account suspended", extra={"user_id": str(uid), "admin_id": str(admin)})
        return self._status(row)

    async def unsuspend(self, admin_id: Id, user_id: Id) -> AccountStatus:
        """Lift a suspension (the user logs in again); raises NotAdmin or UserNotFound."""
        async with self._store.transaction() as tx:
            admin = await self._admin(tx.conn, admin_id)
            uid = await self._require_user(tx.conn, user_id)
            await tx.conn.execute(sa.update(users).where(users.c.id == uid).values(suspended_at=None))
            row = await self._user_row(tx.conn, uid)
        log.info("account unsuspended", extra={"user_id": str(uid), "admin_id": str(admin)})
        return self._status(row)

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
