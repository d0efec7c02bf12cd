"""collections.trashed_at: a collection moved to the trash whole, removed when it is emptied

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("collections", sa.Column("trashed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("trashed_at")
