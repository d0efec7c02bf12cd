"""Compiling a query's syntax tree into one SQLAlchemy condition on `items`.

Every value is a bound parameter. Each term over a side table (metadata, tags, annotations,
collections) becomes `items.id IN (SELECT item_id FROM <table> WHERE ...)`, which the key/value
and label indexes answer without reading the whole lake. A term over a missing field is false,
so `!=` never matches files without the field; `NOT` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from metalake.errors import InvalidQueryError
from metalake.lake.annotations.shapes import SHAPE_TYPES
from metalake.lake.content_types import CONTENT_TYPES
from metalake.lake.limits import MAX_INTEGER
from metalake.lake.query.limits import MAX_PATTERN_LENGTH, MAX_WILDCARDS
from metalake.lake.query.syntax import (
    And,
    Comparison,
    Count,
    Exists,
    InList,
    Node,
    Not,
    Or,
    Path,
    Term,
    Value,
    Within,
)
from metalake.store.json_values import json_array_elements, json_number, json_text
from metalake.store.name_search import trigram_candidates
from metalake.store.schema import (
    annotation_rows,
    collection_items,
    collections,
    item_labels,
    item_metadata,
    item_tags,
    items,
    labels,
    operations,
)

Condition = sa.ColumnElement[bool]
Column = sa.ColumnElement

GROUP_SIZE = 32
"""Terms of one AND or OR written without parentheses (see `_balanced`)."""
UNION_SIZE = 100
"""Selects in one UNION ALL (see `_union`)."""

TEXT, NUMBER, DATE = "text", "number", "date"
ITEM_FIELDS: dict[str, tuple[Column, str]] = {
    "name": (items.c.file_name, TEXT),
    "unique_name": (items.c.unique_name, TEXT),
    "type": (items.c.content_type, TEXT),
    "size": (items.c.size, NUMBER),
    "width": (items.c.width, NUMBER),
    "height": (items.c.height, NUMBER),
    "frame_count": (items.c.frame_count, NUMBER),
    "fps": (items.c.fps, NUMBER),
    "duration": (items.c.duration, NUMBER),
    "created": (items.c.created, DATE),
    "modified": (items.c.modified, DATE),
}
ANNOTATION_FIELDS = ("label", "confidence", "type", "operation", "source")
SOURCES = ("human", "machine")
ALLOWED_VALUES = {
    ("item", "type"): CONTENT_TYPES,
    ("annotation", "type"): SHAPE_TYPES,
    ("annotation", "source"): SOURCES,
}
FIELD_LIST = (
    "name, unique_name, collection, type, tags, size, width, height, frame_count, fps, "
    "duration, created, modified, metadata.<key> or annotation.<field>"
)
COUNT_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _error(column: int, problem: str) -> InvalidQueryError:
    return InvalidQueryError(f"query error at column {column}: {problem}")


def like_pattern(text: str) -> str:
    """A `~` value as a lower-case LIKE pattern: `*` and `?` are wildcards, else a substring."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if "*" in text or "?" in text:
        return escaped.replace("*", "%").replace("?", "_")
    return f"%{escaped}%"


def compare_text(column: Column, op: str, value: Value) -> Condition:
    """A comparison of a text column, `~` being a case-insensitive wildcard match."""
    if op == "~":
        _check_pattern(value)
        return sa.func.lower(column).like(like_pattern(value.text), escape="\\")
    return _binary(column, op, value.text)


def _check_pattern(value: Value) -> None:
    """Refuse a `~` pattern long or wild enough to make LIKE slow (or, in SQLite, refused)."""
    if len(value.text) > MAX_PATTERN_LENGTH:
        raise _error(
            value.column,
            f"the pattern is {len(value.text):,} characters long; "
            f"at most {MAX_PATTERN_LENGTH} are allowed after '~'",
        )
    wildcards = value.text.count("*") + value.text.count("?")
    if wildcards > MAX_WILDCARDS:
        raise _error(
            value.column,
            f"the pattern has {wildcards} wildcards (* and ?); at most {MAX_WILDCARDS} are allowed",
        )


