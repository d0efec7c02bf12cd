"""The trash: moving items in and out (a flag, nothing else changes) and emptying it.

Trashing only sets `trashed_at`: bytes, metadata, tags, annotations and collection memberships
stay, so a restore brings an item back exactly as it was. Emptying the trash is the only path
that deletes bytes; it removes the rows first and the bytes after, so a crash in between leaves
unreferenced bytes, never an item without its file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from metalake.blobs.store import BlobStore
from metalake.errors import InvalidArgumentError, MetaLakeError
from metalake.lake import answers, collections, records, snapshots
from metalake.lake.clock import iso, utcnow
from metalake.lake.content_types import check_content_type
from metalake.lake.datasets.holds import keep_held
from metalake.lake.ingest import UPLOAD
from metalake.lake.jobs import QUEUED, RUNNING
from metalake.lake.records import check_page
from metalake.lake.selection import ItemSelection
from metalake.store.database import Database
from metalake.store.schema import (
    annotation_rows,
    collection_items,
    item_labels,
    item_metadata,
    item_tags,
    items,
    jobs,
)
from metalake.store.schema import collections as collections_table

log = logging.getLogger(__name__)

EMPTY_BATCH = 500
THUMBNAIL_PREFIX = ".thumbnails"


def thumbnail_key(item_id: str, size: int) -> str:
    """Where an item's thumbnail of a size is cached: one folder per item, emptied with it."""
    return f"{THUMBNAIL_PREFIX}/{item_id}/{size}.jpg"


def trash_message(trashed: int, failed: int = 0) -> dict[str, Any]:
    """The seeds' answer of the trash functions."""
    return answers.TRASH.answer(
        failed == 0,
        message=f"{trashed} objects successfully trashed, {failed} objects failed to trash",
    )


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


def trash_collection(db: Database, collection_id: str) -> dict[str, Any]:
    """Put a collection and the live files uploaded to it in the trash, in one transaction.

    Files only added to it belong to the collections they were uploaded to and stay live; the
    collection itself is removed when the trash is emptied of its files (see `empty_trash`).
    """
    with db.write() as conn:
        collection = collections.get_by_id(conn, collection_id)
        collections.lock(conn, collection_id)
        busy = conn.execute(
            sa.select(jobs.c.id, jobs.c.status)
            .where(
                jobs.c.collection_id == collection_id,
                jobs.c.type == UPLOAD,
                jobs.c.status.in_((QUEUED, RUNNING)),
            )
            .limit(1)
        ).first()
        if busy is not None:
            raise InvalidArgumentError(
                f"collection {collection['name']!r} has upload job {busy.id} {busy.status}: "
                "wait for it to finish (wait_for_job_complete), then trash the collection"
            )
        now = utcnow()
        result = conn.execute(
            items.update()
            .where(items.c.collection_id == collection_id, items.c.trashed_at.is_(None))
            .values(trashed_at=now)
        )
        head = collections_table.c
        conn.execute(
            collections_table.update()
            .where(head.id == collection_id, head.trashed_at.is_(None))
            .values(trashed_at=now)
        )
        kept = collections.member_count(conn, collection_id)
    return answers.TRASH.answer(
        True,
        message=f"collection {collection['name']!r} and its {result.rowcount} files moved to "
        f"the trash; {kept} files added to it from other collections stay in those",
        trashed_count=result.rowcount,
    )


def restore(db: Database, selection: ItemSelection) -> dict[str, Any]:
    """Bring the selected items back from the trash, as they were, and with them the trashed
    collection the selection names and those the items were uploaded to."""
    with db.write() as conn:
        selected = selection.ids(conn, trashed=True).scalar_subquery()
        uploaded_to = sa.select(items.c.collection_id).where(items.c.id.in_(selected))
        owners: sa.Select | sa.CompoundSelect = uploaded_to
        if selection.collection_id is not None:
            owners = uploaded_to.union(sa.select(sa.literal(selection.collection_id, sa.String)))
        collections.revive(conn, owners)
        result = conn.execute(
            items.update().where(items.c.id.in_(selected)).values(trashed_at=None)
        )
    return answers.TRASH.answer(True, message=f"{result.rowcount} objects restored from the trash")


