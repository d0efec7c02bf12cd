"""request_results: the answers given to request ids, so that a retried call is answered again

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 14:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_results",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("answer", sa.JSON(none_as_null=True)),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_request_results_created", "request_results", ["created"])


def downgrade() -> None:
    op.drop_index("ix_request_results_created", table_name="request_results")
    op.drop_table("request_results")
