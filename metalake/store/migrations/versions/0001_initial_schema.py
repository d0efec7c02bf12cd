"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 14:47:09.074188
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("content_type", sa.String(length=8), nullable=False),
        sa.Column("storage_name", sa.String(length=1024), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "content_type", name="uq_collections_name_type"),
        sa.UniqueConstraint("storage_name"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("collection_id", sa.String(length=24), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("heartbeat", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_status", ["status"], unique=False)

    op.create_table(
        "items",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("unique_name", sa.String(length=1024), nullable=False),
        sa.Column("file_name", sa.String(length=1024), nullable=False),
        sa.Column("content_type", sa.String(length=8), nullable=False),
        sa.Column("collection_id", sa.String(length=24), nullable=False),
        sa.Column("bucket", sa.String(length=255), nullable=False),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("mime", sa.String(length=255), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("frame_count", sa.Integer(), nullable=True),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("upload_job_id", sa.String(length=24), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trashed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bucket", "storage_key", name="uq_items_bucket_key"),
        sa.UniqueConstraint("unique_name"),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_items_collection_file", ["collection_id", "file_name"], unique=False
        )
        batch_op.create_index("ix_items_type_modified", ["content_type", "modified"], unique=False)

    op.create_table(
        "job_files",
        sa.Column("job_id", sa.String(length=24), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=1024), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("item_id", sa.String(length=24), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
        ),
        sa.PrimaryKeyConstraint("job_id", "seq"),
    )
    with op.batch_alter_table("job_files", schema=None) as batch_op:
        batch_op.create_index("ix_job_files_job_name", ["job_id", "file_name"], unique=False)
        batch_op.create_index("ix_job_files_job_state", ["job_id", "state"], unique=False)

    op.create_table(
        "collection_items",
        sa.Column("collection_id", sa.String(length=24), nullable=False),
        sa.Column("item_id", sa.String(length=24), nullable=False),
        sa.Column("added", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
        ),
        sa.PrimaryKeyConstraint("collection_id", "item_id"),
    )
    with op.batch_alter_table("collection_items", schema=None) as batch_op:
        batch_op.create_index("ix_collection_items_item", ["item_id"], unique=False)

    op.create_table(
        "item_metadata",
        sa.Column("item_id", sa.String(length=24), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
        ),
        sa.PrimaryKeyConstraint("item_id", "key"),
    )
    with op.batch_alter_table("item_metadata", schema=None) as batch_op:
        batch_op.create_index("ix_item_metadata_key_num", ["key", "value_num"], unique=False)
        batch_op.create_index("ix_item_metadata_key_text", ["key", "value_text"], unique=False)

    op.create_table(
        "item_tags",
        sa.Column("item_id", sa.String(length=24), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
        ),
        sa.PrimaryKeyConstraint("item_id", "tag"),
    )
    with op.batch_alter_table("item_tags", schema=None) as batch_op:
        batch_op.create_index("ix_item_tags_tag", ["tag"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("item_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_item_tags_tag")

    op.drop_table("item_tags")
    with op.batch_alter_table("item_metadata", schema=None) as batch_op:
        batch_op.drop_index("ix_item_metadata_key_text")
        batch_op.drop_index("ix_item_metadata_key_num")

    op.drop_table("item_metadata")
    with op.batch_alter_table("collection_items", schema=None) as batch_op:
        batch_op.drop_index("ix_collection_items_item")

    op.drop_table("collection_items")
    with op.batch_alter_table("job_files", schema=None) as batch_op:
        batch_op.drop_index("ix_job_files_job_state")
        batch_op.drop_index("ix_job_files_job_name")

    op.drop_table("job_files")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_type_modified")
        batch_op.drop_index("ix_items_collection_file")

    op.drop_table("items")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status")

    op.drop_table("jobs")
    op.drop_table("collections")
