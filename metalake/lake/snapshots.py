"""Selection snapshots: the ids a selection picked, kept under an id for a later call.

A protocol that first names a selection and then acts on it (LayerNext's `getSelectionId`, then
`file/trash`) acts on exactly what was counted, even if files change in between.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from metalake.errors import SelectionNotFoundError
from metalake.ids import new_id
from metalake.lake.clock import utcnow
from metalake.lake.selection import ItemSelection
from metalake.store.database import Database
from metalake.store.schema import items, selection_items, selections

KEEP_FOR = timedelta(days=1)


def take(db: Database, selection: ItemSelection) -> dict[str, Any]:
    """Snapshot the selected live items: `selection_id` and `item_count`.

    Snapshots older than a day are dropped on the way: a snapshot serves the call that follows.
    """
    selection_id = new_id()
    with db.write() as conn:
        selected = selection.where(conn)  # refuses a bad query before anything is written
        _drop_older_than(conn, utcnow() - KEEP_FOR)
        conn.execute(
            selections.insert().values(
                id=selection_id, selection=selection.to_json(), item_count=0, created=utcnow()
            )
        )
        picked = sa.select(sa.literal(selection_id, sa.String), items.c.id).where(*selected)
        conn.execute(selection_items.insert().from_select(["selection_id", "item_id"], picked))
        # counted, not the insert's rowcount: psycopg reports -1 for INSERT ... SELECT here
        count = conn.execute(
            sa.select(sa.func.count()).where(selection_items.c.selection_id == selection_id)
        ).scalar_one()
        conn.execute(
            selections.update().where(selections.c.id == selection_id).values(item_count=count)
        )
    return {"selection_id": selection_id, "item_count": count}


def load(conn: Connection, selection_id: str) -> tuple[ItemSelection, sa.Select]:
    """The selection a snapshot was taken of, and a select of the ids it picked then."""
    data = conn.execute(
        sa.select(selections.c.selection).where(selections.c.id == selection_id)
    ).scalar()
    if data is None:
        raise SelectionNotFoundError(
            f"no selection {selection_id!r}: selections are kept for a day; make it again"
        )
    ids = sa.select(selection_items.c.item_id).where(selection_items.c.selection_id == selection_id)
    return ItemSelection.from_json(data), ids


def _drop_older_than(conn: Connection, cutoff: Any) -> None:
    old = sa.select(selections.c.id).where(selections.c.created < cutoff)
    conn.execute(selection_items.delete().where(selection_items.c.selection_id.in_(old)))
    conn.execute(selections.delete().where(selections.c.created < cutoff))
