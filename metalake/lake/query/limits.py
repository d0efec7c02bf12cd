"""The documented limits of a query, in one place (docs/limits.md lists them).

A query past any of them is refused with `InvalidQueryError` naming the limit, before any SQL
runs. They are set so that the largest query within them compiles to SQL that SQLite (at most
500 terms per compound SELECT, expression trees at most 1000 deep) and PostgreSQL both accept,
and runs in well under a second on a small lake; the parser and compiler never recurse deeper
than `MAX_DEPTH` levels.
"""

from __future__ import annotations

MAX_QUERY_LENGTH = 10_000
"""Characters in one query."""

MAX_DEPTH = 20
"""Nesting levels: a term is one level, and each `( )`, NOT, annotation(...) and count(...)
around it adds one. SQLite's parser (a stack of 100) takes 28 to 50 levels of our SQL,
depending on the terms; 20 leaves room for the groups that long AND/OR lists add."""

MAX_TERMS = 1_000
"""Terms (comparisons, IN lists, EXISTS tests and count(...)) in one query."""

MAX_IN_VALUES = 1_000
"""Values in one IN list."""

MAX_PATTERN_LENGTH = 200
"""Characters in one `~` pattern."""

MAX_WILDCARDS = 20
"""Wildcards (`*` and `?`) in one `~` pattern."""

ALLOWED_CONTROL_CHARACTERS = "\t\n\r"
"""The only control characters a query may hold (as white space); NUL and the others are
refused, the same on both backends."""
