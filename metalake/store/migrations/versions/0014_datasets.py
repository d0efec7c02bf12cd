"""dataset versions: frozen copies of selected files and annotations, with splits

A version copies the facts of its files (storage key, size, hash, dimensions) and its annotations
at the moment it is made, so that later uploads, edits and the trash do not move it. Files are
found by (version, split, export name) for pages; the storage key index tells the trash and
replacing uploads which bytes a version still holds. Annotations are keyed (and on SQLite
stored, without a rowid) by version, file, operation and id: the order exports read them in.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 23:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
ID = sa.String(length=24)
NAME = sa.String(length=1024)
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPTIONAL_JSON = sa.JSON(none_as_null=True)


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", NAME, nullable=False, unique=True),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("modified", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("dataset_id", ID, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("selection", sa.JSON, nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_version"),
    )
    op.create_table(
        "dataset_files",
        sa.Column("version_id", ID, sa.ForeignKey("dataset_versions.id"), primary_key=True),
        sa.Column("item_id", ID, primary_key=True),
        sa.Column("split", sa.String(length=16), nullable=False),
        sa.Column("file", NAME, nullable=False),
        sa.Column("unique_name", NAME, nullable=False),
        sa.Column("storage_key", NAME, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("mime", sa.String(length=255), nullable=False),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
    )
    op.create_index("ix_dataset_files_split", "dataset_files", ["version_id", "split", "file"])
    op.create_index("ix_dataset_files_storage_key", "dataset_files", ["storage_key"])
    op.create_table(
        "dataset_annotations",
        sa.Column("version_id", ID, sa.ForeignKey("dataset_versions.id"), primary_key=True),
        sa.Column("item_id", ID, primary_key=True),
        sa.Column(
            "operation_id",
            SERIAL,
            sa.ForeignKey("operations.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("split", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("label_id", SERIAL, sa.ForeignKey("labels.id"), nullable=False),
        sa.Column("x", sa.Float, nullable=False),
        sa.Column("y", sa.Float, nullable=False),
        sa.Column("w", sa.Float, nullable=False),
        sa.Column("h", sa.Float, nullable=False),
        sa.Column("points", OPTIONAL_JSON),
        sa.Column("confidence", sa.Float),
        sa.Column("metadata", OPTIONAL_JSON),
        sa.Column("attributes", OPTIONAL_JSON),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("dataset_annotations")
    op.drop_index("ix_dataset_files_storage_key", table_name="dataset_files")
    op.drop_index("ix_dataset_files_split", table_name="dataset_files")
    op.drop_table("dataset_files")
    op.drop_table("dataset_versions")
    op.drop_table("datasets")
