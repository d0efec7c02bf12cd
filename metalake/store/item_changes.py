"""Item ordinals and the change log that keeps caches of term matches exact.

Every item gets a `seq` when it is registered: on PostgreSQL from the `items_seq` sequence, on
SQLite one past the highest ever given (writers there are serialised). Triggers (migration 0012)
record in `item_changes` each item whose queryable facts a write touched. A reader takes a
`position` first, builds from the rows it then sees, and later asks for the items changed since
that position: anything written meanwhile is reported again, which is harmless because a cache
re-evaluates those items rather than applying a delta.

On SQLite `change` is a counter, and positions are its highest value (commits happen in counter
order). On PostgreSQL it is the writing transaction's id, which does not follow commit order, so
a position is the oldest transaction still running (the snapshot's xmin): every change by an
older transaction is visible to whoever took it, and every later one is reported again.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from metalake.store.schema import item_changes, items

SEQUENCE = "items_seq"


def next_seqs(conn: Connection, n: int) -> list[int]:
    """`n` fresh item ordinals, inside the write transaction that registers the items."""
    if n <= 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            sa.text(f"SELECT nextval('{SEQUENCE}') FROM generate_series(1, :n)"), {"n": n}
        )
        return [int(seq) for (seq,) in rows]
    highest = conn.execute(
        sa.select(
            sa.func.max(
                sa.func.coalesce(sa.select(sa.func.max(items.c.seq)).scalar_subquery(), 0),
                sa.func.coalesce(sa.select(sa.func.max(item_changes.c.seq)).scalar_subquery(), 0),
            )
        )
    ).scalar_one()
    return list(range(int(highest) + 1, int(highest) + 1 + n))


def position(conn: Connection) -> int:
    """Where the change log stands now; take it before reading what it will cover."""
    if conn.dialect.name == "postgresql":
        return int(
            conn.exec_driver_sql(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
            ).scalar_one()
        )
    return int(
        conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(item_changes.c.change), 0))
        ).scalar_one()
    )


def covers(conn: Connection, since: int, now: int) -> bool:
    """True when what was read at position `since` is known to be current at `now`: on SQLite
    when nothing was logged in between; never on PostgreSQL, where a position stays put while
    an old transaction runs although younger ones commit changes."""
    return conn.dialect.name != "postgresql" and since >= now


def later(dialect: str, change: int, since: int) -> bool:
    """Whether a change logged as `change` is one a reader at position `since` must see."""
    return change >= since if dialect == "postgresql" else change > since


def changes_since(conn: Connection, since: int, limit: int) -> list[tuple[int, int]] | None:
    """(ordinal, change) of the items changed since position `since` (deleted ones included),
    or None when there are more than `limit` of them, for the caller to rebuild instead."""
    if conn.dialect.name == "postgresql":
        after = item_changes.c.change >= since
    else:
        after = item_changes.c.change > since
    query = sa.select(item_changes.c.seq, item_changes.c.change).where(after).limit(limit + 1)
    found = conn.execute(query).all()
    return None if len(found) > limit else [(int(seq), int(change)) for seq, change in found]


def changed_since(conn: Connection, since: int, limit: int) -> list[int] | None:
    """The ordinals of `changes_since`."""
    found = changes_since(conn, since, limit)
    return None if found is None else [seq for seq, _change in found]
