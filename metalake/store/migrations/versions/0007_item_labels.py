"""item labels: per-file annotation counts by label, for count(...) terms

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 11:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.String(24)
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "item_labels",
        sa.Column("item_id", ID, sa.ForeignKey("items.id"), primary_key=True),
        sa.Column(
            "label_id", SERIAL, sa.ForeignKey("labels.id"), primary_key=True, autoincrement=False
        ),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index("ix_item_labels_label_count", "item_labels", ["label_id", "count", "item_id"])
    op.execute(
        "INSERT INTO item_labels (item_id, label_id, count) "
        "SELECT item_id, label_id, COUNT(*) FROM annotations GROUP BY item_id, label_id"
    )


def downgrade() -> None:
    op.drop_index("ix_item_labels_label_count", table_name="item_labels")
    op.drop_table("item_labels")
