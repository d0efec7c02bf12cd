"""A new SQLite lake is made from the schema snapshot, not by Alembic: the two give the same
database, object by object and row by row, and a lake at the current revision opens without
loading Alembic; older lakes are still migrated by it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from metalake.store.database import MIGRATIONS, Database, sqlite_url
from metalake.store.schema_snapshot import revision_of, snapshot
from tests.test_store import HEAD

REGENERATE = "regenerate it with `python -m metalake.store.schema_snapshot`"


def _contents(db: Database) -> tuple[set[tuple], dict[str, list[tuple]]]:
    """Every schema object (type, name, table, SQL) and every table's rows, but the lake's
    random id and the planner's statistics (a migrated lake's are refreshed)."""
    with db.read() as conn:
        objects = set(
            conn.exec_driver_sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name != 'sqlite_stat1'"
            ).all()
        )
        tables = [name for kind, name, _, _ in objects if kind == "table" and name != "lake_info"]
        rows = {
            name: sorted(conn.exec_driver_sql(f'SELECT * FROM "{name}"').all(), key=repr)
            for name in tables
        }
    return objects, rows


def test_the_snapshot_builds_what_the_migrations_build(tmp_path: Path):
    with Database(sqlite_url(tmp_path / "migrated.db")) as migrated:
        migrated.migrate_with_alembic()
        expected = _contents(migrated)
    with Database(sqlite_url(tmp_path / "snapshot.db")) as made:
        made.migrate()
        got = _contents(made)
        with made.read() as conn:
            assert revision_of(conn) == HEAD == snapshot()["revision"], REGENERATE
    assert got[0] == expected[0], REGENERATE
    assert got[1] == expected[1]
    assert len(expected[0]) > 100


def test_an_older_lake_is_migrated_by_alembic(tmp_path: Path):
    previous = f"{int(HEAD) - 1:04d}"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with Database(sqlite_url(tmp_path / "old.db")) as old, old.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, previous)
        conn.commit()
        assert revision_of(conn) == previous
    with Database(sqlite_url(tmp_path / "old.db")) as old:
        old.migrate()
        with old.read() as conn:
            assert revision_of(conn) == HEAD
    with Database(sqlite_url(tmp_path / "new.db")) as new:
        new.migrate()
        assert _contents(old)[0] == _contents(new)[0]


OPEN_TWICE = """
import sys
from metalake import Client
for _ in range(2):
    with Client(home=sys.argv[1], show_progress=False) as client:
        client.list_collections()
        print("alembic" in sys.modules)
"""


def test_a_lake_is_made_and_reopened_without_loading_alembic(tmp_path: Path):
    out = subprocess.run(
        [sys.executable, "-c", OPEN_TWICE, str(tmp_path / "lake")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["False", "False"]
    with Database(sqlite_url(tmp_path / "lake" / "lake.db")) as db, db.read() as conn:
        assert revision_of(conn) == HEAD
        assert conn.exec_driver_sql("SELECT count(*) FROM lake_info").scalar() == 1
