"""Which items a call works on, and in what order: scope, query, filter and sort order.

`ItemSelection` is what list, count, trash, download and "add to collection" calls take; its
query is parsed and its filter checked when it is made, and the query is compiled (which refuses
unknown fields and mistyped values) once per call, by `where`, before any SQL of the call runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from metalake.errors import InvalidArgumentError
from metalake.lake import collections
from metalake.lake.content_types import check_content_type
from metalake.lake.query.compiler import QueryCompiler, compare_date
from metalake.lake.query.parser import parse
from metalake.lake.query.syntax import Node, Value
from metalake.store.schema import annotation_rows, collection_items, items, operations

ANNOTATION_TYPES = ("raw", "human", "machine")
FILTER_KEYS = ("annotation_types", "from_date", "to_date")
SELECTION_KEYS = ("content_type", "collection_id", "query", "filter")
SORT_FIELDS = {
    "date_modified": (items.c.modified,),
    "date_created": (items.c.created,),
    "name": (items.c.file_name,),
    "size": (items.c.size,),
    "video_index": (items.c.collection_id, items.c.file_name),
}
"""Sort keys; every order ends with the item id, so ties never reorder between pages.
`video_index` orders files as they sit in their videos' folders: MetaLake keeps whole videos,
not frames, so it is collection and then file name."""
SORT_DIRECTIONS = ("ASC", "DESC")


@dataclass(frozen=True)
class ItemFilter:
    """The seeds' `filter` object: annotation types (`raw` = none) and an upload date range."""

    annotation_types: tuple[str, ...] = ()
    from_date: Value | None = None
    to_date: Value | None = None

    @classmethod
    def from_object(cls, data: dict[str, Any] | str | None) -> ItemFilter:
        if data is None or data == "":
            return cls()
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"filter must be a dict, not {type(data).__name__}")
        unknown = sorted(set(data) - set(FILTER_KEYS))
        if unknown:
            raise InvalidArgumentError(
                f"filter has unknown keys {unknown}; it takes {', '.join(FILTER_KEYS)}"
            )
        types = data.get("annotation_types") or []
        if not isinstance(types, list | tuple) or not all(
            isinstance(t, str) and t in ANNOTATION_TYPES for t in types
        ):
            raise InvalidArgumentError(
                f"filter annotation_types must be a list of {', '.join(ANNOTATION_TYPES)}, "
                f"not {types!r}"
            )
        return cls(
            tuple(dict.fromkeys(types)),
            _date(data, "from_date"),
            _date(data, "to_date"),
        )

    def to_object(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.annotation_types:
            result["annotation_types"] = list(self.annotation_types)
        if self.from_date is not None:
            result["from_date"] = self.from_date.text
        if self.to_date is not None:
            result["to_date"] = self.to_date.text
        return result

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        """Dates are inclusive: `to_date` 2024-05-01 keeps files uploaded that day."""
        return [condition for _key, condition in self.terms()]

    def terms(self) -> list[tuple[tuple[str, ...], sa.ColumnElement[bool]]]:
        """The filter's conditions, each with a key naming it (for caches of their matches)."""
        found: list[tuple[tuple[str, ...], sa.ColumnElement[bool]]] = []
        if self.annotation_types and set(self.annotation_types) != set(ANNOTATION_TYPES):
            either = sa.or_(*(_has_annotation_type(t) for t in self.annotation_types))
            found.append((("annotation_types", *sorted(self.annotation_types)), either))
        if self.from_date is not None:
            after = compare_date("from_date", items.c.created, ">=", self.from_date)
            found.append((("from_date", self.from_date.text), after))
        if self.to_date is not None:
            before = compare_date("to_date", items.c.created, "<=", self.to_date)
            found.append((("to_date", self.to_date.text), before))
        return found


def _date(data: dict[str, Any], key: str) -> Value | None:
    text = data.get(key)
    if text is None or text == "":
        return None
    value = Value(str(text), False, 0)
    if not isinstance(text, str) or value.instant is None:
        raise InvalidArgumentError(
            f"filter {key} must be an ISO date like 2024-05-01 (or a date-time), not {text!r}"
        )
    return value


def _has_annotation_type(annotation_type: str) -> sa.ColumnElement[bool]:
    """A correlated test per item: annotation types are broad, so the rest of the selection
    (scope, dates, query) should find the items and this only check them."""
    own = annotation_rows.c.item_id == items.c.id
    if annotation_type == "raw":
        return ~sa.exists().where(own)
    kind = sa.select(operations.c.id).where(
        operations.c.is_model_run.is_(annotation_type == "machine")
    )
    return sa.exists().where(own, annotation_rows.c.operation_id.in_(kind))


@dataclass(frozen=True)
class SortOrder:
    """The seeds' `sort_order`: a field and a direction, newest change first by default."""

    sort_by_field: str = "date_modified"
    sort_order: str = "DESC"

    @classmethod
    def from_object(cls, data: dict[str, Any] | None) -> SortOrder:
        if not data:
            return cls()
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"sort_order must be a dict, not {type(data).__name__}")
        unknown = sorted(set(data) - {"sort_by_field", "sort_order"})
        if unknown:
            raise InvalidArgumentError(
                f"sort_order has unknown keys {unknown}; it takes sort_by_field and sort_order"
            )
        by = data.get("sort_by_field", "date_modified")
        direction = data.get("sort_order", "DESC")
        if not isinstance(by, str) or by not in SORT_FIELDS:
            raise InvalidArgumentError(
                f"sort_by_field must be one of {', '.join(SORT_FIELDS)}, not {by!r}"
            )
        if not isinstance(direction, str) or direction.upper() not in SORT_DIRECTIONS:
            raise InvalidArgumentError(f"sort_order must be ASC or DESC, not {direction!r}")
        return cls(by, direction.upper())

    def to_object(self) -> dict[str, str]:
        return {"sort_by_field": self.sort_by_field, "sort_order": self.sort_order}

    def columns(self) -> list[sa.UnaryExpression]:
        keys = [*SORT_FIELDS[self.sort_by_field], items.c.id]
        return [k.desc() if self.sort_order == "DESC" else k.asc() for k in keys]


