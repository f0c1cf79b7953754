"""The media module's tables: one row per upload, one row per stored rendition.

Ids are Snowflake integers (``BigInteger``) inside the module and decimal strings outside.
A media row being removed is first marked ``deleting`` (it is then invisible), its blobs are
deleted, and only then the row: a crash half-way is finished by the next attempt, and no blob
is ever left without a row that points at it.
"""

from __future__ import annotations

import sqlalchemy as sa

from twitterclone.infra.sql import UtcDateTime

metadata = sa.MetaData()

_ts = UtcDateTime()

media = sa.Table(
    "media",
    metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("owner_id", sa.BigInteger(), nullable=False),
    sa.Column("content_type", sa.String(32), nullable=False),
    sa.Column("width", sa.Integer(), nullable=False),
    sa.Column("height", sa.Integer(), nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    # The tweet the image is shown in; null until the TweetPosted event is consumed.
    sa.Column("attached_to", sa.BigInteger(), nullable=True),
    sa.Column("deleting", sa.Boolean(), nullable=False, server_default=sa.false()),
    # Alt text and focus point (migration 0003_media_content), set by the owner.
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("focus_x", sa.Float(), nullable=True),
    sa.Column("focus_y", sa.Float(), nullable=True),
    # "avatar" or "header" while the owner's profile shows the image: public, never swept.
    sa.Column("profile_role", sa.String(8), nullable=True),
    # The visibility of the tweet the image is shown in, from TweetPosted (migration
    # 0004_media_audience); null for an image attached before it was recorded.
    sa.Column("tweet_visibility", sa.String(8), nullable=True),
    sa.Index("ix_media_owner", "owner_id"),
    sa.Index("ix_media_owner_role", "owner_id", "profile_role"),
    # The sweep looks for old uploads that were never attached.
    sa.Index("ix_media_unattached", "attached_to", "created_at"),
)

media_variants = sa.Table(
    "media_variants",
    metadata,
    sa.Column("media_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(16), primary_key=True),
    sa.Column("blob_key", sa.String(128), nullable=False, unique=True),
    sa.Column("content_type", sa.String(32), nullable=False),
    sa.Column("width", sa.Integer(), nullable=False),
    sa.Column("height", sa.Integer(), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("etag", sa.String(80), nullable=False),
)
