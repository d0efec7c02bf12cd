"""Annotation rows: writing an operation's shapes onto items (replacing what it had there),
reading them back in the upload format, and removing an operation's set from a collection."""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from metalake.errors import InvalidArgumentError, OperationNotFoundError
from metalake.lake.annotations.shapes import shape_dict
from metalake.lake.clock import utcnow
from metalake.store.bulk import insert_rows
from metalake.store.schema import (
    annotation_rows,
    collection_items,
    item_labels,
    items,
    labels,
    operations,
)
from metalake.store.upsert import insert_ignore

BATCH = 500
READ_BATCH = 1000
ANNOTATION_TYPES = ("all", "human", "machine")


def source_of(is_model_run: bool) -> str:
    return "machine" if is_model_run else "human"


def ensure_operation(conn: Connection, operation: str, is_model_run: bool) -> int:
    """The id of an operation, registered on first use; refuse to mix human and machine sets."""
    now = utcnow()
    row = {"name": operation, "is_model_run": is_model_run, "created": now, "modified": now}
    insert_ignore(conn, operations, [row])
    query = sa.select(operations.c.id, operations.c.is_model_run).where(
        operations.c.name == operation
    )
    operation_id, kind = conn.execute(query).one()
    if kind != is_model_run:
        raise InvalidArgumentError(
            f"operation {operation!r} holds {source_of(kind)} annotations; upload with "
            f"is_model_run={kind} or choose another operation_unique_id"
        )
    return operation_id


def label_color(name: str) -> str:
    """A stable color per label name, for UIs that draw labels."""
    return f"#{zlib.crc32(name.encode()) & 0xFFFFFF:06x}"