@dataclass(frozen=True)
class ItemSelection:
    """Items of a content type across the lake, or of one collection (uploaded or added),
    that match a query and a filter."""

    content_type: str | None = None
    collection_id: str | None = None
    query: str = ""
    filter: ItemFilter = field(default_factory=ItemFilter)
    tree: Node | None = field(init=False, repr=False, compare=False)
    """The parsed query (None when empty), parsed once here and compiled by `where`."""

    def __post_init__(self) -> None:
        if self.collection_id is None:
            object.__setattr__(self, "content_type", check_content_type(self.content_type or ""))
        elif not isinstance(self.collection_id, str) or not self.collection_id:
            raise InvalidArgumentError("collection_id must be a non-empty string")
        object.__setattr__(self, "tree", parse(self.query))

    @classmethod
    def of(
        cls,
        content_type: str | None = None,
        collection_id: str | None = None,
        query: str | None = "",
        filter: dict[str, Any] | None = None,
    ) -> ItemSelection:
        """A selection from the seeds' arguments, checked."""
        query = "" if query is None else query
        return cls(content_type, collection_id, query, ItemFilter.from_object(filter))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ItemSelection:
        if not isinstance(data, dict):
            raise InvalidArgumentError("selection must be an object")
        unknown = sorted(set(data) - set(SELECTION_KEYS))
        if unknown:
            raise InvalidArgumentError(
                f"selection has unknown keys {unknown}; it takes {', '.join(SELECTION_KEYS)}"
            )
        return cls.of(
            data.get("content_type"),
            data.get("collection_id"),
            data.get("query", ""),
            data.get("filter"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "content_type": self.content_type,
            "collection_id": self.collection_id,
            "query": self.query,
            "filter": self.filter.to_object(),
        }

    @property
    def is_everything(self) -> bool:
        """True when neither a query nor a filter narrows the scope."""
        return not self.query.strip() and not self.filter.to_object()

    def where(self, conn: Connection, trashed: bool = False) -> list[sa.ColumnElement[bool]]:
        """Conditions on `items` for live items (or, `trashed`, items in the trash).

        The query is compiled first, so a refused one runs no SQL; a call that writes before it
        selects takes these conditions first."""
        state = items.c.trashed_at.is_not(None) if trashed else items.c.trashed_at.is_(None)
        found: list[sa.ColumnElement[bool]] = [state]
        compiler = QueryCompiler(conn.dialect.name, conn)
        query = None if self.tree is None else compiler.condition(self.tree)
        if self.collection_id is not None:
            collections.get_by_id(conn, self.collection_id)
            members = sa.select(collection_items.c.item_id).where(
                collection_items.c.collection_id == self.collection_id
            )
            found.append(items.c.id.in_(members))
        else:
            found.append(items.c.content_type == self.content_type)
        if query is not None:
            found.append(query)
        found.extend(self.filter.conditions())
        return found

    def ids(self, conn: Connection, trashed: bool = False) -> sa.Select:
        """The ids of the selected items, as a subquery-ready select."""
        return sa.select(items.c.id).where(*self.where(conn, trashed))
