"""A new SQLite lake made from a snapshot of its migrated schema, and a lake at the current
revision opened without Alembic.

Importing Alembic and running every migration on an empty file takes about 0.25 s, most of an
embedded client's start-up and of a small upload. `sqlite_schema.json` holds the statements of
the schema the migrations build, in an order that can replay them, and the revision they reach.
A test builds a lake both ways and compares them object by object; regenerate it with
`python -m metalake.store.schema_snapshot` after adding a migration.
"""

from __future__ import annotations

import json
import logging
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

SNAPSHOT = Path(__file__).with_name("sqlite_schema.json")
VERSION_TABLE = "alembic_version"
KIND_ORDER = ("table", "index", "view", "trigger")
"""Replay order: triggers and indexes name tables, and SQLite checks no reference at creation."""


@cache
def snapshot() -> dict[str, Any]:
    """The snapshot: `revision` and `statements`."""
    snap: dict[str, Any] = json.loads(SNAPSHOT.read_text())
    return snap


def revision_of(conn: Connection) -> str | None:
    """The Alembic revision the database is at, or None if it has none yet."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()


def schema_statements(conn: Connection) -> list[str]:
    """The statements that rebuild this SQLite database's schema, in replay order: tables,
    indexes, views, triggers, each kind in creation order, then the rebuild of each full-text
    index. SQLite's own objects (autoindexes, `sqlite_sequence`) and the shadow tables of virtual
    tables come with what makes them."""
    rows = conn.exec_driver_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE "
        "'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
    ).all()
    virtual = [name for _, name, sql in rows if sql.upper().startswith("CREATE VIRTUAL TABLE")]
    kept = [
        (kind, sql)
        for kind, name, sql in rows
        if not any(kind == "table" and name.startswith(f"{v}_") for v in virtual)
    ]
    # The migration rebuilds a full-text index once made, which writes its (empty) totals.
    rebuilt = [
        f"INSERT INTO {name}({name}) VALUES ('rebuild')"
        for _, name, sql in rows
        if "USING FTS5" in sql.upper()
    ]
    return [sql for order in KIND_ORDER for kind, sql in kept if kind == order] + rebuilt


def is_current(conn: Connection) -> bool:
    """Whether the database is at the snapshot's revision (the newest migration's)."""
    return revision_of(conn) == snapshot()["revision"]


def create_if_empty(conn: Connection) -> bool:
    """Make an empty SQLite database the snapshot's schema; True if it is at the snapshot's
    revision now, False if Alembic must migrate it. Run inside a write transaction, so that two
    processes opening a new lake at once do not both create it."""
    current = snapshot()["revision"]
    revision = revision_of(conn)
    if revision is not None:
        return revision == current
    if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar():
        return False
    for statement in snapshot()["statements"]:
        conn.exec_driver_sql(statement)
    conn.exec_driver_sql(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (?)", (current,))
    log.info("made a new lake database at schema revision %s", current)
    return True


def main() -> None:
    """Write the snapshot of what the migrations build on an empty SQLite file."""
    from metalake.store.database import Database, sqlite_url

    with (
        tempfile.TemporaryDirectory() as folder,
        Database(sqlite_url(Path(folder) / "lake.db")) as db,
    ):
        db.migrate_with_alembic()
        with db.read() as conn:
            revision, statements = revision_of(conn), schema_statements(conn)
    text = json.dumps({"revision": revision, "statements": statements}, indent=1)
    SNAPSHOT.write_text(text + "\n")


if __name__ == "__main__":
    main()
