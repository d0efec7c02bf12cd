"""Dialect-aware INSERT ... ON CONFLICT helpers, the one place the backends differ in writes."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def _from_select(rows: sa.Select) -> sa.Select:
    """SQLite needs a WHERE in INSERT ... SELECT ... ON CONFLICT to parse it unambiguously."""
    return rows.where(sa.true())


def _insert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignore(
    conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]] | sa.Select
) -> None:
    """Insert rows (or the rows of a SELECT), skipping any that collide with an existing key."""
    stmt = _insert(conn, table)
    if isinstance(rows, sa.Select):
        names = list(rows.selected_columns.keys())
        conn.execute(stmt.from_select(names, _from_select(rows)).on_conflict_do_nothing())
    elif rows:
        conn.execute(stmt.on_conflict_do_nothing(), list(rows))


def upsert(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]] | sa.Select,
    keys: Sequence[str],
) -> None:
    """Insert rows, replacing the non-key columns of rows whose `keys` already exist."""
    if not isinstance(rows, sa.Select):
        if rows:
            statement = _upsert_rows(conn.dialect.name, table, tuple(rows[0]), tuple(keys))
            conn.execute(statement, list(rows))
        return
    stmt = _insert(conn, table)
    names = list(rows.selected_columns.keys())
    stmt = stmt.from_select(names, _from_select(rows))
    update = {name: stmt.excluded[name] for name in names if name not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=update))


@functools.lru_cache(maxsize=256)
def _upsert_rows(
    dialect: str, table: sa.Table, names: tuple[str, ...], keys: tuple[str, ...]
) -> Any:
    """The upsert of rows of these columns, built once: building it costs more than running it
    for the one-row upserts that run per request (upload parts)."""
    stmt = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    update = {name: stmt.excluded[name] for name in names if name not in keys}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=update)
