"""Bytes that dataset versions hold: kept when the lake would delete or overwrite them.

A version points at the storage key its file had. Before emptying the trash deletes a file, or an
upload replaces its bytes, `keep_held` copies the bytes to `.held/<sha256>` (once per content)
and points the versions there; deleting the last version that points at a held copy deletes it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from metalake.blobs.store import BlobStore
from metalake.errors import MetaLakeError
from metalake.store.schema import dataset_files

log = logging.getLogger(__name__)

HELD_PREFIX = ".held"
BATCH = 500


def held_key(sha256: str) -> str:
    return f"{HELD_PREFIX}/{sha256}"


def keep_held(conn: Connection, blobs: BlobStore, keys: Sequence[str]) -> int:
    """Copy the bytes under `keys` that a version holds to their held key and point the versions
    there, in the caller's transaction, before the caller deletes or overwrites them; return how
    many keys were held."""
    kept = 0
    for start in range(0, len(keys), BATCH):
        batch = keys[start : start + BATCH]
        rows = conn.execute(
            sa.select(dataset_files.c.storage_key, dataset_files.c.sha256)
            .where(dataset_files.c.storage_key.in_(batch))
            .distinct()
        ).all()
        for key, sha256 in rows:
            target = held_key(sha256)
            if not blobs.exists(target):
                blobs.copy(key, target)
            conn.execute(
                dataset_files.update()
                .where(dataset_files.c.storage_key == key, dataset_files.c.sha256 == sha256)
                .values(storage_key=target)
            )
        kept += len({key for key, _ in rows})
    return kept


def release_held(conn: Connection, keys: Sequence[str]) -> list[str]:
    """Of the held keys among `keys` (those a deleted version pointed at), those no version
    points at any more: the caller deletes their bytes after its commit."""
    held = [key for key in keys if key.startswith(HELD_PREFIX + "/")]
    still: set[str] = set()
    for start in range(0, len(held), BATCH):
        batch = held[start : start + BATCH]
        query = sa.select(dataset_files.c.storage_key).where(dataset_files.c.storage_key.in_(batch))
        still.update(conn.execute(query.distinct()).scalars())
    return [key for key in held if key not in still]


def delete_released(blobs: BlobStore, keys: Sequence[str]) -> None:
    """Delete released held bytes; one that cannot be deleted is logged and left."""
    for key in keys:
        try:
            blobs.delete(key)
        except (MetaLakeError, OSError) as exc:
            log.warning("could not delete the held bytes %s: %s", key, exc)
