"""Reading items back as the dicts the SDK returns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from metalake.errors import InvalidArgumentError, ItemNotFoundError
from metalake.lake.clock import iso
from metalake.store.json_values import json_array_agg, json_object_agg
from metalake.store.schema import item_metadata, item_tags, items

MAX_PAGE_SIZE = 1000
MEDIA_FIELDS = ("width", "height", "frame_count", "fps", "duration")


def live_items() -> sa.Select:
    """Items that are not in the trash."""
    return sa.select(items).where(items.c.trashed_at.is_(None))


def find_item(conn: Connection, file_key: str) -> RowMapping:
    """The live item whose unique name, or else storage key, is `file_key`."""
    for column in (items.c.unique_name, items.c.storage_key):
        row = conn.execute(live_items().where(column == file_key)).mappings().first()
        if row is not None:
            return row
    raise ItemNotFoundError(f"no file with unique name or storage key {file_key!r}")


def item_dicts(conn: Connection, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Item rows with their custom metadata and tags, two queries for the whole page."""
    ids = [row["id"] for row in rows]
    fields: dict[str, dict[str, Any]] = defaultdict(dict)
    tags: dict[str, list[str]] = defaultdict(list)
    if ids:
        meta = sa.select(item_metadata.c.item_id, item_metadata.c.key, item_metadata.c.value)
        for item_id, key, value in conn.execute(meta.where(item_metadata.c.item_id.in_(ids))):
            fields[item_id][key] = value
        tag_query = sa.select(item_tags.c.item_id, item_tags.c.tag).order_by(item_tags.c.tag)
        for item_id, tag in conn.execute(tag_query.where(item_tags.c.item_id.in_(ids))):
            tags[item_id].append(tag)
    return [_item_dict(row, fields[row["id"]], tags[row["id"]]) for row in rows]


def _item_dict(row: RowMapping, fields: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    result = {
        "id": row["id"],
        "unique_name": row["unique_name"],
        "file_name": row["file_name"],
        "collection_id": row["collection_id"],
        "content_type": row["content_type"],
        "storage_key": row["storage_key"],
        "bucket": row["bucket"],
        "size": row["size"],
        "sha256": row["sha256"],
        "mime": row["mime"],
    }
    result.update({name: row[name] for name in MEDIA_FIELDS})
    result.update(
        {
            "metadata": fields,
            "tags": tags,
            "upload_job_id": row["upload_job_id"],
            "created": iso(row["created"]),
            "modified": iso(row["modified"]),
        }
    )
    return result


MAX_OFFSET = 10**9
"""Items a page may skip: deeper pages are refused rather than overflowing the database."""


def check_page(page_index: int, page_size: int, max_size: int = MAX_PAGE_SIZE) -> None:
    if not isinstance(page_index, int) or isinstance(page_index, bool) or page_index < 0:
        raise InvalidArgumentError(f"page_index must be an integer >= 0, not {page_index!r}")
    if not isinstance(page_size, int) or isinstance(page_size, bool):
        raise InvalidArgumentError(f"page_size must be an integer, not {page_size!r}")
    if not 1 <= page_size <= max_size:
        raise InvalidArgumentError(f"page_size must be between 1 and {max_size}, not {page_size}")
    if page_index * page_size > MAX_OFFSET:
        raise InvalidArgumentError(
            f"page {page_index} of {page_size} starts past item {MAX_OFFSET}, the deepest a page "
            "may start: narrow the query instead"
        )


def page(
    conn: Connection,
    ids: sa.Select,
    order: Sequence[sa.UnaryExpression],
    page_index: int,
    page_size: int,
) -> list[dict[str, Any]]:
    """One page of the items `ids` selects, in `order` (which ends with the id, so pages never
    repeat or skip an item). Only ids are sorted and skipped; just the page's rows are read."""
    check_page(page_index, page_size)
    page_ids = (
        conn.execute(ids.order_by(*order).limit(page_size).offset(page_index * page_size))
        .scalars()
        .all()
    )
    return items_in_order(conn, page_ids)


def items_in_order(conn: Connection, item_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The items of `item_ids` as dicts, in that order, in one statement: each row carries its
    metadata and tags as JSON text, which orjson reads far faster than rows of them."""
    if not item_ids:
        return []
    dialect = conn.dialect.name
    own_fields = (
        sa.select(item_metadata.c.key, item_metadata.c.value)
        .where(item_metadata.c.item_id == items.c.id)
        .order_by(item_metadata.c.key)
        .correlate(items)
        .subquery()
    )
    own_tags = (
        sa.select(item_tags.c.tag)
        .where(item_tags.c.item_id == items.c.id)
        .order_by(item_tags.c.tag)
        .correlate(items)
        .subquery()
    )
    query = sa.select(
        items,
        sa.select(json_object_agg(dialect, own_fields.c.key, own_fields.c.value))
        .scalar_subquery()
        .label("metadata_json"),
        sa.select(json_array_agg(dialect, own_tags.c.tag)).scalar_subquery().label("tags_json"),
    ).where(items.c.id.in_(item_ids))
    by_id = {row["id"]: row for row in conn.execute(query).mappings()}
    return [
        _item_dict(
            row := by_id[item_id],
            orjson.loads(row["metadata_json"] or "{}"),
            orjson.loads(row["tags_json"] or "[]"),
        )
        for item_id in item_ids
    ]


def count(conn: Connection, query: sa.Select) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
