"""users: handle skeletons (look-alike handles) and the access tokens issued to OAuth clients.

Adds ``users.handle_skeleton``, fills it for every existing account, and makes it unique. Where
existing handles already share a skeleton (both registered before this rule), the oldest
account (lowest Snowflake id) keeps it and the others get NULL: nobody loses a handle, and no
new look-alike of any of them can register. The number of such accounts is logged.

Adds ``oauth_access_tokens`` (jti, client, expiry of every access token issued to an OAuth
client from now on), so that deleting a client can deny its tokens at once.

The fold is copied here, not imported: a migration must keep doing what it did when it was
written. ``tests/unit/users/test_handle_skeleton.py`` checks it equals
``modules.users.handles.handle_skeleton``; a change to that table needs a new migration that
recomputes the column.

Downgrading drops the column and the table; no data a user gave is lost.

Revision ID: 0003_users_handle_skeleton
Revises: 0002_users_oauth_moderation
Create Date: 2025-01-03 00:00:00

"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_users_handle_skeleton"
down_revision: str | None = "0002_users_oauth_moderation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

#: The confusable fold as of this revision (see modules/users/handles.py for the reasons).
CONFUSABLES = {"0": "o", "1": "l", "i": "l", "m": "rn", "w": "vv", "d": "cl"}
_FOLD = str.maketrans(CONFUSABLES)
#: Rows read and written per round trip while filling the column.
BATCH = 5000


def skeleton(handle: str) -> str:
    return handle.lower().translate(_FOLD)


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.add_column("users", sa.Column("handle_skeleton", sa.String(30), nullable=True))

    conn = op.get_bind()
    accounts = sa.table(
        "users",
        sa.column("id", sa.BigInteger()),
        sa.column("handle", sa.String()),
        sa.column("handle_skeleton", sa.String()),
    )
    fill = (
        sa.update(accounts)
        .where(accounts.c.id == sa.bindparam("account_id"))
        .values(handle_skeleton=sa.bindparam("skeleton"))
    )
    after = -(2**63)
    while True:  # keyset pages by id: bounded memory whatever the number of accounts
        rows = conn.execute(
            sa.select(accounts.c.id, accounts.c.handle)
            .where(accounts.c.id > after)
            .order_by(accounts.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        conn.execute(fill, [{"account_id": r.id, "skeleton": skeleton(r.handle)} for r in rows])
        after = rows[-1].id

    # Look-alikes registered before the rule: the oldest account of each skeleton keeps it.
    keepers = (
        sa.select(sa.func.min(accounts.c.id))
        .where(accounts.c.handle_skeleton.is_not(None))
        .group_by(accounts.c.handle_skeleton)
    )
    cleared = conn.execute(
        sa.update(accounts)
        .where(accounts.c.handle_skeleton.is_not(None), accounts.c.id.not_in(keepers))
        .values(handle_skeleton=None)
    ).rowcount
    if cleared:
        log.warning(
            "%d account(s) share a handle skeleton with an older account; they keep their handles", cleared
        )
    op.create_index("ux_users_handle_skeleton", "users", ["handle_skeleton"], unique=True)

    op.create_table(
        "oauth_access_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("expires_at", ts, nullable=False),
    )
    op.create_index("ix_oauth_access_tokens_client", "oauth_access_tokens", ["client_id"])
    op.create_index("ix_oauth_access_tokens_expires", "oauth_access_tokens", ["expires_at"])


def downgrade() -> None:
    """Drops the skeletons and the record of client access tokens; no account data is lost."""
    op.drop_table("oauth_access_tokens")
    op.drop_index("ux_users_handle_skeleton", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("handle_skeleton")