def _binary(column: Column, op: str, operand: object) -> Condition:
    """`column <op> operand`; a number is bound as a 64-bit integer or a float, never as the
    column's type, so PostgreSQL neither overflows an `integer` nor rounds `width > 63.5`."""
    if isinstance(operand, int) and not isinstance(operand, bool):
        operand = sa.literal(operand, sa.BigInteger())
    elif isinstance(operand, float):
        operand = sa.literal(operand, sa.Float())
    return {
        "=": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }[op](operand)


def _number(field: str, value: Value, op: str = "=") -> float:
    if op == "~":
        raise _error(value.column, f"'~' compares text, and {field} is a number")
    number = value.number
    if number is None:
        raise _error(value.column, f"{field} is a number; expected a number, found '{value.text}'")
    return number


def compare_number(field: str, column: Column, op: str, value: Value) -> Condition:
    return sa.and_(column.is_not(None), _binary(column, op, _number(field, value, op)))


def compare_date(field: str, column: Column, op: str, value: Value) -> Condition:
    """A date stands for its whole day (UTC): `created = 2024-05-01` is any time that day."""
    if op == "~":
        raise _error(value.column, f"'~' compares text, and {field} is a date")
    instant = value.instant
    if instant is None:
        raise _error(
            value.column,
            f"{field} is a date; expected an ISO date like 2024-05-01 or a date-time like "
            f"2024-05-01T08:30:00, found '{value.text}'",
        )
    start, end = instant
    if start == end:
        return _binary(column, op, start)
    equal = sa.and_(column >= start, column < end)
    return {
        "=": equal,
        "!=": sa.not_(equal),
        "<": column < start,
        "<=": column < end,
        ">": column >= end,
        ">=": column >= start,
    }[op]


def _check_allowed(scope: str, field: str, op: str, value: Value) -> None:
    allowed = ALLOWED_VALUES.get((scope, field))
    if allowed and op in ("=", "!=") and value.text not in allowed:
        raise _error(
            value.column,
            f"{field} is one of {', '.join(allowed)}; found '{value.text}'",
        )


class _Parenthesised(sa.ColumnElement[bool]):
    """A condition in parentheses that `and_`/`or_` keep as one operand (they flatten
    SQLAlchemy's own `Grouping` of the same operator back into the list)."""

    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = [("condition", InternalTraversal.dp_clauseelement)]

    def __init__(self, condition: Condition) -> None:
        self.condition = condition


@compiles(_Parenthesised)
def _compile_parenthesised(element: _Parenthesised, compiler: SQLCompiler, **kw: object) -> str:
    return f"({compiler.process(element.condition, **kw)})"


def _balanced(combine: Callable[..., Condition], conditions: list[Condition]) -> Condition:
    """`combine(*conditions)` as a tree of parenthesised groups of at most `GROUP_SIZE`, so
    that SQLite (which parses `a OR b OR ...` one level deeper per term, up to 1000 levels)
    takes the longest lists within the limits."""
    while len(conditions) > GROUP_SIZE:
        conditions = [
            _Parenthesised(combine(*conditions[start : start + GROUP_SIZE]))
            for start in range(0, len(conditions), GROUP_SIZE)
        ]
    return combine(*conditions)


def _any(conditions: list[Condition]) -> Condition:
    return _balanced(sa.or_, conditions)


def _all(conditions: list[Condition]) -> Condition:
    return _balanced(sa.and_, conditions)


def _union(selects: list[sa.Select | sa.CompoundSelect]) -> sa.Select | sa.CompoundSelect:
    """`UNION ALL` of id selects, nested unions spliced in, in subqueries of at most
    `UNION_SIZE` selects each (SQLite refuses more than 500 in one compound SELECT, and
    refuses a parenthesised compound as one of its terms)."""
    flat: list[sa.Select] = []
    for select in selects:
        if isinstance(select, sa.CompoundSelect):
            # Every compound here was built by this function, from plain selects only.
            flat.extend(cast(list[sa.Select], select.selects))
        else:
            flat.append(select)
    while len(flat) > UNION_SIZE:
        flat = [
            _select_all(sa.union_all(*flat[start : start + UNION_SIZE]))
            for start in range(0, len(flat), UNION_SIZE)
        ]
    return flat[0] if len(flat) == 1 else sa.union_all(*flat)


