"""Wildcard search on file names through a trigram index, on both backends.

SQLite keeps an FTS5 table with the trigram tokenizer over `items.file_name` (kept in step by
triggers; migration 0006); its LIKE uses the index when the pattern has three literal
characters in a row. PostgreSQL has a pg_trgm GIN index on `lower(file_name)`, which its
planner uses for the plain LIKE by itself.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

items_name_search = sa.Table(
    "items_name_search",
    sa.MetaData(),
    sa.Column("rowid", sa.Integer),
    sa.Column("file_name", sa.Text),
)
"""The SQLite FTS5 table (not part of the lake's schema metadata: migrations create it)."""

LITERAL_RUN = re.compile(r"[^%_]{3,}")


def trigram_candidates(pattern: str) -> sa.ColumnElement[bool] | None:
    """A superset filter of SQLite items whose lower-case name is LIKE `pattern` (with `\\`
    escapes), or None when the pattern has no three literal characters for the index."""
    loose = re.sub(r"\\.", "_", pattern)
    if not LITERAL_RUN.search(loose):
        return None
    matching = sa.select(items_name_search.c.rowid).where(items_name_search.c.file_name.like(loose))
    return sa.literal_column("items.rowid").in_(matching)
