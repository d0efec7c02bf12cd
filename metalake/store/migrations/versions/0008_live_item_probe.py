"""live item probe: a covering index to check that a matched item id is live and of a type

A query finds item ids in a side table's index, then checks each against `items` (not trashed, of
the asked content type) and, for a page, reads its change time. This partial index answers that
from the index alone instead of reading every matched item's row.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 11:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

LIVE = sa.text("trashed_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_items_live_id",
        "items",
        ["id", "content_type", "modified"],
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_items_live_id", table_name="items")