def _select_all(compound: sa.CompoundSelect) -> sa.Select:
    rows = compound.subquery()
    return sa.select(rows.c[0])


@dataclass(frozen=True)
class _Scope:
    """Where a term is compiled: on items, or on one annotation row (inside `annotation(...)`
    or `count(...)`)."""

    on_annotation: bool
    prefixed: bool


ITEM = _Scope(on_annotation=False, prefixed=True)
INSIDE_WITHIN = _Scope(on_annotation=True, prefixed=False)
INSIDE_COUNT = _Scope(on_annotation=True, prefixed=True)


class QueryCompiler:
    """Turns syntax trees into conditions on `items` for one SQL dialect.

    With a connection, label and operation names are resolved to their ids, so the
    annotation indexes (which lead with those ids) serve the terms; without one they stay
    subqueries. Names are looked up only once the whole query has compiled, so a query the
    compiler refuses runs no SQL.

    `correlated` compiles every side-table term as a probe of the item at hand (EXISTS, a
    counting subquery) instead of a set of ids, for conditions checked on a few given items
    (the term bitmaps' patches) rather than used to find matches in the whole lake.
    """

    def __init__(
        self, dialect: str, conn: Connection | None = None, correlated: bool = False
    ) -> None:
        self.dialect = dialect
        self.conn = conn
        self.correlated = correlated
        self._negations = 0
        self._memberships: dict[int, tuple[Condition, sa.Select | sa.CompoundSelect]] = {}
        self._named: list[tuple[list[str], sa.Select]] = []

    def condition(self, node: Node) -> Condition:
        """The condition a file must meet to match `node` (InvalidQueryError if none)."""
        condition = self._compile(node, ITEM)
        if self.conn is not None:
            for ids, named in self._named:
                ids.extend(self.conn.execute(named).scalars().all())
        return condition

    def _compile(self, node: Node, scope: _Scope) -> Condition:
        if isinstance(node, And):
            return _all([self._compile(n, scope) for n in node.operands])
        if isinstance(node, Or):
            return self._either([self._compile(n, scope) for n in node.operands])
        if isinstance(node, Not):
            self._negations += 1
            try:
                return sa.not_(self._compile(node.operand, scope))
            finally:
                self._negations -= 1
        if isinstance(node, Within):
            if scope.on_annotation and not scope.prefixed:
                raise _error(node.column, "annotation(...) cannot be nested")
            inner = self._compile(node.condition, INSIDE_WITHIN)
            return inner if scope.on_annotation else self._has_annotation(inner)
        if isinstance(node, Count):
            if scope.on_annotation:
                raise _error(node.column, "count(...) cannot be used inside annotation(...)")
            return self._count(node)
        return self._term(node, scope)

    def _term(self, term: Term, scope: _Scope) -> Condition:
        path = term.path
        root = path.parts[0].lower()
        if scope.on_annotation and scope.prefixed:
            if root != "annotation":
                raise _error(
                    path.column,
                    f"count(...) counts annotations; write annotation.<field> or "
                    f"annotation(...) inside it, not '{path.text}'",
                )
            return self._annotation_term(term, path.parts[1:], path)
        if scope.on_annotation:
            if root == "annotation":
                raise _error(
                    path.column,
                    "inside annotation(...) write fields without the 'annotation.' prefix, "
                    f"e.g. {'.'.join(path.parts[1:]) or 'label'}",
                )
            return self._annotation_term(term, path.parts, path)
        if root == "annotation":
            return self._has_annotation(self._annotation_term(term, path.parts[1:], path))
        if root == "metadata":
            key = self._key_after(path, "metadata")
            return self._tags(term) if key.lower() == "tags" else self._metadata(term, key)
        if len(path.parts) == 1 and root == "tags":
            return self._tags(term)
        if len(path.parts) == 1 and root == "collection":
            return self._collection(term)
        if (
            len(path.parts) == 1
            and root == "name"
            and isinstance(term, Comparison)
            and term.op == "~"
            and self.dialect == "sqlite"
            and self._negations % 2 == 0
            and not self.correlated
        ):
            return self._name_like(term.value)
        if len(path.parts) == 1 and root in ITEM_FIELDS:
            column, kind = ITEM_FIELDS[root]
            return self._each(term, lambda op, v: self._typed(root, column, kind, op, v, "item"))
        raise _error(path.column, f"unknown field '{path.text}'; fields are {FIELD_LIST}")

    @staticmethod
    def _key_after(path: Path, group: str) -> str:
        if len(path.parts) < 2:
            raise _error(path.column, f"expected a key after '{group}.', e.g. {group}.camera")
        return ".".join(path.parts[1:])

    @staticmethod
    def _each(term: Term, compare: Callable[[str, Value], Condition]) -> Condition:
        """A term as comparisons: `IN` is any of its values; `EXISTS` is `compare(None)`."""
        if isinstance(term, Comparison):
            return compare(term.op, term.value)
        if isinstance(term, InList):
            return _any([compare("=", v) for v in term.values])
        return compare("exists", Value("", False, term.path.column))

    @staticmethod
    def _typed(
        field: str, column: Column, kind: str, op: str, value: Value, scope: str
    ) -> Condition:
        if op == "exists":
            return column.is_not(None)
        if kind == NUMBER:
            return compare_number(field, column, op, value)
        if kind == DATE:
            return compare_date(field, column, op, value)
        _check_allowed(scope, field, op, value)
        return sa.and_(column.is_not(None), compare_text(column, op, value))

    @staticmethod
    def _name_like(value: Value) -> Condition:
        """`name ~ ...` on SQLite: the trigram index narrows, the exact LIKE decides."""
        exact = compare_text(items.c.file_name, "~", value)
        candidates = trigram_candidates(like_pattern(value.text))
        return exact if candidates is None else sa.and_(candidates, exact)

    # Item-level side tables ----------------------------------------------------------------

    def _metadata(self, term: Term, key: str) -> Condition:
        def compare(op: str, value: Value) -> Condition:
            if op == "exists":
                return sa.true()
            text, number = item_metadata.c.value_text, item_metadata.c.value_num
            if op == "~":
                return compare_text(text, op, value)
            if value.number is not None:
                equal = sa.or_(number == value.number, text == value.text)
                if op == "=":
                    return equal
                if op == "!=":
                    return sa.and_(
                        sa.or_(number.is_(None), number != value.number), text != value.text
                    )
                return _binary(number, op, value.number)
            if op in ("=", "!="):
                return _binary(text, op, value.text)
            return sa.and_(number.is_(None), _binary(text, op, value.text))

        return self._member(
            item_metadata.c.item_id, sa.and_(item_metadata.c.key == key, self._each(term, compare))
        )

    def _tags(self, term: Term) -> Condition:
        def tagged(condition: Condition, negated: bool) -> Condition:
            return self._member(item_tags.c.item_id, condition, negated)

        return self._set_term(term, item_tags.c.tag, tagged, tagged(sa.true(), False))

    def _collection(self, term: Term) -> Condition:
        """Membership (as uploaded or added) of a collection with a matching name."""

        def member(condition: Condition, negated: bool) -> Condition:
            named = self._named_ids(collection_items.c.collection_id, collections, condition)
            return self._member(collection_items.c.item_id, named, negated)

        return self._set_term(term, collections.c.name, member, sa.true())

    def _set_term(
        self,
        term: Term,
        text: Column,
        member: Callable[[Condition, bool], Condition],
        exists: Condition,
    ) -> Condition:
        """A term over names a file has several of (tags, collections): `=` has this one,
        `!=` does not have it, `~` has one like it; `member(condition, negated)` builds the
        membership test."""
        if isinstance(term, Comparison) and term.op == "!=":
            return sa.not_(member(text == term.value.text, True))
        if isinstance(term, Exists):
            return exists
        return member(self._each(term, lambda op, v: compare_text(text, op, v)), False)

    # Annotations ---------------------------------------------------------------------------

    def _member(self, item_id: Column, condition: Condition, negated: bool = False) -> Condition:
        """Items with a row meeting `condition` in the side table of `item_id`.

        A positive term is `items.id IN (SELECT ...)`: the side table's index finds the few
        matching items first. Under NOT it is a correlated EXISTS, probed only for the items the
        rest of the query keeps, instead of building the (large) set of all the others.
        """
        if self.correlated or negated != (self._negations % 2 == 1):
            return sa.exists().where(item_id == items.c.id, condition)
        return self._in(sa.select(item_id).where(condition))

    def _in(self, ids: sa.Select | sa.CompoundSelect) -> Condition:
        """`items.id IN (ids)`, remembered so that an OR of such terms can become one IN."""
        condition = items.c.id.in_(ids)
        self._memberships[id(condition)] = (condition, ids)
        return condition

    def _either(self, operands: list[Condition]) -> Condition:
        """OR; of membership terms only, one `IN (... UNION ALL ...)`, so each file is probed
        once instead of fetching every match of every term and merging them."""
        selects = [s for o in operands if (s := self._membership_of(o)) is not None]
        if len(selects) == len(operands) and not self.correlated:
            return self._in(_union(selects))
        return _any(operands)

    def _membership_of(self, condition: Condition) -> sa.Select | sa.CompoundSelect | None:
        known, ids = self._memberships.get(id(condition), (None, None))
        return ids if known is condition else None

    def _has_annotation(self, condition: Condition) -> Condition:
        return self._member(annotation_rows.c.item_id, condition)

    def _named_ids(self, column: Column, table: sa.Table, condition: Condition) -> Condition:
        """`column` among the ids of `table` rows meeting `condition` (labels, operations)."""
        named = sa.select(table.c.id).where(condition)
        if self.conn is None:
            return column.in_(named)
        ids: list[str] = []  # filled by `condition` once the whole query has compiled
        self._named.append((ids, named))
        return column.in_(sa.bindparam(None, expanding=True, callable_=lambda: ids))

    def _annotation_term(self, term: Term, parts: tuple[str, ...], path: Path) -> Condition:
        """A term on one annotation row; `parts` is the path after `annotation.`."""
        if not parts:
            raise _error(
                path.column,
                f"expected a field after 'annotation.': {', '.join(ANNOTATION_FIELDS)}, "
                "metadata.<key> or an attribute name",
            )
        field = parts[0].lower()
        if len(parts) == 1 and field in ANNOTATION_FIELDS:
            return self._each(term, lambda op, v: self._annotation_field(field, op, v))
        if field == "metadata" and len(parts) > 1:
            key = ".".join(parts[1:])
            return self._each(
                term, lambda op, v: self._json_scalar(annotation_rows.c.metadata, key, op, v)
            )
        name = ".".join(parts)
        return self._each(term, lambda op, v: self._attribute(name, op, v))

    def _annotation_field(self, field: str, op: str, value: Value) -> Condition:
        if field == "confidence":
            return self._typed(field, annotation_rows.c.confidence, NUMBER, op, value, "annotation")
        if field == "type":
            return self._typed(field, annotation_rows.c.type, TEXT, op, value, "annotation")
        if op == "exists":
            return sa.true()
        if field == "label":
            return self._named_ids(
                annotation_rows.c.label_id, labels, compare_text(labels.c.name, op, value)
            )
        if field == "operation":
            return self._named_ids(
                annotation_rows.c.operation_id,
                operations,
                compare_text(operations.c.name, op, value),
            )
        if op not in ("=", "!="):
            raise _error(value.column, "source is human or machine; compare it with = or !=")
        _check_allowed("annotation", "source", op, value)
        machine = (value.text == "machine") == (op == "=")
        return self._named_ids(
            annotation_rows.c.operation_id, operations, operations.c.is_model_run.is_(machine)
        )

    def _json_scalar(self, column: Column, key: str, op: str, value: Value) -> Condition:
        """A comparison of `column[key]` (JSON) with the metadata rules: numbers match numbers
        and their text, text compares as text."""
        text = json_text(self.dialect, column, key)
        if op == "exists":
            return text.is_not(None)
        if op == "~" or value.number is None:
            return sa.and_(text.is_not(None), compare_text(text, op, value))
        number = json_number(self.dialect, column, key)
        if op == "=":
            return sa.or_(number == value.number, text == value.text)
        if op == "!=":
            return sa.and_(
                text.is_not(None),
                text != value.text,
                sa.or_(number.is_(None), number != value.number),
            )
        return sa.and_(number.is_not(None), _binary(number, op, value.number))

    def _attribute(self, name: str, op: str, value: Value) -> Condition:
        """Some value of the annotation's attribute `name` compares true."""
        element = json_array_elements(self.dialect, annotation_rows.c.attributes, name)
        found = sa.select(sa.literal(1)).select_from(element)
        if op != "exists":
            found = found.where(self._json_scalar(element.c.value, "value", op, value))
        return sa.and_(annotation_rows.c.attributes.is_not(None), found.exists())

    def _count(self, node: Count) -> Condition:
        """`count(cond) <op> n`: files whose annotations meeting `cond` number `<op> n`;
        files with none of them match when 0 itself satisfies the comparison."""
        number = _number("count(...)", node.number)
        if number < 0 or number > MAX_INTEGER or number != int(number):
            raise _error(
                node.number.column,
                f"count(...) compares with a whole number >= 0, found '{node.number.text}'",
            )
        whole = int(number)
        zero_matches = COUNT_OPS[node.op](0, whole)
        names = _label_names(node.condition)
        if names is not None:
            return self._label_count(names, node.op, whole, zero_matches)
        condition = (
            sa.true() if node.condition is None else self._compile(node.condition, INSIDE_COUNT)
        )
        if self.correlated:
            own = sa.select(sa.func.count()).where(annotation_rows.c.item_id == items.c.id)
            return _binary(own.where(condition).scalar_subquery(), node.op, whole)
        grouped = (
            sa.select(annotation_rows.c.item_id)
            .where(condition)
            .group_by(annotation_rows.c.item_id)
            .having(_binary(sa.func.count(), node.op, whole))
        )
        matched = items.c.id.in_(grouped)
        if not zero_matches:
            return matched
        having_none = ~sa.exists().where(annotation_rows.c.item_id == items.c.id, condition)
        return sa.or_(matched, having_none)

    def _label_count(self, names: list[str], op: str, number: int, zero_matches: bool) -> Condition:
        """A count of labels read from the per-file label counts (`item_labels`)."""
        labelled = self._named_ids(item_labels.c.label_id, labels, labels.c.name.in_(names))
        if self.correlated and len(names) > 1:
            total = (
                sa.select(sa.func.coalesce(sa.func.sum(item_labels.c.count), 0))
                .where(item_labels.c.item_id == items.c.id, labelled)
                .scalar_subquery()
            )
            return _binary(total, op, number)
        if len(names) == 1:
            matched = self._member(
                item_labels.c.item_id, sa.and_(labelled, _binary(item_labels.c.count, op, number))
            )
        else:
            matched = items.c.id.in_(
                sa.select(item_labels.c.item_id)
                .where(labelled)
                .group_by(item_labels.c.item_id)
                .having(_binary(sa.func.sum(item_labels.c.count), op, number))
            )
        if not zero_matches:
            return matched
        return sa.or_(matched, ~sa.exists().where(item_labels.c.item_id == items.c.id, labelled))


def _label_names(condition: Node | None) -> list[str] | None:
    """The label names of a count condition that only asks for labels by name
    (`annotation.label = car`, `annotation.label IN [...]`, or the same inside annotation(...))."""
    prefix: tuple[str, ...] = ("annotation", "label")
    if isinstance(condition, Within):
        condition, prefix = condition.condition, ("label",)
    if not isinstance(condition, Comparison | InList):
        return None
    if tuple(p.lower() for p in condition.path.parts) != prefix:
        return None
    if isinstance(condition, Comparison):
        return [condition.value.text] if condition.op == "=" else None
    return [v.text for v in condition.values]
