"""Facets: the values a field takes among a selection's files, each with its count of files.

Each field's values are kept as bitmaps of the items having them (one SQL pass builds them
all, the change log patches them, lake/query/bitmaps.py), so a facet is one intersection count
per value with the selection's bitmap, however many files match.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from pyroaring import BitMap
from sqlalchemy.engine import Connection

from metalake.errors import InvalidArgumentError
from metalake.lake.limits import DEFAULT_FACET_TOP
from metalake.lake.query.bitmaps import QueryBitmaps, bitmap_bytes, in_chunks
from metalake.store.schema import (
    annotation_rows,
    item_labels,
    item_metadata,
    item_tags,
    items,
    labels,
    operations,
)

FIELDS = ("label", "tag", "operation")
DEFAULT_FIELDS = list(FIELDS)
METADATA_PREFIX = "metadata."
MAX_FIELDS = 20
MAX_TOP = 1000
DEFAULT_TOP = DEFAULT_FACET_TOP
MAX_KEY_LENGTH = 255

Values = dict[bytes, BitMap]
"""A field's values (as JSON text, so that any metadata value can be a key) and their items."""


def check_facets(fields: Sequence[str] | None, top: int) -> list[str]:
    """The fields asked for, checked, without repeats; `top` checked."""
    if fields is None:
        fields = DEFAULT_FIELDS
    if not isinstance(fields, list | tuple) or not all(isinstance(f, str) for f in fields):
        raise InvalidArgumentError(f"fields must be a list of field names, not {fields!r}")
    if not fields:
        raise InvalidArgumentError("fields must name at least one field")
    if len(fields) > MAX_FIELDS:
        raise InvalidArgumentError(f"fields names {len(fields)} fields; at most {MAX_FIELDS}")
    for name in fields:
        key = name.removeprefix(METADATA_PREFIX)
        if name.startswith(METADATA_PREFIX) and 0 < len(key) <= MAX_KEY_LENGTH:
            continue
        if name not in FIELDS:
            raise InvalidArgumentError(
                f"unknown facet field {name[:100]!r}; fields are {', '.join(FIELDS)} or "
                f"metadata.<key> (a key of 1 to {MAX_KEY_LENGTH} characters)"
            )
    if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= MAX_TOP:
        raise InvalidArgumentError(f"top must be an integer from 1 to {MAX_TOP}, not {top!r}")
    return list(dict.fromkeys(fields))


@dataclass(frozen=True)
class FieldValues:
    """The values of one facet field, each with the bitmap of the items having it."""

    field: str

    def rows(self) -> sa.Select:
        """(value, item ordinal) pairs, the value as the database gives it."""
        if self.field == "label":
            joined = item_labels.join(items, items.c.id == item_labels.c.item_id).join(
                labels, labels.c.id == item_labels.c.label_id
            )
            return sa.select(labels.c.name, items.c.seq).select_from(joined)
        if self.field == "tag":
            joined = item_tags.join(items, items.c.id == item_tags.c.item_id)
            return sa.select(item_tags.c.tag, items.c.seq).select_from(joined)
        if self.field == "operation":
            joined = annotation_rows.join(items, items.c.id == annotation_rows.c.item_id).join(
                operations, operations.c.id == annotation_rows.c.operation_id
            )
            return sa.select(operations.c.name, items.c.seq).select_from(joined).distinct()
        key = self.field.removeprefix(METADATA_PREFIX)
        joined = item_metadata.join(items, items.c.id == item_metadata.c.item_id)
        return (
            sa.select(item_metadata.c.value, items.c.seq)
            .select_from(joined)
            .where(item_metadata.c.key == key)
        )

    def _add(self, values: defaultdict[bytes, BitMap], query: sa.Select, conn: Connection) -> None:
        """Add the (value, item) pairs of `query`, each value encoded once, items in bulk."""
        found: defaultdict[bytes, list[int]] = defaultdict(list)
        keys: dict[Any, bytes] = {}
        for value, seq in conn.execute(query):
            if seq is None:
                continue
            if type(value) in (str, int, float):  # hashable, and True is not 1 here
                key = keys.get(value)
                if key is None:
                    key = keys[value] = orjson.dumps(value)
            else:
                key = orjson.dumps(value)
            found[key].append(seq)
        for key, seqs in found.items():
            values[key].update(seqs)

    def build(self, conn: Connection) -> Values:
        values: defaultdict[bytes, BitMap] = defaultdict(BitMap)
        self._add(values, self.rows(), conn)
        return dict(values)

    def patch(self, conn: Connection, old: Values, changed: list[int]) -> Values:
        gone = BitMap(changed)
        values: defaultdict[bytes, BitMap] = defaultdict(BitMap)
        values.update({value: bitmap - gone for value, bitmap in old.items()})
        for chunk in in_chunks(changed):
            self._add(values, self.rows().where(items.c.seq.in_(chunk)), conn)
        return {value: bitmap for value, bitmap in values.items() if bitmap}

    def size(self, value: Values) -> int:
        return sum(len(key) + bitmap_bytes(bitmap) for key, bitmap in value.items())


def facets(
    bitmaps: QueryBitmaps, selected: BitMap, fields: Sequence[str], top: int
) -> dict[str, Any]:
    """The `top` values of each field among the `selected` items, most files first."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name in fields:
        values = bitmaps.value(("facet", name), FieldValues(name))
        counted = [
            (n, value)
            for value, bitmap in values.items()
            if (n := bitmap.intersection_cardinality(selected))
        ]
        counted.sort(key=lambda pair: (-pair[0], pair[1]))
        found[name] = [
            {"value": orjson.loads(value), "file_count": n} for n, value in counted[:top]
        ]
    return {"file_count": len(selected), "facets": found}
