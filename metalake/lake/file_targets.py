"""How the file names in a metadata (or annotation) document map to items.

The same four ways recur across the SDK: by file name within a collection (items uploaded to it),
by file name within an upload job, by storage path in a bucket, and by unique name.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from metalake.errors import InvalidArgumentError, JobNotFoundError
from metalake.lake import collections
from metalake.lake.content_types import check_content_type
from metalake.lake.names import DEFAULT_BUCKET
from metalake.store.schema import items, job_files, jobs

KINDS = ("collection", "job", "storage_path", "unique_name")
BATCH = 500
ARRAY = postgresql.ARRAY(sa.Text)


@dataclass(frozen=True)
class FileTarget:
    """Which items the names of a document refer to."""

    kind: str
    collection_name: str | None = None
    content_type: str | None = None
    job_id: str | None = None
    bucket_name: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidArgumentError(f"file target kind {self.kind!r} is not one of {KINDS}")


@dataclass(frozen=True)
class _Resolver:
    where: sa.ColumnElement[bool] | None
    column: sa.Column
    description: str
    strip_slash: bool = False


def _resolver(conn: Connection, target: FileTarget) -> _Resolver:
    if target.kind == "collection":
        content_type = check_content_type(target.content_type or "")
        collection = collections.get_by_name(conn, target.collection_name or "", content_type)
        where = items.c.collection_id == collection["id"]
        return _Resolver(where, items.c.file_name, f"in collection {target.collection_name!r}")
    if target.kind == "job":
        job_type = conn.execute(sa.select(jobs.c.type).where(jobs.c.id == target.job_id)).scalar()
        if job_type is None:
            raise JobNotFoundError(f"no job with id {target.job_id!r}")
        in_job = sa.select(job_files.c.item_id).where(
            job_files.c.job_id == target.job_id, job_files.c.item_id.is_not(None)
        )
        return _Resolver(items.c.id.in_(in_job), items.c.file_name, f"in job {target.job_id}")
    if target.kind == "storage_path":
        bucket = (target.bucket_name or DEFAULT_BUCKET).lower()
        where = items.c.bucket == bucket
        return _Resolver(where, items.c.storage_key, f"in bucket {bucket!r}", strip_slash=True)
    return _Resolver(None, items.c.unique_name, "with that unique name")


def resolve(conn: Connection, target: FileTarget, names: list[str]) -> tuple[dict[str, str], str]:
    """Map each name that matches a live item to its id; also return how names were looked up."""
    rows, description = resolve_rows(conn, target, names)
    return {name: row.id for name, row in rows.items()}, description


def resolve_rows(
    conn: Connection, target: FileTarget, names: list[str], *columns: sa.Column
) -> tuple[dict[str, sa.Row], str]:
    """Map each name that matches a live item to a row of its `id` and `columns`."""
    resolver = _resolver(conn, target)
    keyed = {(n.lstrip("/") if resolver.strip_slash else n): n for n in names}
    found: dict[str, sa.Row] = {}
    keys = list(keyed)
    query = sa.select(resolver.column.label("key"), items.c.id, *columns).where(
        items.c.trashed_at.is_(None)
    )
    if resolver.where is not None:
        query = query.where(resolver.where)
    if conn.dialect.name == "sqlite" and keys and not any("\x00" in k for k in keys):
        # One statement for any number of names: they travel as one JSON array (whose text
        # SQLite would cut at a NUL).
        listed = sa.func.json_each(sa.bindparam("keys", orjson.dumps(keys).decode()))
        values = sa.select(listed.table_valued("value").c.value).scalar_subquery()
        batches = [query.where(resolver.column.in_(values))]
    elif conn.dialect.name == "postgresql" and keys:
        batches = [query.where(resolver.column == sa.any_(sa.bindparam("keys", keys, ARRAY)))]
    else:
        batches = [
            query.where(resolver.column.in_(keys[start : start + BATCH]))
            for start in range(0, len(keys), BATCH)
        ]
    for batch in batches:
        found.update({keyed[row.key]: row for row in conn.execute(batch).all()})
    return found, resolver.description


def unmatched_note(names: list[str], description: str) -> str:
    """What a message adds for document names that matched no file: the count and the first
    ten (empty if every name matched)."""
    if not names:
        return ""
    shown = ", ".join(repr(n) for n in names[:10])
    return f"; {len(names)} names matched no file {description}: {shown}"
