"""Counts and pages of a selection, answered from term bitmaps instead of per matching row.

A selection's matches are the AND of bitmaps (live items, the scope, the query's terms, the
filter's), so its count is a cardinality. A page is found the cheapest way, chosen from those
exact counts rather than from the SQL planner's estimates:

- a page by date or size takes the matches of the few order buckets that hold it
  (lake/query/order_buckets.py), at any share and any depth;
- by name, a broad selection walks the order's index and keeps the items in the bitmap,
  reading about `page_size / share` rows, and a narrow one sorts its matches by their ordinals
  (`seq IN (...)`), a few thousand rows;
- a shallow page of a whole content type, or of the files uploaded to a collection, skips
  through the order index; whatever is left (an order without an index, more matches than
  `CANDIDATE_LIMIT` that a walk does not find) is the plain SQL query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pyroaring import BitMap
from sqlalchemy.engine import Connection

from metalake.lake import collections
from metalake.lake.query.bitmaps import ConditionOf, QueryBitmaps
from metalake.lake.query.compiler import QueryCompiler
from metalake.lake.query.order_buckets import OrderBuckets, candidates
from metalake.lake.records import check_page
from metalake.lake.selection import SORT_FIELDS, ItemSelection, SortOrder
from metalake.store.schema import collection_items, items
from metalake.store.seq_sets import seq_in

LIVE = items.c.trashed_at.is_(None)
FEW_MATCHES = 5_000
"""Matches that a page always sorts by their ordinals: a bounded cost, wherever they sit in the
sort order, and less than visiting every order bucket for matches spread thin over them."""
WALK_LIMIT = 20_000
"""Rows of an order index a page may expect to walk; it gives up after `WALK_GIVE_UP` times as
many (matches gathered far down the order) and the page is found another way."""
WALK_GIVE_UP = 4
CANDIDATE_LIMIT = 50_000
"""Matches that a page sorts by their ordinals at most; beyond, the plain query runs."""
FIRST_BATCH, LAST_BATCH = 256, 20_000
WALKABLE = ("date_modified", "date_created", "name")
"""Sort orders with a partial index on (content type, key, id) over live items."""
BUCKETED = ("date_modified", "date_created", "size")
"""Sort orders paged from order buckets (lake/query/order_buckets.py)."""
SHALLOW = 1_000
"""Items a page of a whole scope skips in its order index rather than by order buckets."""


@dataclass(frozen=True)
class Matches:
    """A selection's matches, and the live items of its content type (what the walk sees)."""

    items: BitMap
    universe: BitMap
    content_type: str
    uploaded_to: str | None
    """The collection when the selection is exactly the files uploaded to it (none added)."""


def matches(bitmaps: QueryBitmaps, selection: ItemSelection) -> Matches:
    """The bitmap of the items `selection` picks (a refused query runs no SQL)."""
    conn = bitmaps.conn
    if selection.tree is not None:
        QueryCompiler(conn.dialect.name).condition(selection.tree)
    live = bitmaps.term(("live",), lambda _probe: LIVE)
    uploaded_to = None
    if selection.collection_id is None:
        content_type = selection.content_type or ""
        scope = bitmaps.term(
            ("type", content_type), lambda _p: items.c.content_type == content_type
        )
        universe = live & scope
        found = universe
    else:
        collection = collections.get_by_id(conn, selection.collection_id)
        content_type = collection["content_type"]
        cid = collection["id"]
        universe = live & bitmaps.term(
            ("type", content_type), lambda _p: items.c.content_type == content_type
        )
        members = bitmaps.term(("member", cid), lambda probe: _member_of(cid, probe))
        uploaded = bitmaps.term(("uploaded", cid), lambda _p: items.c.collection_id == cid)
        found = live & members
        if members == uploaded:
            uploaded_to = cid
    if selection.tree is not None:
        found = found & bitmaps.tree(selection.tree)
    for key, condition in selection.filter.terms():
        found = found & bitmaps.term(("filter", *key), _always(condition))
    return Matches(found, universe, content_type, uploaded_to)


def _always(condition: sa.ColumnElement[bool]) -> ConditionOf:
    """A term whose condition is the same whether finding matches or probing given items."""
    return lambda _probe: condition


def _of_type(bitmaps: QueryBitmaps, content_type: str) -> BitMap:
    return bitmaps.term(("type", content_type), lambda _p: items.c.content_type == content_type)


def _member_of(collection_id: str, probe: bool) -> sa.ColumnElement[bool]:
    mine = collection_items.c.collection_id == collection_id
    if probe:
        return sa.exists().where(collection_items.c.item_id == items.c.id, mine)
    return items.c.id.in_(sa.select(collection_items.c.item_id).where(mine))


