"""Bulk inserts of many plain rows: the fast path of each backend for annotation-sized loads.

SQLAlchemy's executemany spends most of its time per row on parameter processing; for tens of
thousands of rows of plain values the driver's own bulk path is several times faster:
`executemany` of the compiled INSERT on SQLite, `COPY ... FROM STDIN` on PostgreSQL. Values must
already be in their stored form (JSON columns as JSON text).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def insert_rows(
    conn: Connection, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert `rows` (tuples of values for `columns`) into `table` in the current transaction."""
    driver = conn.connection.driver_connection
    if driver is None:  # only once the pool has invalidated the connection
        raise sa.exc.ResourceClosedError("the database connection is closed")
    if conn.dialect.name == "postgresql":
        quoted = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
        name = conn.dialect.identifier_preparer.format_table(table)
        with driver.cursor() as cursor, cursor.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    statement = table.insert().values({c: sa.bindparam(c) for c in columns})
    compiled = statement.compile(dialect=conn.dialect)
    if list(compiled.positiontup or ()) != list(columns):
        raise ValueError(f"{table.name}: columns {columns} do not compile in order")
    cursor = driver.cursor()
    try:
        cursor.executemany(str(compiled), rows)
    finally:
        cursor.close()
