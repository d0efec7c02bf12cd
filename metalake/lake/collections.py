"""Collections: lookup by name and type, creation with a unique storage name."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from metalake.blobs.keys import CONTROL_CHARACTERS
from metalake.errors import CollectionNotFoundError, InvalidArgumentError
from metalake.ids import new_id
from metalake.lake.clock import iso, utcnow
from metalake.lake.names import storage_name_candidates
from metalake.store.schema import collection_items, collections, items
from metalake.store.upsert import insert_ignore

MAX_NAME_LENGTH = 250
"""Characters of a collection name: its storage name (with a `_NNN` suffix) is a folder name."""


def check_collection_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError("collection name must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH or CONTROL_CHARACTERS.search(name):
        raise InvalidArgumentError(
            f"collection name must be at most {MAX_NAME_LENGTH} characters with no NUL or "
            "control characters"
        )
    return name


def find_by_name(conn: Connection, name: str, content_type: str) -> RowMapping | None:
    query = sa.select(collections).where(
        collections.c.name == name, collections.c.content_type == content_type
    )
    return conn.execute(query).mappings().first()


def get_by_name(conn: Connection, name: str, content_type: str) -> RowMapping:
    row = find_by_name(conn, name, content_type)
    if row is None:
        raise CollectionNotFoundError(f"no {content_type} collection named {name!r}")
    return row


def get_by_id(conn: Connection, collection_id: str) -> RowMapping:
    row = conn.execute(sa.select(collections).where(collections.c.id == collection_id))
    found = row.mappings().first()
    if found is None:
        raise CollectionNotFoundError(f"no collection with id {collection_id!r}")
    return found


def get_or_create(conn: Connection, name: str, content_type: str) -> RowMapping:
    """The collection of this name and type, created with a free storage name if new.

    Safe against a concurrent creator: inserts skip on conflict and the winner's row is read back.
    """
    candidates = storage_name_candidates(name)
    taken_query = sa.select(collections.c.storage_name).where(
        collections.c.storage_name.in_(candidates)
    )
    for _ in range(3):
        existing = find_by_name(conn, name, content_type)
        if existing is not None and existing["trashed_at"] is not None:
            revive(conn, sa.select(collections.c.id).where(collections.c.id == existing["id"]))
            return get_by_name(conn, name, content_type)
        if existing is not None:
            return existing
        taken = set(conn.execute(taken_query).scalars())
        now = utcnow()
        row = {
            "id": new_id(),
            "name": name,
            "content_type": content_type,
            "storage_name": next(c for c in candidates if c not in taken),
            "metadata": {},
            "tags": [],
            "created": now,
            "modified": now,
        }
        insert_ignore(conn, collections, [row])
    return get_by_name(conn, name, content_type)


def collection_dict(conn: Connection, row: RowMapping) -> dict[str, Any]:
    """The public view of a collection: identity, head metadata and tags, and its item count."""
    count = member_count(conn, row["id"])
    return {
        "id": row["id"],
        "name": row["name"],
        "content_type": row["content_type"],
        "storage_name": row["storage_name"],
        "metadata": dict(row["metadata"]),
        "tags": list(row["tags"]),
        "item_count": count,
        "created": iso(row["created"]),
        "modified": iso(row["modified"]),
    }


def member_count(conn: Connection, collection_id: str) -> int:
    """Live items in a collection, uploaded to it or added to it."""
    members = sa.select(collection_items.c.item_id).where(
        collection_items.c.collection_id == collection_id
    )
    query = sa.select(sa.func.count()).where(items.c.id.in_(members), items.c.trashed_at.is_(None))
    return conn.execute(query).scalar_one()


def revive(conn: Connection, ids: sa.Select | sa.CompoundSelect) -> None:
    """Take the collections `ids` picks out of the trash: a collection written to or restored
    from is in use again, so emptying the trash must not remove it."""
    conn.execute(
        collections.update()
        .where(collections.c.id.in_(ids.scalar_subquery()), collections.c.trashed_at.is_not(None))
        .values(trashed_at=None)
    )


def lock(conn: Connection, collection_id: str) -> None:
    """Hold the collection's row lock until the transaction ends (SQLite: writers are serial)."""
    conn.execute(
        sa.select(collections.c.id).where(collections.c.id == collection_id).with_for_update()
    )


def of_item(conn: Connection, item_id: str) -> list[dict[str, Any]]:
    """The live collections holding item `item_id`, by name: `{"id", "name", "content_type"}`."""
    query = (
        sa.select(collections.c.id, collections.c.name, collections.c.content_type)
        .join(collection_items, collection_items.c.collection_id == collections.c.id)
        .where(collection_items.c.item_id == item_id, collections.c.trashed_at.is_(None))
        .order_by(collections.c.name, collections.c.id)
    )
    return [dict(row._mapping) for row in conn.execute(query)]