def page_ids(
    bitmaps: QueryBitmaps,
    selection: ItemSelection,
    found: Matches,
    sort: SortOrder,
    page_index: int,
    page_size: int,
    after: Sequence[Any] | None = None,
) -> list[str]:
    """The ids of one page of `found` in `sort` order: page `page_index`, or with `after`
    (the sort keys of the previous page's last item, id last) the page that follows it."""
    check_page(page_index, page_size)
    conn = bitmaps.conn
    offset = page_index * page_size
    if len(found.items) - offset <= 0:
        return []
    past = None if after is None else _past(sort, after)
    bucketed = sort.sort_by_field in BUCKETED and found.items <= found.universe
    whole = selection.is_everything and (selection.collection_id is None or found.uploaded_to)
    if whole and (offset < SHALLOW or not bucketed):
        return _scope_page(conn, found, sort, offset, page_size, past)
    if bucketed and len(found.items) > FEW_MATCHES:
        keys = tuple(sort_keys(sort))
        buckets = bitmaps.value(
            ("order", sort.sort_by_field, found.content_type),
            OrderBuckets(keys, found.content_type),
        )
        chosen, skipped = candidates(
            buckets,
            found.items,
            sort.sort_order == "DESC",
            offset,
            page_size,
            None if after is None else tuple(after),
        )
        ordered = sa.select(items.c.id).where(seq_in(conn.dialect.name, chosen))
        if past is not None:
            ordered = ordered.where(past)
        return _ids(conn, ordered, sort, offset - skipped, page_size)
    if len(found.items) > FEW_MATCHES:
        share = len(found.items) / max(1, len(found.universe))
        walkable = sort.sort_by_field in WALKABLE and found.items <= found.universe
        if walkable and (offset + page_size) / share <= WALK_LIMIT:
            page = _walk(conn, found, sort, offset, page_size, past)
            if page is not None:
                return page
    if len(found.items) <= CANDIDATE_LIMIT:
        ordered = sa.select(items.c.id).where(seq_in(conn.dialect.name, found.items))
    else:
        ordered = sa.select(items.c.id).where(*selection.where(conn))
    if past is not None:
        ordered = ordered.where(past)
    return _ids(conn, ordered, sort, offset, page_size)


def sort_keys(sort: SortOrder) -> list[sa.ColumnElement]:
    """The columns a sort order compares, the item id last."""
    return [*SORT_FIELDS[sort.sort_by_field], items.c.id]


def _past(sort: SortOrder, after: Sequence[Any]) -> sa.ColumnElement[bool]:
    """Items past the sort keys `after` in the order `sort`."""
    keys = sort_keys(sort)
    bound = sa.tuple_(*keys)
    values = sa.tuple_(*(sa.literal(v, k.type) for v, k in zip(after, keys, strict=True)))
    return bound < values if sort.sort_order == "DESC" else bound > values


def _ids(
    conn: Connection, query: sa.Select, sort: SortOrder, offset: int, page_size: int
) -> list[str]:
    paged = query.order_by(*sort.columns()).limit(page_size).offset(offset)
    return list(conn.execute(paged).scalars())


def _scope_page(
    conn: Connection,
    found: Matches,
    sort: SortOrder,
    offset: int,
    page_size: int,
    past: sa.ColumnElement[bool] | None,
) -> list[str]:
    """A page of all the live files of a content type, or of those uploaded to a collection:
    the order indexes skip to any offset on their own."""
    if found.uploaded_to is None:
        scope = items.c.content_type == found.content_type
    else:
        scope = items.c.collection_id == found.uploaded_to
    query = sa.select(items.c.id).where(LIVE, scope)
    if past is not None:
        query = query.where(past)
    return _ids(conn, query, sort, offset, page_size)


def _walk(
    conn: Connection,
    found: Matches,
    sort: SortOrder,
    offset: int,
    size: int,
    past: sa.ColumnElement[bool] | None,
) -> list[str] | None:
    """Read the live items of the content type in sort order, batch by batch (each batch
    starting after the last row read), keeping those in the bitmap; None if the matches are
    not met within `WALK_GIVE_UP` times the rows expected."""
    base = (
        sa.select(items.c.seq, items.c.id)
        .where(LIVE, items.c.content_type == found.content_type)
        .order_by(*sort.columns())
    )
    share = len(found.items) / max(1, len(found.universe))
    expected = (offset + size) / share
    batch = min(LAST_BATCH, max(FIRST_BATCH, int(expected * 1.25)))
    page: list[str] = []
    skipped = walked = 0
    while walked <= expected * WALK_GIVE_UP:
        query = base if past is None else base.where(past)
        rows = conn.execute(query.limit(batch)).all()
        walked += len(rows)
        for seq, item_id in rows:
            if seq in found.items:
                if skipped < offset:
                    skipped += 1
                    continue
                page.append(item_id)
                if len(page) == size:
                    return page
        if len(rows) < batch:
            return page
        past = _past(sort, last_keys(conn, sort, rows[-1][1]))
        batch = min(LAST_BATCH, batch * 2)
    return None


def last_keys(conn: Connection, sort: SortOrder, item_id: str) -> list[Any]:
    """The sort keys of item `item_id`, read by id (reading them for every walked row would
    cost more than the walk)."""
    return list(conn.execute(sa.select(*sort_keys(sort)).where(items.c.id == item_id)).one())
