"""A collection's annotations read out page by page, in the upload format, for downloads.

Pages are keyed by item id (not by offset), so a download of any size reads each item once and
a client can stream the pages to disk without holding the collection in memory.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from metalake.errors import InvalidArgumentError
from metalake.lake.annotations.store import AnnotationSelection, annotation_dicts
from metalake.lake.records import MAX_OFFSET
from metalake.store.schema import collection_items, items

MAX_PAGE_ITEMS = 1000
ANNOTATION_FILE = "annotations.json"
MEDIA_FOLDER = "data"
"""A downloaded collection is `<storage name>/annotations.json` and `<storage name>/data/<unique
name>` for each file, on disk (`download_collection`) as in a zip (the web app's download)."""
DOCUMENT_HEAD = b'{"images": ['
DOCUMENT_TAIL = b"\n]}\n"
"""A download's `annotations.json` is DOCUMENT_HEAD, one `document_entry` per file, DOCUMENT_TAIL:
written a file at a time, never held whole."""


def document_entry(image: dict[str, Any], first: bool) -> bytes:
    """One file's entry of `annotations.json` (from an `annotation_page` image), with the
    separator before it."""
    entry = {"image": image["image"], "annotations": image["annotations"]}
    return (b"\n" if first else b",\n") + orjson.dumps(entry)


def check_page_limit(limit: int) -> int:
    if type(limit) is not int or not 1 <= limit <= MAX_PAGE_ITEMS:
        raise InvalidArgumentError(f"limit must be an integer from 1 to {MAX_PAGE_ITEMS}")
    return limit


def collection_page(
    conn: Connection,
    collection_id: str,
    selection: AnnotationSelection,
    after: str | None,
    limit: int,
    skip: int = 0,
) -> tuple[list[tuple[RowMapping, list[dict[str, Any]]]], str | None]:
    """Up to `limit` live items of a collection after item id `after` (and `skip` more), each
    with its selected annotations; and the cursor of the next page (None after the last)."""
    check_page_limit(limit)
    if type(skip) is not int or not 0 <= skip <= MAX_OFFSET:
        raise InvalidArgumentError(
            f"a page may skip 0 to {MAX_OFFSET} files, not {skip!r}: narrow the selection instead"
        )
    query = (
        sa.select(items)
        .join(collection_items, collection_items.c.item_id == items.c.id)
        .where(collection_items.c.collection_id == collection_id, items.c.trashed_at.is_(None))
        .order_by(collection_items.c.item_id)
        .limit(limit + 1)
        .offset(skip)
    )
    if after is not None:
        query = query.where(collection_items.c.item_id > after)
    rows = conn.execute(query).mappings().all()
    more = len(rows) > limit
    rows = rows[:limit]
    found = annotation_dicts(conn, [row["id"] for row in rows], selection)
    entries = [(row, found.get(row["id"], [])) for row in rows]
    return entries, rows[-1]["id"] if more else None
