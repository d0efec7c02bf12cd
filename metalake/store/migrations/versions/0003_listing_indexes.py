"""listing indexes: live items in page order, by type and by collection

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:25:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LIVE = sa.text("trashed_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_items_type_modified", table_name="items")
    for name, first in (
        ("ix_items_live_type_order", "content_type"),
        ("ix_items_live_collection_order", "collection_id"),
    ):
        op.create_index(
            name,
            "items",
            [first, "modified", "id"],
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        )


def downgrade() -> None:
    op.drop_index("ix_items_live_collection_order", table_name="items")
    op.drop_index("ix_items_live_type_order", table_name="items")
    op.create_index("ix_items_type_modified", "items", ["content_type", "modified"])
