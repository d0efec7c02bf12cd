"""annotations: labels, operations, one row per shape, and job payloads

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.String(length=24)
TIMESTAMP = sa.DateTime(timezone=True)
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPTIONAL_JSON = sa.JSON(none_as_null=True)


def upgrade() -> None:
    op.create_table(
        "job_payloads",
        sa.Column("job_id", ID, sa.ForeignKey("jobs.id"), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "labels",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(length=255), nullable=False, unique=True),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "operations",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(length=255), nullable=False, unique=True),
        sa.Column("is_model_run", sa.Boolean(), nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("modified", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "annotations",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("item_id", ID, sa.ForeignKey("items.id"), nullable=False),
        sa.Column("operation_id", SERIAL, sa.ForeignKey("operations.id"), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("label_id", SERIAL, sa.ForeignKey("labels.id"), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("w", sa.Float(), nullable=False),
        sa.Column("h", sa.Float(), nullable=False),
        sa.Column("points", OPTIONAL_JSON, nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("metadata", OPTIONAL_JSON, nullable=True),
        sa.Column("attributes", OPTIONAL_JSON, nullable=True),
    )
    op.create_index("ix_annotations_item_operation", "annotations", ["item_id", "operation_id"])


def downgrade() -> None:
    op.drop_table("annotations")
    op.drop_table("operations")
    op.drop_table("labels")
    op.drop_table("job_payloads")
