"""an index of an upload session's files by name

The LayerNext routes find a session's file by its name once per file (initialize); without an
index each lookup read every file of the session, so an upload of N files did N^2 reads.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 06:00:00.000000
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_upload_files_session_name", "upload_files", ["session_id", "file_name"])


def downgrade() -> None:
    op.drop_index("ix_upload_files_session_name", table_name="upload_files")
