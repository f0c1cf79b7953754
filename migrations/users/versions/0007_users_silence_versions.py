"""users: a version per user of their blocks and mutes, bumped by the database itself.

``silence_versions`` holds, for every user a block or mute was ever made or lifted with, a number
that grows with each such change, either way round (the blocker's and the blocked's, the muter's
and the muted's). Triggers on ``blocks`` and ``mutes`` bump it in the transaction of the change,
so no writer (the graph, the importer, a hand-written fix) can forget it. A process may keep a
user's silences while their version is unchanged and still see a block on the very next read
(``modules/users/silences.py``). Downgrading drops the triggers and the table; nothing else
depends on them.

Revision ID: 0007_users_silence_versions
Revises: 0006_users_profile_images
Create Date: 2026-12-05 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0007_users_silence_versions"
down_revision: str | None = "0006_users_profile_images"
branch_labels = None
depends_on = None

#: The tables whose rows silence one user towards another, and their two users' columns.
_SILENCING = (("blocks", "blocker_id", "blocked_id"), ("mutes", "muter_id", "muted_id"))


def _bump(row: str, a: str, b: str, low: str, high: str) -> str:
    """The statement that bumps both users' versions of one row (``NEW`` or ``OLD``)."""
    # Lower id first: two changes on PostgreSQL take the two rows' locks in the same order.
    pair = f"{row}.{a}, {row}.{b}"
    return (
        "INSERT INTO silence_versions (user_id, version) "  # noqa: S608 (the names are this file's constants)
        f"VALUES ({low}({pair}), 1), ({high}({pair}), 1) "
        "ON CONFLICT (user_id) DO UPDATE SET version = silence_versions.version + 1"
    )


def upgrade() -> None:
    op.create_table(
        "silence_versions",
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        for table, a, b in _SILENCING:
            old, new = (_bump(row, a, b, "min", "max") for row in ("OLD", "NEW"))
            # An update (none is made today) is a change of the old pair and of the new one.
            for when, body in (("INSERT", f"{new};"), ("DELETE", f"{old};"), ("UPDATE", f"{old}; {new};")):
                op.execute(
                    f"CREATE TRIGGER {table}_{when.lower()}_bumps_silence_versions "
                    f"AFTER {when} ON {table} FOR EACH ROW BEGIN {body} END"
                )
        return
    for table, a, b in _SILENCING:
        old, new = (_bump(row, a, b, "LEAST", "GREATEST") for row in ("OLD", "NEW"))
        # SET search_path FROM CURRENT: the function finds silence_versions in the module's
        # schema (the migration's search_path) whatever the session that fires it has set.
        op.execute(
            f"CREATE FUNCTION {table}_bump_silence_versions() RETURNS trigger LANGUAGE plpgsql "
            "SET search_path FROM CURRENT AS $$ BEGIN "
            f"IF TG_OP IN ('DELETE', 'UPDATE') THEN {old}; END IF; "
            f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {new}; END IF; "
            "RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_bumps_silence_versions AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_bump_silence_versions()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, _, _ in _SILENCING:
            for when in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{when}_bumps_silence_versions")
    else:
        for table, _, _ in _SILENCING:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_bumps_silence_versions ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_bump_silence_versions()")
    op.drop_table("silence_versions")
