"""``UsersPort.import_accounts``: accounts and follows in bulk, one transaction per call.

Registering and following one by one costs a password hash per account and a transaction per
follow; an import of 100,000 followers (the fan-out benchmark's population, or a migration) takes
one multi-row insert per table instead, and emits the same events as ``register`` and ``follow``,
in the same transaction as the rows. The rules are those of ``register`` and ``follow``: the
field constraints of the boundary's DTOs, unique handles (ignoring case and look-alikes) and
emails, existing accounts, no self-follow, no follow across a block, the follow cap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from boundaries._kernel.errors import InvalidInput
from boundaries._kernel.ids import is_id
from boundaries.users.dto import MAX_IMPORT, AccountImport, ImportResult
from boundaries.users.errors import (
    Blocked,
    CannotFollowSelf,
    EmailTaken,
    HandleTaken,
    HandleTooSimilar,
    UserNotFound,
)
from boundaries.users.events import UserFollowed, UserRegistered
from modules.users.handles import handle_skeleton, normalise_handle
from modules.users.tables import blocks, follows, users
from twitterclone.infra.ids import IdGenerator
from twitterclone.infra.store import ModuleStore, Reader, Transaction

#: What an imported account has instead of an argon2 hash: no password ever verifies against it.
UNUSABLE_HASH = "!imported"
#: Values per ``IN (...)`` list (SQLite binds at most 32,766 parameters per statement).
IN_CHUNK = 500


def _chunks(values: list[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


async def _rows_where_in(
    conn: Reader, columns: Iterable[sa.ColumnElement[Any]], column: sa.Column[Any], values: list[Any]
) -> list[Any]:
    """The rows whose ``column`` is one of ``values``, asked for a chunk at a time."""
    out: list[Any] = []
    for chunk in _chunks(values):
        out.extend((await conn.execute(sa.select(*columns).where(column.in_(chunk)))).all())
    return out


class AccountImporter:
    """Creates accounts and follows in bulk for ``UsersService``."""

    def __init__(
        self,
        store: ModuleStore,
        ids: IdGenerator,
        *,
        follow_cap: int,
        normalise_email: Callable[[str], str],
    ) -> None:
        self._store = store
        self._ids = ids
        self._follow_cap = follow_cap
        self._normalise_email = normalise_email

    async def import_accounts(self, batch: AccountImport) -> ImportResult:
        """Validate everything, then write accounts, follows and their events in one transaction."""
        if len(batch.accounts) > MAX_IMPORT or len(batch.follows) > MAX_IMPORT:
            raise InvalidInput(f"an import takes at most {MAX_IMPORT} accounts and {MAX_IMPORT} follows")
        try:  # the DTOs' own constraints (handle pattern, lengths), also for an in-process caller
            batch = msgspec.convert(msgspec.to_builtins(batch), AccountImport)
        except msgspec.ValidationError as exc:
            raise InvalidInput(str(exc)) from exc
        accounts = self._account_rows(batch)
        pairs = self._follow_pairs(batch)
        async with self._store.transaction() as tx:
            if accounts:
                await self._check_free(tx.conn, accounts)
                await tx.conn.execute(users.insert(), accounts)
                await tx.emit(
                    *(
                        UserRegistered(
                            event_id=self._ids.next(),
                            occurred_at=row["created_at"],
                            user_id=str(row["id"]),
                            handle=row["handle"],
                            display_name=row["display_name"],
                        )
                        for row in accounts
                    )
                )
            added = await self._follow(tx, pairs) if pairs else 0
        return ImportResult(ids=[str(row["id"]) for row in accounts], follows_added=added)

    def _account_rows(self, batch: AccountImport) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        for account in batch.accounts:
            handle = normalise_handle(account.handle)
            rows.append(
                {
                    "id": self._ids.next_int(),
                    "handle": handle,
                    "handle_lower": handle.lower(),
                    "handle_skeleton": handle_skeleton(handle),
                    "email": self._normalise_email(account.email),
                    "password_hash": UNUSABLE_HASH,
                    "display_name": account.display_name.strip() or handle,
                    "bio": "",
                    "created_at": now,
                    "followers_count": 0,
                    "following_count": 0,
                }
            )
        for key, error in (
            ("handle_lower", HandleTaken("a handle appears twice in the import", field="handle")),
            ("handle_skeleton", HandleTooSimilar("two handles of the import look alike", field="handle")),
            ("email", EmailTaken("an email address appears twice in the import", field="email")),
        ):
            if len({row[key] for row in rows}) < len(rows):
                raise error
        return rows

    async def _check_free(self, conn: Reader, rows: list[dict[str, Any]]) -> None:
        """As ``register``: no handle taken (ignoring case), none looking like a taken one, no email taken."""
        for key, column, error in (
            ("handle_lower", users.c.handle_lower, HandleTaken("that handle is taken", field="handle")),
            (
                "handle_skeleton",
                users.c.handle_skeleton,
                HandleTooSimilar("that handle is too similar to an existing handle", field="handle"),
            ),
            ("email", users.c.email, EmailTaken("that email address already has an account", field="email")),
        ):
            if await _rows_where_in(conn, [column], column, [row[key] for row in rows]):
                raise error

    @staticmethod
    def _follow_pairs(batch: AccountImport) -> list[tuple[int, int]]:
        pairs: dict[tuple[int, int], None] = {}
        for follow in batch.follows:
            if not (is_id(follow.follower_id) and is_id(follow.followee_id)):
                raise UserNotFound("no such user", field="user_id")
            if follow.follower_id == follow.followee_id:
                raise CannotFollowSelf("you cannot follow yourself", field="user_id")
            pairs[(int(follow.follower_id), int(follow.followee_id))] = None
        return list(pairs)

    async def _follow(self, tx: Transaction, pairs: list[tuple[int, int]]) -> int:
        """Add the follows not already there; raise before writing any if one breaks a rule."""
        involved = sorted({uid for pair in pairs for uid in pair})
        rows = await _rows_where_in(
            tx.conn, [users.c.id, users.c.following_count, users.c.followers_count], users.c.id, involved
        )
        following = {row.id: row.following_count for row in rows}
        followers = {row.id: row.followers_count for row in rows}
        if len(following) < len(involved):
            raise UserNotFound("no such user", field="user_id")
        wanted = set(pairs)
        blocked = {
            (row.blocker_id, row.blocked_id)
            for row in await _rows_where_in(
                tx.conn, [blocks.c.blocker_id, blocks.c.blocked_id], blocks.c.blocker_id, involved
            )
        }
        if any(pair in blocked or pair[::-1] in blocked for pair in wanted):
            raise Blocked("one of you blocks the other", field="user_id")
        existing = {
            (row.follower_id, row.followee_id)
            for row in await _rows_where_in(
                tx.conn,
                [follows.c.follower_id, follows.c.followee_id],
                follows.c.follower_id,
                sorted({a for a, _ in pairs}),
            )
        }
        new = [pair for pair in pairs if pair not in existing]
        if not new:
            return 0
        more_following = Counter(a for a, _ in new)
        more_followers = Counter(b for _, b in new)
        if any(following[a] + n > self._follow_cap for a, n in more_following.items()):
            raise InvalidInput(f"an account would follow more than the most allowed ({self._follow_cap})")
        now = datetime.now(UTC)
        await tx.conn.execute(
            follows.insert(), [{"follower_id": a, "followee_id": b, "created_at": now} for a, b in new]
        )
        await tx.conn.execute(
            sa.update(users)
            .where(users.c.id == sa.bindparam("b_id"))
            .values(
                following_count=users.c.following_count + sa.bindparam("b_following"),
                followers_count=users.c.followers_count + sa.bindparam("b_followers"),
            ),
            [
                {"b_id": uid, "b_following": more_following[uid], "b_followers": more_followers[uid]}
                for uid in sorted(set(more_following) | set(more_followers))
            ],
        )
        events = []
        for a, b in new:  # each event says the followee's count right after it, as follow's does
            followers[b] += 1
            events.append(
                UserFollowed(
                    event_id=self._ids.next(),
                    occurred_at=now,
                    follower_id=str(a),
                    followee_id=str(b),
                    followee_followers=followers[b],
                )
            )
        await tx.emit(*events)
        return len(new)