def add_colors(shapes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`shapes` (annotations as `annotation_dicts` gives them), each with its label's `color`."""
    for shape in shapes:
        shape["color"] = label_color(shape["label"])
    return shapes


def label_ids(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """The ids of these labels, registering the ones seen for the first time."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    now = utcnow()
    found: dict[str, int] = {}
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start : start + BATCH]
        query = sa.select(labels.c.name, labels.c.id).where(labels.c.name.in_(batch))
        known = {name: label_id for name, label_id in conn.execute(query)}
        new = [n for n in batch if n not in known]
        if new:
            rows = [{"name": n, "color": label_color(n), "created": now} for n in new]
            insert_ignore(conn, labels, rows)
            known = {name: label_id for name, label_id in conn.execute(query)}
        found.update(known)
    return found


def _json(value: Any) -> str:
    """A value as JSON text, as the bulk insert stores JSON columns."""
    return orjson.dumps(value).decode()


ROW_COLUMNS = (
    "item_id",
    "operation_id",
    "type",
    "label_id",
    "x",
    "y",
    "w",
    "h",
    "points",
    "confidence",
    "metadata",
    "attributes",
)


def replace_annotations(
    conn: Connection, operation_id: int, placed: Sequence[tuple[str, Sequence[Sequence[Any]]]]
) -> int:
    """Make `placed` (item id, shapes with PlacedShape's fields) the operation's annotations on
    each item it names; return shapes written.

    Items not named keep theirs, as do other operations. The items count as modified.
    """
    ids = label_ids(conn, (shape[1] for _, shapes in placed for shape in shapes))
    item_ids = [item_id for item_id, _ in placed]
    now = utcnow()
    for start in range(0, len(item_ids), BATCH):
        batch = item_ids[start : start + BATCH]
        conn.execute(
            annotation_rows.delete().where(
                annotation_rows.c.item_id.in_(batch), annotation_rows.c.operation_id == operation_id
            )
        )
        conn.execute(items.update().where(items.c.id.in_(batch)).values(modified=now))
    rows = [
        (
            item_id,
            operation_id,
            kind,
            ids[label],
            x,
            y,
            w,
            h,
            None if points is None else _json(points),
            confidence,
            None if metadata is None else _json(metadata),
            None if attributes is None else _json(attributes),
        )
        for item_id, shapes in placed
        for kind, label, x, y, w, h, points, confidence, metadata, attributes in shapes
    ]
    if rows:
        insert_rows(conn, annotation_rows, ROW_COLUMNS, rows)
    refresh_label_counts(conn, item_ids)
    conn.execute(operations.update().where(operations.c.id == operation_id).values(modified=now))
    return len(rows)


def refresh_label_counts(conn: Connection, item_ids: Sequence[str]) -> None:
    """Recount the items' annotations per label (`item_labels`) after their annotations changed."""
    for start in range(0, len(item_ids), BATCH):
        batch = item_ids[start : start + BATCH]
        conn.execute(item_labels.delete().where(item_labels.c.item_id.in_(batch)))
        counted = (
            sa.select(annotation_rows.c.item_id, annotation_rows.c.label_id, sa.func.count())
            .where(annotation_rows.c.item_id.in_(batch))
            .group_by(annotation_rows.c.item_id, annotation_rows.c.label_id)
        )
        conn.execute(item_labels.insert().from_select(["item_id", "label_id", "count"], counted))


MAX_SELECTED_OPERATIONS = 1000


@dataclass(frozen=True)
class AnnotationSelection:
    """Which annotations a read returns: those of the listed operations, or else of a source
    (`human`, `machine` or `all`), as `download_collection` takes them."""

    annotation_type: str = "all"
    operation_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.annotation_type not in ANNOTATION_TYPES:
            raise InvalidArgumentError(
                f"annotation_type must be one of {', '.join(ANNOTATION_TYPES)}, "
                f"not {self.annotation_type!r}"
            )
        if not all(isinstance(o, str) and o for o in self.operation_ids):
            raise InvalidArgumentError("operation_id_list must be a list of operation ids")
        if len(self.operation_ids) > MAX_SELECTED_OPERATIONS:
            raise InvalidArgumentError(
                f"operation_id_list names {len(self.operation_ids)} operations; at most "
                f"{MAX_SELECTED_OPERATIONS}"
            )

    def check_operations_exist(self, conn: Connection) -> None:
        """Raise OperationNotFoundError if an operation named in `operation_ids` does not exist
        (a misspelt id would otherwise select nothing, silently)."""
        if not self.operation_ids:
            return
        known = set(
            conn.execute(
                sa.select(operations.c.name).where(operations.c.name.in_(self.operation_ids))
            ).scalars()
        )
        missing = [o for o in self.operation_ids if o not in known]
        if missing:
            raise OperationNotFoundError(
                f"no annotation operation with id {missing[0]!r}"
                + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else "")
            )

    def where(self) -> list[sa.ColumnElement[bool]]:
        """Conditions on `annotations` joined with `operations`."""
        if self.operation_ids:
            return [operations.c.name.in_(self.operation_ids)]
        if self.annotation_type == "all":
            return []
        return [operations.c.is_model_run.is_(self.annotation_type == "machine")]


def shape_columns(table: sa.Table) -> tuple[sa.ColumnElement[Any], ...]:
    """What `shape_dicts` reads of an annotation row of `table` (the lake's annotations or a
    dataset version's copy of them), with its operation and label joined. JSON comes as text,
    parsed by orjson: SQLAlchemy's JSON processing costs more than the rest of a read."""
    return (
        table.c.item_id,
        operations.c.name,
        operations.c.is_model_run,
        table.c.type,
        labels.c.name,
        table.c.x,
        table.c.y,
        table.c.w,
        table.c.h,
        sa.cast(table.c.points, sa.Text),
        table.c.confidence,
        sa.cast(table.c.metadata, sa.Text),
        sa.cast(table.c.attributes, sa.Text),
    )


def _parsed(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def shape_dicts(
    conn: Connection,
    table: sa.Table,
    item_ids: Sequence[str],
    conditions: Sequence[sa.ColumnElement[bool]],
) -> dict[str, list[dict[str, Any]]]:
    """Each item's annotation rows of `table` that meet `conditions`, in the upload format with
    `operation_id` and `is_model_run`, ordered by operation and then as uploaded."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    query = (
        sa.select(*shape_columns(table))
        .join(labels, labels.c.id == table.c.label_id)
        .join(operations, operations.c.id == table.c.operation_id)
        .where(*conditions)
        .order_by(table.c.item_id, table.c.operation_id, table.c.id)
    )
    for start in range(0, len(item_ids), READ_BATCH):
        batch = query.where(table.c.item_id.in_(item_ids[start : start + READ_BATCH]))
        rows = conn.execute(batch).all()
        for row in rows:
            item_id, operation, machine, kind, label, x, y, w, h = row[:9]
            points, confidence, metadata, attributes = row[9:]
            entry = shape_dict(
                kind,
                label,
                x,
                y,
                w,
                h,
                _parsed(points),
                confidence,
                _parsed(metadata),
                _parsed(attributes),
            )
            entry["operation_id"] = operation
            entry["is_model_run"] = bool(machine)
            found[item_id].append(entry)
    return found


def annotation_dicts(
    conn: Connection, item_ids: Sequence[str], selection: AnnotationSelection | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Each item's annotations (those `selection` picks) as `shape_dicts` gives them."""
    conditions = (selection or AnnotationSelection()).where()
    return shape_dicts(conn, annotation_rows, item_ids, conditions)


def remove_annotations(conn: Connection, collection_id: str, operation: str) -> int:
    """Delete one operation's annotations from the items of a collection; return how many."""
    query = sa.select(operations.c.id).where(operations.c.name == operation)
    operation_id = conn.execute(query).scalar()
    if operation_id is None:
        raise OperationNotFoundError(f"no annotation operation with id {operation!r}")
    members = sa.select(collection_items.c.item_id).where(
        collection_items.c.collection_id == collection_id
    )
    in_collection = annotation_rows.c.item_id.in_(members)
    touched = (
        conn.execute(
            sa.select(annotation_rows.c.item_id)
            .where(annotation_rows.c.operation_id == operation_id, in_collection)
            .distinct()
        )
        .scalars()
        .all()
    )
    now: datetime = utcnow()
    result = conn.execute(
        annotation_rows.delete().where(
            annotation_rows.c.operation_id == operation_id, in_collection
        )
    )
    for start in range(0, len(touched), BATCH):
        batch = touched[start : start + BATCH]
        conn.execute(items.update().where(items.c.id.in_(batch)).values(modified=now))
    refresh_label_counts(conn, touched)
    return result.rowcount
