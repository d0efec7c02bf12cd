"""Checks of a lake's object store against its database: bytes nothing refers to any more.

Two kinds of orphans are found: blobs that no item names (thumbnails are the lake's cache and
are left out), and staging that no live upload session will read (no session, or a session
whose job has ended). Only objects last written before a cutoff are judged: an upload in flight
writes its bytes shortly before it registers them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from metalake.blobs.local import TMP_DIR
from metalake.blobs.store import BlobStore, StoredObject
from metalake.lake.clock import as_utc, utcnow
from metalake.lake.staging import STAGING_PREFIXES, session_states, staged_objects
from metalake.lake.trash import THUMBNAIL_PREFIX
from metalake.store.database import Database
from metalake.store.schema import dataset_files, items

BATCH = 500
SHOWN_KEYS = 100
"""Keys listed per kind in a report (the counts and bytes cover all)."""
NOT_BLOBS = {TMP_DIR, THUMBNAIL_PREFIX, *STAGING_PREFIXES}
"""Top-level folders of the lake's own objects, which no item names."""


@dataclass
class OrphanReport:
    """Orphaned objects of a lake, by kind."""

    blobs: list[StoredObject] = field(default_factory=list)
    """Objects outside the lake's own folders that no item names."""
    staging: list[StoredObject] = field(default_factory=list)
    """Staged upload files that no live upload session will read."""

    @property
    def objects(self) -> list[StoredObject]:
        return [*self.blobs, *self.staging]

    def to_json(self) -> dict[str, Any]:
        """Counts, bytes and (the first SHOWN_KEYS) keys per kind."""
        return {
            kind: {
                "count": len(found),
                "bytes": sum(o.size for o in found),
                "keys": [o.key for o in found[:SHOWN_KEYS]],
            }
            for kind, found in (("blobs", self.blobs), ("staging", self.staging))
        }


def find_orphans(
    db: Database, blobs: BlobStore, min_age: timedelta, now: datetime | None = None
) -> OrphanReport:
    """The orphans of a lake last written at least `min_age` before `now`."""
    cutoff = (now or utcnow()) - min_age
    report = OrphanReport()
    candidates = (
        o
        for o in blobs.list_objects()
        if o.key.split("/", 1)[0] not in NOT_BLOBS and as_utc(o.modified) <= cutoff
    )
    for batch in _batches(candidates):
        keys = [o.key for o in batch]
        of_items = sa.select(items.c.storage_key).where(items.c.storage_key.in_(keys))
        # bytes a dataset version holds (its files' keys, and `.held/` copies) are not orphans
        of_versions = sa.select(dataset_files.c.storage_key).where(
            dataset_files.c.storage_key.in_(keys)
        )
        with db.read() as conn:
            named = set(conn.execute(of_items).scalars()) | set(conn.execute(of_versions).scalars())
        report.blobs.extend(o for o in batch if o.key not in named)
    found = staged_objects(blobs)
    states = session_states(db, [sid for sid in found if sid])
    for sid, objects in found.items():
        state = states.get(sid)
        if state is None or state.finished:
            report.staging.extend(o for o in objects if as_utc(o.modified) <= cutoff)
    return report


def remove_orphans(blobs: BlobStore, report: OrphanReport) -> None:
    """Delete every object of `report`."""
    for obj in report.objects:
        blobs.delete(obj.key)


def _batches(objects: Iterator[StoredObject]) -> Iterator[list[StoredObject]]:
    batch: list[StoredObject] = []
    for obj in objects:
        batch.append(obj)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
