"""selections: snapshots of the items a selection picked, for calls that act on them later

The LayerNext protocol names a selection by an id (`getSelectionId`) and acts on it in a second
call (`file/trash`); the snapshot makes that second call act on what the first one counted.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "selections",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("selection", sa.JSON, nullable=False),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_selections_created", "selections", ["created"])
    op.create_table(
        "selection_items",
        sa.Column("selection_id", sa.String(24), sa.ForeignKey("selections.id"), primary_key=True),
        sa.Column("item_id", sa.String(24), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("selection_items")
    op.drop_index("ix_selections_created", table_name="selections")
    op.drop_table("selections")
