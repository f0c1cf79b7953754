"""The social graph: follows (with counts and events), blocks, mutes, and the bulk reads fan-out needs."""

from __future__ import annotations

from datetime import datetime

import msgspec
import sqlalchemy as sa

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import Id, parse_ids
from boundaries._kernel.pagination import MAX_PAGE_SIZE, Page, PageRequest
from boundaries.users.dto import IdPage, Profile, Relationship, Silencing, Standing
from boundaries.users.errors import Blocked, CannotFollowSelf, UserNotFound
from boundaries.users.events import UserFollowed, UserUnfollowed
from modules.users.common import (
    PROFILE_COLUMNS,
    USER_ID,
    event_meta,
    int_id,
    now,
    profile_of,
    require_user,
)
from modules.users.silences import Silences
from modules.users.tables import blocks, follows, mutes, silence_versions, users
from twitterclone.infra.cursor import decode_cursor, encode_cursor
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.sql import PerDialect, insert_or_ignore
from twitterclone.infra.store import HotRead, HotWrite, ModuleStore, Reader, Transaction

#: The most accounts one user may follow (bounds following_ids and home timeline assembly).
FOLLOW_CAP = 5000
#: The most ids follower_ids hands out per call, and the most users one silencing call asks about.
MAX_ID_PAGE = 5000

