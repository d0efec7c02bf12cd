"""`items.seq IN (a set of ordinals)` bound as one parameter, however many ordinals there are:
a JSON array read by `json_each` on SQLite, an array on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from metalake.store.schema import items


def seq_in(dialect: str, seqs: Iterable[int]) -> sa.ColumnElement[bool]:
    listed = list(seqs)
    if dialect == "postgresql":
        array = sa.bindparam(None, listed, type_=postgresql.ARRAY(sa.BigInteger()))
        return items.c.seq == sa.any_(array)
    values = sa.func.json_each(sa.bindparam(None, orjson.dumps(listed).decode(), type_=sa.Text))
    return items.c.seq.in_(sa.select(sa.column("value")).select_from(values))
