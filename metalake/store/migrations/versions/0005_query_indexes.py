"""query indexes: metadata and tag lookups that carry the item id, annotations by label and by
operation, live items by upload date and by name

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

LIVE = sa.text("trashed_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_item_metadata_key_text", table_name="item_metadata")
    op.drop_index("ix_item_metadata_key_num", table_name="item_metadata")
    op.drop_index("ix_item_tags_tag", table_name="item_tags")
    op.create_index("ix_item_metadata_key_text", "item_metadata", ["key", "value_text", "item_id"])
    op.create_index("ix_item_metadata_key_num", "item_metadata", ["key", "value_num", "item_id"])
    op.create_index("ix_item_tags_tag", "item_tags", ["tag", "item_id"])
    op.create_index(
        "ix_annotations_label_item", "annotations", ["label_id", "item_id", "confidence"]
    )
    op.create_index("ix_annotations_operation_item", "annotations", ["operation_id", "item_id"])
    for name, columns in (
        ("ix_items_live_type_created", ["created", "id", "modified"]),
        ("ix_items_live_type_name", ["file_name", "id"]),
    ):
        op.create_index(
            name,
            "items",
            ["content_type", *columns],
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        )


def downgrade() -> None:
    op.drop_index("ix_items_live_type_name", table_name="items")
    op.drop_index("ix_items_live_type_created", table_name="items")
    op.drop_index("ix_annotations_operation_item", table_name="annotations")
    op.drop_index("ix_annotations_label_item", table_name="annotations")
    op.drop_index("ix_item_tags_tag", table_name="item_tags")
    op.drop_index("ix_item_metadata_key_num", table_name="item_metadata")
    op.drop_index("ix_item_metadata_key_text", table_name="item_metadata")
    op.create_index("ix_item_tags_tag", "item_tags", ["tag"])
    op.create_index("ix_item_metadata_key_num", "item_metadata", ["key", "value_num"])
    op.create_index("ix_item_metadata_key_text", "item_metadata", ["key", "value_text"])
