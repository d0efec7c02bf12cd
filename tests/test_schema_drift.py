"""The Alembic migrations build exactly the schema that metalake/store/schema.py declares, on a
fresh database of each backend: the code queries the declared tables, users get the migrated
ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from metalake.store.database import Database, sqlite_url
from metalake.store.schema import metadata
from tests.conftest import fresh_postgres_database

# The wildcard name search (store/name_search.py, migration 0006) is per backend by nature and
# so outside the declared metadata: on SQLite an FTS5 virtual table with its shadow tables, on
# PostgreSQL a pg_trgm GIN index on lower(file_name) that SQLAlchemy cannot declare portably.
NAME_SEARCH_TABLE = "items_name_search"
NAME_SEARCH_INDEX = "ix_items_name_trigram"


def _declared_elsewhere(name: str | None, kind: str, _parent: dict[str, Any]) -> bool:
    """Alembic's include_name hook: False for the name search's objects."""
    if kind == "table":
        return not (name or "").startswith(NAME_SEARCH_TABLE)
    return not (kind == "index" and name == NAME_SEARCH_INDEX)


def _drift(url: str) -> list[Any]:
    db = Database(url)
    try:
        db.migrate()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "include_name": _declared_elsewhere,
                },
            )
            return compare_metadata(context, metadata)
    finally:
        db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_the_declared_schema(backend: str, tmp_path: Path):
    """From an empty database: the other tests' PostgreSQL databases are copies of one migrated
    database."""
    if backend == "sqlite":
        assert _drift(sqlite_url(tmp_path / "lake.db")) == []
        return
    with fresh_postgres_database(migrated=False) as url:
        assert _drift(url) == []