MAX_TRASH_AGE_DAYS = 36_500
"""A hundred years: what `older_than_days` may say."""


def check_trash_age(older_than_days: object) -> float:
    """`older_than_days` if it is a number of days from 0 to MAX_TRASH_AGE_DAYS, else raise."""
    if (
        isinstance(older_than_days, bool)
        or not isinstance(older_than_days, int | float)
        or not 0 <= older_than_days <= MAX_TRASH_AGE_DAYS
    ):
        raise InvalidArgumentError(
            f"older_than_days must be a number of days from 0 to {MAX_TRASH_AGE_DAYS}, not "
            f"{older_than_days!r}"
        )
    return older_than_days


def empty_trash(
    db: Database,
    blobs: BlobStore,
    older_than_days: float,
    keep: Callable[[Connection, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Delete, rows and bytes, the items that have been in the trash at least `older_than_days`;
    `keep(conn, answer)` is called in the last transaction (to remember the answer with it)."""
    check_trash_age(older_than_days)
    cutoff = utcnow() - timedelta(days=older_than_days)
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
            keep_held(conn, blobs, [row.storage_key for row in batch])
            for table in (annotation_rows, item_labels, item_metadata, item_tags, collection_items):
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
    with db.write() as conn:
        removed = _remove_emptied_collections(conn, cutoff)
        message = f"{deleted} objects deleted from the trash"
        if removed:
            message += f"; {removed} trashed collections removed"
        if failed:
            message += f"; the bytes of {len(failed)} could not be deleted: {', '.join(failed[:5])}"
        answer = answers.TRASH.answer(not failed, message=message, deleted_count=deleted)
        if keep is not None:
            keep(conn, answer)
    return answer


def _remove_emptied_collections(conn: Connection, cutoff: datetime) -> int:
    """Delete the collections trashed before `cutoff` that no file uploaded to them is left in,
    with the memberships of the files that were only added to them."""
    uploaded = sa.select(items.c.id).where(items.c.collection_id == collections_table.c.id)
    gone = [
        row.id
        for row in conn.execute(
            sa.select(collections_table.c.id).where(
                collections_table.c.trashed_at.is_not(None),
                collections_table.c.trashed_at <= cutoff,
                ~sa.exists(uploaded),
            )
        )
    ]
    if gone:
        conn.execute(collection_items.delete().where(collection_items.c.collection_id.in_(gone)))
        conn.execute(collections_table.delete().where(collections_table.c.id.in_(gone)))
    return len(gone)


def trash_page(
    conn: Connection, content_type: str | None, after: str | None, limit: int
) -> dict[str, Any]:
    """Up to `limit` trashed items (of one content type if given), most recently trashed
    first, each with its `trashed_at`; `next` is the `after` (an item id) of the next page."""
    check_page(0, limit)
    query = sa.select(items.c.id, items.c.trashed_at).where(items.c.trashed_at.is_not(None))
    if content_type is not None:
        query = query.where(items.c.content_type == check_content_type(content_type))
    if after is not None:
        mark = conn.execute(sa.select(items.c.trashed_at).where(items.c.id == after)).scalar()
        if mark is None:
            raise InvalidArgumentError(f"{after!r} is not an item in the trash: start over")
        query = query.where(sa.tuple_(items.c.trashed_at, items.c.id) < sa.tuple_(mark, after))
    rows = conn.execute(
        query.order_by(items.c.trashed_at.desc(), items.c.id.desc()).limit(limit + 1)
    ).all()
    page = records.items_in_order(conn, [row.id for row in rows[:limit]])
    for entry, row in zip(page, rows, strict=False):
        entry["trashed_at"] = iso(row.trashed_at)
    return {"items": page, "next": rows[limit - 1].id if len(rows) > limit else None}
