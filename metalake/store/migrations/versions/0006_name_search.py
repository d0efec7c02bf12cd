"""name search: a trigram index for wildcard queries on file names

SQLite: an FTS5 table with the trigram tokenizer over items.file_name, kept in step by triggers.
PostgreSQL: a pg_trgm GIN index on lower(file_name), if the extension can be created here
(without it, name wildcards still work, by scanning).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:50:00.000000
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

SQLITE_UP = [
    "CREATE VIRTUAL TABLE items_name_search USING fts5("
    "file_name, content='items', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER items_name_search_insert AFTER INSERT ON items BEGIN "
    "INSERT INTO items_name_search(rowid, file_name) VALUES (new.rowid, new.file_name); END",
    "CREATE TRIGGER items_name_search_delete AFTER DELETE ON items BEGIN "
    "INSERT INTO items_name_search(items_name_search, rowid, file_name) "
    "VALUES ('delete', old.rowid, old.file_name); END",
    "CREATE TRIGGER items_name_search_update AFTER UPDATE OF file_name ON items BEGIN "
    "INSERT INTO items_name_search(items_name_search, rowid, file_name) "
    "VALUES ('delete', old.rowid, old.file_name); "
    "INSERT INTO items_name_search(rowid, file_name) VALUES (new.rowid, new.file_name); END",
    "INSERT INTO items_name_search(items_name_search) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER items_name_search_update",
    "DROP TRIGGER items_name_search_delete",
    "DROP TRIGGER items_name_search_insert",
    "DROP TABLE items_name_search",
]
PG_INDEX = "ix_items_name_trigram"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm is not available (%s): name wildcards will scan", exc.orig)
        return
    op.execute(f"CREATE INDEX {PG_INDEX} ON items USING gin (lower(file_name) gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
        return
    op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
