"""The lake's identity: a random id made with its database (migration 0013)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from metalake.store.database import Database
from metalake.store.schema import lake_info
from metalake.store.upsert import insert_ignore

LAKE_ID = "lake_id"


def lake_id(db: Database) -> str:
    """The lake's id; a new one if its row was deleted (a lake emptied by hand)."""
    query = sa.select(lake_info.c.value).where(lake_info.c.name == LAKE_ID)
    with db.read() as conn:
        found = conn.execute(query).scalar()
    if found is not None:
        return found
    with db.write() as conn:
        insert_ignore(conn, lake_info, [{"name": LAKE_ID, "value": uuid.uuid4().hex}])
        return conn.execute(query).scalar_one()
