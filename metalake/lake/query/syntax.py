"""The query language's syntax tree, as the parser builds it and the compiler reads it.

Every node keeps the 1-based column where it starts, so that a query that parses but means
nothing (an unknown field, a word where a number must be) is refused with its position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta


@dataclass(frozen=True)
class Value:
    """A literal as written: a bare word (which may be a number or a date) or a quoted string."""

    text: str
    quoted: bool
    column: int

    @property
    def number(self) -> float | None:
        """The value as a number, if it is a bare word that reads as a finite one."""
        if self.quoted:
            return None
        try:
            number = float(self.text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None

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
            return start, start + timedelta(days=1)
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
