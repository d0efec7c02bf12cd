"""What a lake holds: its collections, operations and labels, each with counts.

Counts are SQL aggregates over live files only (trashed files vanish from every count, as
from every listing). Listings are paged by number in a fixed order (name, then id), at most
`MAX_CATALOG_PAGE` rows a page: catalogs are small next to the items they count, so one page
is the whole catalog of almost any lake, and a huge one still cannot answer unbounded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from metalake.lake import collections
from metalake.lake.clock import as_utc, iso
from metalake.lake.content_types import check_content_type
from metalake.lake.limits import MAX_CATALOG_PAGE
from metalake.lake.records import check_page
from metalake.store.schema import annotation_rows, collection_items, item_labels, items, labels
from metalake.store.schema import collections as collections_table
from metalake.store.schema import operations as operations_table

LIVE = items.c.trashed_at.is_(None)


def check_catalog_page(page_index: int, page_size: int) -> None:
    check_page(page_index, page_size, MAX_CATALOG_PAGE)


def _paged(query: sa.Select, page_index: int, page_size: int) -> sa.Select:
    return query.limit(page_size).offset(page_index * page_size)


def list_collections(
    conn: Connection, content_type: str | None, page_index: int, page_size: int
) -> list[dict[str, Any]]:
    """Collections not in the trash (of one content type if given), by name, each with its
    count and total size of live files (uploaded to it or added to it) and its last change
    (of the collection or of one of its files)."""
    check_catalog_page(page_index, page_size)
    counts = (
        sa.select(
            collection_items.c.collection_id,
            sa.func.count().label("n"),
            sa.func.sum(items.c.size).label("size"),
            sa.func.max(items.c.modified).label("last_item_change"),
        )
        .join(items, items.c.id == collection_items.c.item_id)
        .where(LIVE)
        .group_by(collection_items.c.collection_id)
        .subquery()
    )
    head = collections_table.c
    query = (
        sa.select(
            head.id,
            head.name,
            head.content_type,
            head.created,
            head.modified,
            sa.func.coalesce(counts.c.n, 0).label("item_count"),
            sa.func.coalesce(counts.c.size, 0).label("size"),
            counts.c.last_item_change,
        )
        .outerjoin(counts, counts.c.collection_id == head.id)
        .where(head.trashed_at.is_(None))
        .order_by(head.name, head.content_type, head.id)
    )
    if content_type is not None:
        query = query.where(head.content_type == check_content_type(content_type))
    return [
        {
            "id": row.id,
            "name": row.name,
            "content_type": row.content_type,
            "item_count": row.item_count,
            "size": int(row.size),
            "created": iso(row.created),
            "modified": iso(_latest(row.modified, row.last_item_change)),
        }
        for row in conn.execute(_paged(query, page_index, page_size))
    ]


def _latest(*moments: datetime | None) -> datetime | None:
    """The latest of `moments` that are known."""
    known = [as_utc(m) for m in moments if m is not None]
    return max(known) if known else None


def list_operations(
    conn: Connection, collection_id: str | None, page_index: int, page_size: int
) -> list[dict[str, Any]]:
    """Operations by operation id, each with its kind and its counts of annotations and of
    annotated files among live files; within a collection, only those with annotations there."""
    check_catalog_page(page_index, page_size)
    annotated = (
        sa.select(
            annotation_rows.c.operation_id,
            sa.func.count().label("annotation_count"),
            sa.func.count(sa.distinct(annotation_rows.c.item_id)).label("file_count"),
        )
        .join(items, items.c.id == annotation_rows.c.item_id)
        .where(LIVE)
        .group_by(annotation_rows.c.operation_id)
    )
    if collection_id is not None:
        collections.get_by_id(conn, collection_id)
        members = sa.select(collection_items.c.item_id).where(
            collection_items.c.collection_id == collection_id
        )
        annotated = annotated.where(annotation_rows.c.item_id.in_(members))
    counts = annotated.subquery()
    operation = operations_table.c
    query = sa.select(
        operation.name,
        operation.is_model_run,
        sa.func.coalesce(counts.c.annotation_count, 0).label("annotation_count"),
        sa.func.coalesce(counts.c.file_count, 0).label("file_count"),
    ).order_by(operation.name, operation.id)
    joined = counts.c.operation_id == operation.id
    query = query.join(counts, joined) if collection_id else query.outerjoin(counts, joined)
    return [
        {
            "operation_id": row.name,
            "kind": "machine" if row.is_model_run else "human",
            "annotation_count": row.annotation_count,
            "file_count": row.file_count,
        }
        for row in conn.execute(_paged(query, page_index, page_size))
    ]


def list_labels(conn: Connection, page_index: int, page_size: int) -> list[dict[str, Any]]:
    """Labels by name, each with its counts of annotations and of annotated files among live
    files (from the per-file label counts, one row per file and label)."""
    check_catalog_page(page_index, page_size)
    counts = (
        sa.select(
            item_labels.c.label_id,
            sa.func.sum(item_labels.c.count).label("annotation_count"),
            sa.func.count().label("file_count"),
        )
        .join(items, items.c.id == item_labels.c.item_id)
        .where(LIVE)
        .group_by(item_labels.c.label_id)
        .subquery()
    )
    query = (
        sa.select(
            labels.c.name,
            sa.func.coalesce(counts.c.annotation_count, 0).label("annotation_count"),
            sa.func.coalesce(counts.c.file_count, 0).label("file_count"),
        )
        .outerjoin(counts, counts.c.label_id == labels.c.id)
        .order_by(labels.c.name, labels.c.id)
    )
    return [
        {
            "label": row.name,
            "annotation_count": int(row.annotation_count),
            "file_count": row.file_count,
        }
        for row in conn.execute(_paged(query, page_index, page_size))
    ]
