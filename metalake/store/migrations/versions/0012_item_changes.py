"""item ordinals and change log: `items.seq`, `item_changes` and the triggers that fill it

Every item gets a small integer (`seq`) that the lake's term bitmaps use to name it, and every
write to an item or to its metadata, tags or collections records the item in `item_changes`,
from triggers, so that caches of query terms stay exact whatever code path wrote. Annotations
and label counts have no trigger: every write of an item's annotations also sets the item's
`modified`, which the items trigger logs, and a trigger per box doubled the time of an
annotation upload. Existing items are numbered before the triggers exist, so the upgrade logs
nothing.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 17:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SIDE_TABLES = ("item_metadata", "item_tags", "collection_items")
EVENTS = ("insert", "update", "delete")

SQLITE_NEXT_CHANGE = "(SELECT coalesce(max(change), 0) + 1 FROM item_changes)"
PG_FUNCTIONS = {
    "item_changes_by_seq": "SELECT DISTINCT seq FROM changed_rows WHERE seq IS NOT NULL",
    "item_changes_by_item": (
        "SELECT DISTINCT i.seq FROM changed_rows c JOIN items i ON i.id = c.item_id "
        "WHERE i.seq IS NOT NULL"
    ),
}


def _triggers() -> list[tuple[str, str, str]]:
    """(trigger name, table, event) of every trigger this migration makes."""
    tables = ("items", *SIDE_TABLES)
    return [(f"item_changes_{table}_{event}", table, event) for table in tables for event in EVENTS]


def _sqlite_trigger(name: str, table: str, event: str) -> str:
    row = "old" if event == "delete" else "new"
    if table == "items":
        source = f"SELECT {row}.seq WHERE {row}.seq IS NOT NULL"
    else:
        source = f"SELECT seq FROM items WHERE id = {row}.item_id AND seq IS NOT NULL"
    logged = source.replace("SELECT", f"SELECT {SQLITE_NEXT_CHANGE},", 1)
    return (
        f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} BEGIN "
        f"INSERT INTO item_changes(change, seq) {logged} "
        "ON CONFLICT (seq) DO UPDATE SET change = excluded.change; END"
    )


def _pg_function(name: str, changed: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO item_changes(seq, change) "
        f"SELECT seq, pg_current_xact_id()::text::bigint FROM ({changed}) AS changed "
        "ON CONFLICT (seq) DO UPDATE SET change = excluded.change; "
        "RETURN NULL; END $$"
    )


def _pg_trigger(name: str, table: str, event: str) -> str:
    rows = "OLD" if event == "delete" else "NEW"
    function = "item_changes_by_seq" if table == "items" else "item_changes_by_item"
    return (
        f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} "
        f"REFERENCING {rows} TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.add_column("items", sa.Column("seq", sa.BigInteger))
    if postgres:
        op.execute("CREATE SEQUENCE items_seq")
        op.execute("UPDATE items SET seq = nextval('items_seq')")
    else:
        op.execute("UPDATE items SET seq = rowid")
    op.create_index("ix_items_seq", "items", ["seq"], unique=True)
    op.create_index("ix_items_id_seq", "items", ["id", "seq"])
    op.create_table(
        "item_changes",
        sa.Column("seq", serial, primary_key=True, autoincrement=False),
        sa.Column("change", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_item_changes_change", "item_changes", ["change"])
    if postgres:
        for name, changed in PG_FUNCTIONS.items():
            op.execute(_pg_function(name, changed))
    for name, table, event in _triggers():
        op.execute(
            _pg_trigger(name, table, event) if postgres else _sqlite_trigger(name, table, event)
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table, _event in _triggers():
        op.execute(f"DROP TRIGGER {name} ON {table}" if postgres else f"DROP TRIGGER {name}")
    if postgres:
        for name in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
    op.drop_index("ix_item_changes_change", table_name="item_changes")
    op.drop_table("item_changes")
    op.drop_index("ix_items_id_seq", table_name="items")
    op.drop_index("ix_items_seq", table_name="items")
    op.execute("ALTER TABLE items DROP COLUMN seq")
    if postgres:
        op.execute("DROP SEQUENCE items_seq")
