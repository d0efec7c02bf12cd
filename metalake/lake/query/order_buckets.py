"""The lake's items cut into buckets along a sort order, each bucket a bitmap, for pages.

Bucket i holds the items whose sort keys (key, id) lie from its lower bound up to the next
bucket's, so a page needs only the first buckets whose matches reach its end: it counts each
bucket's matches by intersection, then sorts the matches of those few buckets in SQL (about a
bucket's worth of rows), whatever the share of matches and wherever they sit in the order (a
date filter gathers them in one stretch), and at any depth.

Buckets exist for the orders whose keys Python compares as SQL does (dates and sizes, ties by
the hexadecimal id); a text order may collate otherwise on PostgreSQL. They are patched from the
change log like term bitmaps, and rebuilt when uploads have made one bucket too large.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pyroaring import BitMap
from sqlalchemy.engine import Connection

from metalake.lake.query.bitmaps import bitmap_bytes, in_chunks
from metalake.store.schema import items

BUCKETS = 1024
MIN_BUCKET = 256
"""Items per bucket at least, so a small lake is not cut finer than is worth a statement."""
REBUILD_FACTOR = 4
"""A bucket this many times its share (plus `MIN_BUCKET`) makes the buckets be cut again."""


@dataclass(frozen=True)
class Buckets:
    lowers: list[tuple[Any, ...]]
    """Each bucket's lowest sort keys (key..., id), ascending."""
    bitmaps: list[BitMap]
    size: int
    """Items when the buckets were cut."""

    def index_of(self, keys: tuple[Any, ...]) -> int:
        return max(0, bisect.bisect_right(self.lowers, keys) - 1)

    def too_uneven(self) -> bool:
        share = self.size / max(1, len(self.bitmaps))
        return any(len(b) > REBUILD_FACTOR * share + MIN_BUCKET for b in self.bitmaps)


@dataclass(frozen=True)
class OrderBuckets:
    """The buckets of one sort order (its key columns, the item id last) over the live items
    of one content type, which the order's partial index lists in order."""

    keys: tuple[sa.ColumnElement, ...]
    content_type: str

    def _scope(self) -> sa.ColumnElement[bool]:
        return sa.and_(
            items.c.trashed_at.is_(None),
            items.c.content_type == self.content_type,
            items.c.seq.is_not(None),
        )

    def build(self, conn: Connection) -> Buckets:
        ordered = sa.select(items.c.seq).where(self._scope()).order_by(*self.keys)
        seqs = list(conn.execute(ordered).scalars())
        per = max(MIN_BUCKET, -(-len(seqs) // BUCKETS))
        firsts = seqs[::per]
        bounds = dict(self._keys_of(conn, firsts))
        lowers = [bounds[seq] for seq in firsts]
        bitmaps = [BitMap(seqs[start : start + per]) for start in range(0, len(seqs), per)]
        return Buckets(lowers or [()], bitmaps or [BitMap()], len(seqs))

    def patch(self, conn: Connection, old: Buckets, changed: list[int]) -> Buckets:
        gone = BitMap(changed)
        bitmaps = [bitmap - gone for bitmap in old.bitmaps]
        if old.lowers == [()]:
            return self.build(conn)
        for seq, keys in self._keys_of(conn, changed):
            bitmaps[old.index_of(keys)].add(seq)
        patched = Buckets(old.lowers, bitmaps, old.size)
        return self.build(conn) if patched.too_uneven() else patched

    def size(self, value: Buckets) -> int:
        return sum(bitmap_bytes(b) for b in value.bitmaps) + 64 * len(value.lowers)

    def _keys_of(self, conn: Connection, seqs: Sequence[int]) -> list[tuple[int, tuple[Any, ...]]]:
        found: list[tuple[int, tuple[Any, ...]]] = []
        for chunk in in_chunks(seqs):
            query = sa.select(items.c.seq, *self.keys).where(items.c.seq.in_(chunk), self._scope())
            found.extend((row[0], tuple(row[1:])) for row in conn.execute(query))
        return found


def candidates(
    buckets: Buckets,
    matches: BitMap,
    descending: bool,
    offset: int,
    size: int,
    after: tuple[Any, ...] | None,
) -> tuple[BitMap, int]:
    """The matches of the first buckets (in the order's direction, from the bucket of `after`
    if given) that hold the page, and how many matches the buckets skipped whole held."""
    last = len(buckets.bitmaps) - 1
    start = (last if descending else 0) if after is None else buckets.index_of(after)
    order = range(start, -1, -1) if descending else range(start, last + 1)
    wanted = offset + size
    if after is not None:  # matches of its bucket before `after` are dropped by the caller
        wanted += buckets.bitmaps[start].intersection_cardinality(matches)
    skipped = 0
    chosen = BitMap()
    for index in order:
        bucket = buckets.bitmaps[index]
        held = bucket.intersection_cardinality(matches)
        if not chosen and skipped + held <= offset:
            skipped += held
            continue
        chosen |= bucket & matches
        if skipped + len(chosen) >= wanted:
            break
    return chosen, skipped
