"""Writing custom metadata and tags onto items, in bulk and with bound parameters only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from metalake.lake.clock import utcnow
from metalake.lake.metadata import MetadataChange, text_and_number
from metalake.store.schema import item_metadata, item_tags, items
from metalake.store.upsert import insert_ignore, upsert


def metadata_rows(item_id: str, change: MetadataChange) -> list[dict[str, Any]]:
    """The `item_metadata` rows that set `change.fields` on one item."""
    rows = []
    for key, value in change.fields.items():
        text, number = text_and_number(value)
        rows.append(
            {
                "item_id": item_id,
                "key": key,
                "value": value,
                "value_text": text,
                "value_num": number,
            }
        )
    return rows


def tag_rows(item_id: str, change: MetadataChange) -> list[dict[str, Any]]:
    return [{"item_id": item_id, "tag": tag} for tag in change.tags]


def apply_change(conn: Connection, item_ids: sa.Select, change: MetadataChange) -> None:
    """Set the change's fields and add its tags on every item `item_ids` selects."""
    if change.is_empty():
        return
    ids = item_ids.subquery()
    for key, value in change.fields.items():
        text, number = text_and_number(value)
        rows = sa.select(
            ids.c.id.label("item_id"),
            sa.literal(key, sa.String).label("key"),
            sa.literal(value, sa.JSON).label("value"),
            sa.literal(text, sa.Text).label("value_text"),
            sa.literal(number, sa.Float).label("value_num"),
        )
        upsert(conn, item_metadata, rows, keys=("item_id", "key"))
    for tag in change.tags:
        rows = sa.select(ids.c.id.label("item_id"), sa.literal(tag, sa.String).label("tag"))
        insert_ignore(conn, item_tags, rows)
    conn.execute(
        items.update().where(items.c.id.in_(sa.select(ids.c.id))).values(modified=utcnow())
    )


def apply_changes(conn: Connection, changes: Iterable[tuple[str, MetadataChange]]) -> None:
    """Apply a different change to each item id, as a few batched statements."""
    meta: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    touched = []
    for item_id, change in changes:
        meta.extend(metadata_rows(item_id, change))
        tags.extend(tag_rows(item_id, change))
        touched.append(item_id)
    upsert(conn, item_metadata, meta, keys=("item_id", "key"))
    insert_ignore(conn, item_tags, tags)
    for start in range(0, len(touched), 500):
        batch = touched[start : start + 500]
        conn.execute(items.update().where(items.c.id.in_(batch)).values(modified=utcnow()))
