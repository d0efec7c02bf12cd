"""The trash: moving items in and out (a flag, nothing else changes) and emptying it.

Trashing only sets `trashed_at`: bytes, metadata, tags, annotations and collection memberships
stay, so a restore brings an item back exactly as it was. Emptying the trash is the only path
that deletes bytes; it removes the rows first and the bytes after, so a crash in between leaves
unreferenced bytes, never an item without its file.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from metalake.blobs.store import BlobStore
from metalake.errors import InvalidArgumentError, MetaLakeError
from metalake.lake import snapshots
from metalake.lake.clock import utcnow
from metalake.lake.selection import ItemSelection
from metalake.store.database import Database
from metalake.store.schema import (
    annotations,
    collection_items,
    item_labels,
    item_metadata,
    item_tags,
    items,
)

log = logging.getLogger(__name__)

EMPTY_BATCH = 500
THUMBNAIL_PREFIX = ".thumbnails"


def thumbnail_key(item_id: str, size: int) -> str:
    """Where an item's thumbnail of a size is cached: one folder per item, emptied with it."""
    return f"{THUMBNAIL_PREFIX}/{item_id}/{size}.jpg"


def trash_message(trashed: int, failed: int = 0) -> dict[str, Any]:
    """The seeds' answer of the trash functions."""
    return {
        "message": f"{trashed} objects successfully trashed, {failed} objects failed to trash",
        "isSuccess": failed == 0,
    }


def check_not_everything(selection: ItemSelection) -> None:
    """Refuse to trash a whole content type of the lake by an empty query and filter."""
    if selection.collection_id is None and selection.is_everything:
        raise InvalidArgumentError(
            f"refusing to trash every {selection.content_type} of the lake: give a query or a "
            "filter (to trash a whole collection, use trash_objects_from_collection)"
        )


def move_to_trash(db: Database, selection: ItemSelection) -> dict[str, Any]:
    """Put the selected live items in the trash, in one statement."""
    check_not_everything(selection)
    with db.write() as conn:
        return _trash(conn, selection.ids(conn))


def move_snapshot_to_trash(db: Database, selection_id: str) -> dict[str, Any]:
    """Put the live items a selection snapshot picked in the trash (see `snapshots`)."""
    with db.write() as conn:
        selection, ids = snapshots.load(conn, selection_id)
        check_not_everything(selection)
        return _trash(conn, ids)


def _trash(conn: Connection, ids: sa.Select) -> dict[str, Any]:
    result = conn.execute(
        items.update()
        .where(items.c.id.in_(ids.scalar_subquery()), items.c.trashed_at.is_(None))
        .values(trashed_at=utcnow())
    )
    return trash_message(result.rowcount)


def restore(db: Database, selection: ItemSelection) -> dict[str, Any]:
    """Bring the selected items back from the trash, as they were."""
    with db.write() as conn:
        selected = selection.ids(conn, trashed=True).scalar_subquery()
        result = conn.execute(
            items.update().where(items.c.id.in_(selected)).values(trashed_at=None)
        )
    return {"message": f"{result.rowcount} objects restored from the trash", "isSuccess": True}


def empty_trash(db: Database, blobs: BlobStore, older_than_days: float) -> dict[str, Any]:
    """Delete, rows and bytes, the items that have been in the trash at least `older_than_days`."""
    if (
        isinstance(older_than_days, bool)
        or not isinstance(older_than_days, int | float)
        or not math.isfinite(older_than_days)
        or older_than_days < 0
    ):
        raise InvalidArgumentError(
            f"older_than_days must be a number of days >= 0, not {older_than_days!r}"
        )
    # Nothing has been in the trash for a thousand years: larger ages mean the same, and would
    # overflow the calendar.
    cutoff = utcnow() - timedelta(days=min(older_than_days, 365_000))
    deleted = 0
    failed: list[str] = []
    while True:
        with db.write() as conn:
            batch = conn.execute(
                sa.select(items.c.id, items.c.storage_key)
                .where(items.c.trashed_at.is_not(None), items.c.trashed_at <= cutoff)
                .limit(EMPTY_BATCH)
            ).all()
            ids = [row.id for row in batch]
            for table in (annotations, item_labels, item_metadata, item_tags, collection_items):
                conn.execute(table.delete().where(table.c.item_id.in_(ids)))
            conn.execute(items.delete().where(items.c.id.in_(ids)))
        for item_id, key in batch:
            try:
                blobs.delete(key)
                blobs.delete_prefix(f"{THUMBNAIL_PREFIX}/{item_id}")
            except (MetaLakeError, OSError) as exc:
                failed.append(key)
                log.warning("could not delete the bytes of %s: %s", key, exc)
        deleted += len(batch)
        if len(batch) < EMPTY_BATCH:
            break
    message = f"{deleted} objects deleted from the trash"
    if failed:
        message += f"; the bytes of {len(failed)} could not be deleted: {', '.join(failed[:5])}"
    return {"message": message, "isSuccess": not failed, "deleted_count": deleted}