#: Hot read, built once (a statement built per call costs more than running it on SQLite).
_POPULAR_FOLLOWING = HotRead(
    sa.select(follows.c.followee_id)
    .select_from(follows.join(users, users.c.id == follows.c.followee_id))
    .where(
        follows.c.follower_id == sa.bindparam("uid"),
        users.c.followers_count >= sa.bindparam("min_followers"),
    )
)
#: A page of an author's follower ids (``limit`` of them, in id order), for fan-out: the first
#: page, and the one after a follower id (the cursor). Each post's fan-out reads one.
_FOLLOWER_IDS = HotRead(
    sa.select(follows.c.follower_id)
    .where(follows.c.followee_id == sa.bindparam("uid"))
    .order_by(follows.c.follower_id)
    .limit(sa.bindparam("limit", type_=sa.Integer()))
)
_FOLLOWER_IDS_AFTER = HotRead(
    sa.select(follows.c.follower_id)
    .where(follows.c.followee_id == sa.bindparam("uid"), follows.c.follower_id > sa.bindparam("after"))
    .order_by(follows.c.follower_id)
    .limit(sa.bindparam("limit", type_=sa.Integer()))
)
#: For one actor and many users (``ids``): (user id, the user blocks the actor, mutes the actor,
#: the actor blocks the user), for the ids that are users.
_SILENCING = HotRead(
    sa.select(
        users.c.id,
        sa.exists().where(blocks.c.blocker_id == users.c.id, blocks.c.blocked_id == sa.bindparam("actor")),
        sa.exists().where(mutes.c.muter_id == users.c.id, mutes.c.muted_id == sa.bindparam("actor")),
        sa.exists().where(blocks.c.blocker_id == sa.bindparam("actor"), blocks.c.blocked_id == users.c.id),
    ).where(users.c.id.in_(sa.bindparam("ids", expanding=True)))
)
#: The viewer's silence version (kind 0; no row: version 0) and which of many users they follow
#: (kind 1, their ids): a page that asks about both (a user timeline of someone else) reads them
#: in one statement instead of two.
_VERSION_AND_FOLLOWING = HotRead(
    sa.union_all(
        sa.select(sa.literal(0), silence_versions.c.version).where(
            silence_versions.c.user_id == sa.bindparam("viewer")
        ),
        sa.select(sa.literal(1), follows.c.followee_id).where(
            follows.c.follower_id == sa.bindparam("viewer"),
            follows.c.followee_id.in_(sa.bindparam("ids", expanding=True)),
        ),
    )
)
#: Which of many users a viewer follows (kind 0).
_FOLLOWING_AMONG = HotRead(
    sa.select(follows.c.followee_id, sa.literal(0)).where(
        follows.c.follower_id == sa.bindparam("viewer"),
        follows.c.followee_id.in_(sa.bindparam("ids", expanding=True)),
    )
)
#: Two users' rows (id, following count), lower id first, locked for a change (see ``_lock_pair``).
_PAIR_FOR_UPDATE = HotRead(
    sa.select(users.c.id, users.c.following_count)
    .where(users.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(users.c.id)
    .with_for_update()  # PostgreSQL; SQLite has no row locks (its one writer orders the writes)
)
#: A follow's counter changes, built once: {"user": id, "delta": ±1} (``HotWrite``: on SQLite
#: straight through the driver, as every follow and unfollow runs both).
_ADD_FOLLOWING = HotWrite(
    sa.update(users)
    .where(users.c.id == sa.bindparam("user"))
    .values(following_count=users.c.following_count + sa.bindparam("delta", type_=sa.Integer())),
    ("user", "delta"),
)
_ADD_FOLLOWERS = HotWrite(
    sa.update(users)
    .where(users.c.id == sa.bindparam("user"))
    .values(followers_count=users.c.followers_count + sa.bindparam("delta", type_=sa.Integer()))
    .returning(users.c.followers_count),
    ("user", "delta"),
)
#: A follow's row (none when it is there already), built once per dialect.
_INSERT_FOLLOW = PerDialect(
    lambda dialect: HotWrite(insert_or_ignore(dialect, follows), ("follower_id", "followee_id", "created_at"))
)
#: The kinds of standing by number: 0 following (below), and the silences' kinds (``silences.py``).
_STANDING_FLAGS = ("following", "blocking", "blocked_by", "muting")


def _either_way(kind: int, subject: sa.Column[int], obj: sa.Column[int]) -> sa.Select[int, int]:
    """(``kind``, subject) of an a→b and a b→a edge of one table (follows, blocks), as far as
    they exist; run with ``{"a": …, "b": …}``."""
    a: sa.BindParameter[int] = sa.bindparam("a")
    b: sa.BindParameter[int] = sa.bindparam("b")
    return sa.select(sa.literal(kind), subject).where(
        sa.or_(sa.and_(subject == a, obj == b), sa.and_(subject == b, obj == a))
    )


#: What ``Graph._relationship`` reads, built once and run as one statement: every follow,
#: unfollow, block and mute runs it. Rows (kind, subject): 0 a follow (by the subject),
#: 1 a block (by the subject), 2 a muting of b by a.
_RELATIONSHIP = HotRead(
    sa.union_all(
        _either_way(0, follows.c.follower_id, follows.c.followee_id),
        _either_way(1, blocks.c.blocker_id, blocks.c.blocked_id),
        sa.select(sa.literal(2), mutes.c.muter_id).where(
            mutes.c.muter_id == sa.bindparam("a"), mutes.c.muted_id == sa.bindparam("b")
        ),
    )
)


class Graph:
    """Who follows, blocks and mutes whom; keeps the follower counts on the users rows."""

    def __init__(self, store: ModuleStore, ids: IdGenerator) -> None:
        self._store = store
        self._ids = ids
        #: The viewers' blocks and mutes, kept while their silence version stands.
        self._silences = Silences(store)

    async def _relationship(self, tx: Transaction | None, a: int, b: int) -> Relationship:
        """How ``a`` stands to ``b``: read in ``tx``, or outside any transaction when None."""
        pair = {"a": a, "b": b}
        rows = await (
            tx.fetch(_RELATIONSHIP, pair) if tx is not None else self._store.fetch(_RELATIONSHIP, pair)
        )
        found = {(int(kind), int(subject)) for kind, subject in rows}
        return Relationship(
            user_id=str(a),
            target_id=str(b),
            following=(0, a) in found,
            followed_by=(0, b) in found,
            blocking=(1, a) in found,
            blocked_by=(1, b) in found,
            muting=(2, a) in found,
        )

    async def _pair_ids(self, conn: Reader, user_id: Id, target_id: Id) -> tuple[int, int]:
        a = await require_user(conn, user_id)
        b = await require_user(conn, target_id)
        return a, b

    async def _lock_pair(self, tx: Transaction, user_id: Id, target_id: Id) -> tuple[int, int, int]:
        """Both users' ids and the first one's following count, their rows taken lower id first
        before their counters change; raises UserNotFound. One statement: a follow's lookups.

        A follow (unfollow, block) changes two rows; A following B while B follows A would
        otherwise each hold the row the other wants next: a deadlock on PostgreSQL. (SQLite
        has one writer at a time and no row locks: the clause is left out there.)
        """
        a, b = int_id(user_id), int_id(target_id)
        if a is None or b is None:
            raise UserNotFound("no such user", field="user_id")
        rows = await tx.fetch(_PAIR_FOR_UPDATE, {"ids": [a, b]})
        following = {int(uid): int(count) for uid, count in rows}
        if a not in following or b not in following:
            raise UserNotFound("no such user", field="user_id")
        return a, b, following[a]

    async def _add_followers(self, tx: Transaction, user_id: int, delta: int) -> int:
        """Change a user's follower count by ``delta``; the count after (the follow events carry it)."""
        result = await tx.write(_ADD_FOLLOWERS, {"user": user_id, "delta": delta})
        [(followers,)] = result.rows
        return int(followers)

    async def _remove_follow(self, tx: Transaction, follower: int, followee: int) -> bool:
        result = await tx.conn.execute(
            sa.delete(follows).where(follows.c.follower_id == follower, follows.c.followee_id == followee)
        )
        if result.rowcount != 1:
            return False
        await tx.write(_ADD_FOLLOWING, {"user": follower, "delta": -1})
        followers = await self._add_followers(tx, followee, -1)
        await tx.emit(
            UserUnfollowed(
                **event_meta(self._ids),
                follower_id=str(follower),
                followee_id=str(followee),
                followee_followers=followers,
            )
        )
        return True

    # ------------------------------------------------------------------- changes

    async def follow(self, follower_id: Id, followee_id: Id) -> Relationship:
        """Follow someone; idempotent. Raises CannotFollowSelf, UserNotFound or Blocked."""
        if follower_id == followee_id:
            raise CannotFollowSelf("you cannot follow yourself", field="user_id")
        async with self._store.transaction() as tx:
            a, b, count = await self._lock_pair(tx, follower_id, followee_id)
            rel = await self._relationship(tx, a, b)
            if rel.blocking or rel.blocked_by:
                raise Blocked("one of you blocks the other", field="user_id")
            if rel.following:
                return rel
            if count >= FOLLOW_CAP:
                raise InvalidInput(f"you already follow the most accounts allowed ({FOLLOW_CAP})")
            row = {"follower_id": a, "followee_id": b, "created_at": now()}
            inserted = await tx.write(_INSERT_FOLLOW(tx.conn), row)
            if inserted.rowcount == 1:
                await tx.write(_ADD_FOLLOWING, {"user": a, "delta": 1})
                followers = await self._add_followers(tx, b, +1)
                await tx.emit(
                    UserFollowed(
                        **event_meta(self._ids),
                        follower_id=str(a),
                        followee_id=str(b),
                        followee_followers=followers,
                    )
                )
            return msgspec.structs.replace(rel, following=True)

    async def unfollow(self, follower_id: Id, followee_id: Id) -> Relationship:
        """Stop following someone; idempotent."""
        if follower_id == followee_id:
            raise CannotFollowSelf("you cannot unfollow yourself", field="user_id")
        async with self._store.transaction() as tx:
            a, b, _ = await self._lock_pair(tx, follower_id, followee_id)
            await self._remove_follow(tx, a, b)
            return await self._relationship(tx, a, b)

    async def block(self, user_id: Id, target_id: Id) -> Relationship:
        """Block someone (and end follows both ways); idempotent."""
        if user_id == target_id:
            raise InvalidInput("you cannot block yourself", field="user_id")
        async with self._store.transaction() as tx:
            a, b, _ = await self._lock_pair(tx, user_id, target_id)
            await tx.conn.execute(
                insert_or_ignore(tx.conn, blocks).values(blocker_id=a, blocked_id=b, created_at=now())
            )
            await self._remove_follow(tx, a, b)
            await self._remove_follow(tx, b, a)
            return await self._relationship(tx, a, b)

    async def unblock(self, user_id: Id, target_id: Id) -> Relationship:
        """Lift a block; idempotent."""
        async with self._store.transaction() as tx:
            a, b = await self._pair_ids(tx.conn, user_id, target_id)
            await tx.conn.execute(sa.delete(blocks).where(blocks.c.blocker_id == a, blocks.c.blocked_id == b))
            return await self._relationship(tx, a, b)

    async def mute(self, user_id: Id, target_id: Id) -> Relationship:
        """Mute someone; idempotent."""
        if user_id == target_id:
            raise InvalidInput("you cannot mute yourself", field="user_id")
        async with self._store.transaction() as tx:
            a, b = await self._pair_ids(tx.conn, user_id, target_id)
            await tx.conn.execute(
                insert_or_ignore(tx.conn, mutes).values(muter_id=a, muted_id=b, created_at=now())
            )
            return await self._relationship(tx, a, b)

    async def unmute(self, user_id: Id, target_id: Id) -> Relationship:
        """Lift a mute; idempotent."""
        async with self._store.transaction() as tx:
            a, b = await self._pair_ids(tx.conn, user_id, target_id)
            await tx.conn.execute(sa.delete(mutes).where(mutes.c.muter_id == a, mutes.c.muted_id == b))
            return await self._relationship(tx, a, b)

    # --------------------------------------------------------------------- reads

    async def relationship(self, user_id: Id, target_id: Id) -> Relationship:
        """How ``user_id`` stands to ``target_id``."""
        async with self._store.read() as conn:
            a, b = await self._pair_ids(conn, user_id, target_id)
        return await self._relationship(None, a, b)

    async def silencing(self, actor_id: Id, user_ids: list[Id]) -> list[Silencing]:
        """For one actor and many users, whether each user blocks or mutes the actor.

        In the order asked; ids that are no user are left out; an unknown actor raises
        UserNotFound. Two statements, each built once, however many users are asked about.
        """
        if len(user_ids) > MAX_ID_PAGE:
            raise InvalidInput(f"ask about at most {MAX_ID_PAGE} users at once", field="user_ids")
        wanted = [i for i in (int_id(u) for u in user_ids) if i is not None]
        actor = int_id(actor_id)
        if actor is None or not await self._store.fetch(USER_ID, {"uid": actor}):
            raise UserNotFound("no such user", field="user_id")
        if not wanted:
            return []
        rows = await self._store.fetch(_SILENCING, {"actor": actor, "ids": list(set(wanted))})
        by_id = {r[0]: r for r in rows}
        return [
            Silencing(
                user_id=str(i),
                actor_id=str(actor),
                blocking=bool(by_id[i][1]),
                muting=bool(by_id[i][2]),
                blocked=bool(by_id[i][3]),
            )
            for i in wanted
            if i in by_id
        ]

    async def standings(self, viewer_id: Id, user_ids: list[Id], follow_ids: list[Id]) -> list[Standing]:
        """How one viewer stands to users: blocks either way and mutes with ``user_ids``, follows
        of ``follow_ids``; only users in some relation, first asked first.

        The silences come from the viewer's kept list while their silence version is unchanged
        (``silences.py``: one primary-key read, fresh in every process); the follows from one
        statement, only when some are asked (the same statement as the silence version when both
        are: a user timeline of someone else). The hot path of every page a signed-in viewer
        reads. An unknown viewer or user simply stands in no relation.
        """
        if len(user_ids) > MAX_ID_PAGE or len(follow_ids) > MAX_ID_PAGE:
            raise InvalidInput(f"ask about at most {MAX_ID_PAGE} users at once", field="user_ids")
        viewer = int_id(viewer_id)
        if viewer is None:
            return []
        flags: dict[int, dict[str, bool]] = {}
        silenced = [i for i in parse_ids(user_ids) if i != viewer]
        followed = [i for i in parse_ids(follow_ids) if i != viewer]
        following: list[int] = []
        version: int | None = None
        if silenced and followed:
            version = 0
            for kind, value in await self._store.fetch(
                _VERSION_AND_FOLLOWING, {"viewer": viewer, "ids": followed}
            ):
                if kind == 0:
                    version = value
                else:
                    following.append(value)
        elif followed:
            following = [
                u for u, _ in await self._store.fetch(_FOLLOWING_AMONG, {"viewer": viewer, "ids": followed})
            ]
        if silenced:
            for user, kinds in (await self._silences.among(viewer, silenced, version=version)).items():
                flags[user] = {name: True for kind, name in enumerate(_STANDING_FLAGS) if kinds >> kind & 1}
        for user in following:
            flags.setdefault(int(user), {})["following"] = True
        if not flags:
            return []
        asked_first = parse_ids((*user_ids, *follow_ids))
        return [Standing(user_id=str(i), **flags[i]) for i in asked_first if i in flags]

    async def _follow_page(self, user_id: Id, page: PageRequest, *, followers: bool) -> Page[Profile]:
        limit = max(1, min(page.limit, MAX_PAGE_SIZE))
        anchor, other = (
            (follows.c.followee_id, follows.c.follower_id)
            if followers
            else (follows.c.follower_id, follows.c.followee_id)
        )
        async with self._store.read() as conn:
            uid = await require_user(conn, user_id)
            query = (
                sa.select(*PROFILE_COLUMNS, follows.c.created_at.label("followed_at"))
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
        cursor = encode_cursor((rows[-1].followed_at.isoformat(), rows[-1].id)) if more and rows else None
        return Page(items=[profile_of(r) for r in rows], next_cursor=cursor)

    async def followers(self, user_id: Id, page: PageRequest) -> Page[Profile]:
        """Who follows a user, most recent first."""
        return await self._follow_page(user_id, page, followers=True)

    async def following(self, user_id: Id, page: PageRequest) -> Page[Profile]:
        """Whom a user follows, most recent first."""
        return await self._follow_page(user_id, page, followers=False)

    async def follower_ids(self, user_id: Id, cursor: str | None, limit: int) -> IdPage:
        """Follower ids in bulk (up to 5000 a call), for fan-out."""
        limit = max(1, min(int(limit), MAX_ID_PAGE))
        uid = int_id(user_id)
        if uid is None:
            return IdPage(ids=[])
        if cursor:
            params = {"uid": uid, "after": decode_cursor(cursor, int), "limit": limit + 1}
            rows = await self._store.fetch(_FOLLOWER_IDS_AFTER, params)
        else:
            rows = await self._store.fetch(_FOLLOWER_IDS, {"uid": uid, "limit": limit + 1})
        ids = [int(r[0]) for r in rows]
        more = len(ids) > limit
        ids = ids[:limit]
        return IdPage(ids=[str(i) for i in ids], next_cursor=encode_cursor(ids[-1]) if more and ids else None)

    async def following_ids(self, user_id: Id) -> list[Id]:
        """Every id a user follows (bounded by the follow cap), for timeline assembly."""
        uid = int_id(user_id)
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
        uid = int_id(user_id)
        if uid is None:
            return []
        rows = await self._store.fetch(_POPULAR_FOLLOWING, {"uid": uid, "min_followers": min_followers})
        return [str(r[0]) for r in rows]
