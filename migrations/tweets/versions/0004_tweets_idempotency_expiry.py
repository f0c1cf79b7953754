"""tweets: an index on ``idempotency_keys.created_at``, for the job that expires old keys.

Idempotency-Keys are remembered for a window (``TWITTERCLONE_TWEETS_IDEMPOTENCY_TTL_S``); the
tweets module's background job deletes older ones, oldest first, through this index.

Revision ID: tweets_0004_idempotency_expiry
Revises: 0003_tweets_inbox_age
Create Date: 2026-12-04 00:00:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "tweets_0004_idempotency_expiry"
down_revision: str | Sequence[str] | None = "0003_tweets_inbox_age"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
