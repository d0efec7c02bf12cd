"""The query language's syntax tree, as the parser builds it and the compiler reads it.

Every node keeps the 1-based column where it starts, so that a query that parses but means
nothing (an unknown field, a word where a number must be) is refused with its position.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from metalake.errors import InvalidQueryError
from metalake.lake.limits import MAX_INTEGER, MIN_INTEGER

INTEGER = re.compile(r"[+-]?[0-9]+")
DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
LAST_DAY = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Value:
    """A literal as written: a bare word (which may be a number or a date) or a quoted string."""

    text: str
    quoted: bool
    column: int

    @property
    def number(self) -> int | float | None:
        """The value as a number, if it is a bare word written as one (ASCII digits, no `nan`
        or `inf`); an integer stays exact. A number no backend can hold is refused."""
        if self.quoted or not DECIMAL.fullmatch(self.text):
            return None
        if INTEGER.fullmatch(self.text):
            digits = self.text.lstrip("+-").lstrip("0")
            whole = int(self.text) if len(digits) <= len(str(MAX_INTEGER)) else None
            if whole is not None and MIN_INTEGER <= whole <= MAX_INTEGER:
                return whole
            raise InvalidQueryError(
                f"query error at column {self.column}: the integer {self._shown} does not fit in "
                f"64 bits (from {MIN_INTEGER} to {MAX_INTEGER}); quote it to compare it as text"
            )
        number = float(self.text)
        if not math.isfinite(number):
            raise InvalidQueryError(
                f"query error at column {self.column}: the number {self._shown} is too large for "
                "a 64-bit float (at most about 1.8e308); quote it to compare it as text"
            )
        return number

    @property
    def _shown(self) -> str:
        return (
            self.text if len(self.text) <= 40 else f"{self.text[:20]}...({len(self.text)} digits)"
        )

    @property
    def instant(self) -> tuple[datetime, datetime] | None:
        """The time range a date (a whole day) or a date-time (one instant) stands for, in UTC."""
        if self.quoted:
            return None
        try:
            day = date.fromisoformat(self.text)
        except ValueError:
            pass
        else:
            start = datetime.combine(day, time(), UTC)
            return start, start + timedelta(days=1) if day < date.max else LAST_DAY
        try:
            moment = datetime.fromisoformat(self.text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment, moment


@dataclass(frozen=True)
class Path:
    """A dotted field path such as `metadata."Camera Id"`; `parts` are as written."""

    parts: tuple[str, ...]
    column: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Comparison:
    path: Path
    op: str
    value: Value


@dataclass(frozen=True)
class InList:
    path: Path
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Exists:
    path: Path


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Within:
    """`annotation( ... )`: one and the same annotation satisfies the whole condition."""

    condition: Node
    column: int


@dataclass(frozen=True)
class Count:
    """`count( [condition] ) <cmp> <number>`: how many annotations of a file satisfy it."""

    condition: Node | None
    op: str
    number: Value
    column: int


Term = Comparison | InList | Exists
Node = Term | Not | And | Or | Within | Count
