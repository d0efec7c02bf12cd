"""server: API keys, resumable upload sessions, known hashes of staged job files

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:05:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(length=24)
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False, unique=True),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
    )
    op.create_table(
        "upload_sessions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("owner_key", sa.String(length=64), nullable=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("part_size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("job_id", ID, nullable=True),
        sa.Column("created", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_upload_sessions_fingerprint", "upload_sessions", ["fingerprint", "status"])
    op.create_table(
        "upload_files",
        sa.Column("session_id", ID, sa.ForeignKey("upload_sessions.id"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("file_name", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("multipart_id", sa.String(length=1024), nullable=True),
    )
    op.create_table(
        "upload_parts",
        sa.Column("session_id", ID, primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("part", sa.Integer(), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
    )
    with op.batch_alter_table("job_files") as batch:
        batch.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_files") as batch:
        batch.drop_column("sha256")
    op.drop_table("upload_parts")
    op.drop_table("upload_files")
    op.drop_index("ix_upload_sessions_fingerprint", table_name="upload_sessions")
    op.drop_table("upload_sessions")
    op.drop_table("api_keys")
