"""web sessions, one-time login links, a trash index, and the lake's identity

A session row maps the hash of its cookie to the API key it was opened with, so revoking the key
ends the session on the next request; a login link is a hash too, used at most once. The web
app's trash view lists trashed items newest first, from a partial index on `trashed_at`.
`lake_info` holds a random `lake_id` made with the database, which names the folder of term
bitmaps saved beside the lake: a database made again never reads another's bitmaps.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 20:10:00.000000
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    info = op.create_table(
        "lake_info",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("value", sa.String(length=255), nullable=False),
    )
    op.bulk_insert(info, [{"name": "lake_id", "value": uuid.uuid4().hex}])
    trashed = sa.text("trashed_at IS NOT NULL")
    op.create_index(
        "ix_items_trashed",
        "items",
        ["trashed_at", "id"],
        sqlite_where=trashed,
        postgresql_where=trashed,
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("expires", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_web_sessions_expires", "web_sessions", ["expires"])
    op.create_table(
        "login_links",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("expires", TIMESTAMP, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lake_info")
    op.drop_index("ix_items_trashed", table_name="items")
    op.drop_table("login_links")
    op.drop_index("ix_web_sessions_expires", table_name="web_sessions")
    op.drop_table("web_sessions")
