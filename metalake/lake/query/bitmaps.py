"""Which items match each term, as compressed bitmaps of item ordinals, cached and kept exact.

A query is a tree of AND, OR and NOT over terms (`metadata.camera = CAM_1`, `annotation(...)`,
`count(...) >= 3`, a collection's members, the live items, a content type). Each term's matches
are built once with one SQL statement, kept here as a roaring bitmap of `items.seq`, and combined
with the tree's operators in microseconds, so a count is a bitmap's cardinality whatever share of
the lake matches. Before a bitmap is used, the items written since it was built (the change log
that database triggers keep, store/item_changes.py) are checked against its term again, one SQL
statement over just those items, so every answer is what a plain SQL count would give.

The cache is per process and bounded in bytes (`METALAKE_TERM_CACHE_MB`, default 256); the least
recently used terms leave first. Values built whole are also saved on disk (query/term_store.py),
so a new process, or a term that left the memory, loads them and catches up from the change log
instead of building them again.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any, Protocol, TypeVar, cast

import sqlalchemy as sa
from pyroaring import BitMap
from sqlalchemy.engine import Connection

from metalake.lake.query.compiler import QueryCompiler
from metalake.lake.query.syntax import And, Node, Not, Or
from metalake.lake.query.term_store import TermStore
from metalake.settings import env_number
from metalake.store import item_changes
from metalake.store.schema import items

T = TypeVar("T")
Condition = sa.ColumnElement[bool]
ConditionOf = Callable[[bool], Condition]
"""A term's condition on `items`: to find its matches (False) or to probe given items (True)."""

PATCH_LIMIT = 50_000
"""Changed items checked one by one before a term is rebuilt instead."""
PROBE_CHUNK = 5_000
"""Item ordinals bound in one statement when probing changed items."""
DEFAULT_CACHE_MB = 256


def cache_bytes() -> int:
    return int(env_number("METALAKE_TERM_CACHE_MB", DEFAULT_CACHE_MB) * 1024 * 1024)


def term_key(node: Node) -> Hashable:
    """A term's cache key: the node without the source columns that say where it was typed."""

    def strip(value: object) -> object:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            parts = [
                (f.name, strip(getattr(value, f.name)))
                for f in dataclasses.fields(value)
                if f.name != "column"
            ]
            return (type(value).__name__, tuple(parts))
        if isinstance(value, tuple):
            return tuple(strip(v) for v in value)
        return value

    return ("query", strip(node))


class Source(Protocol[T]):
    """What a cache entry is made from: built whole, or patched for the items changed since."""

    def build(self, conn: Connection) -> T: ...
    def patch(self, conn: Connection, old: T, changed: list[int]) -> T: ...
    def size(self, value: T) -> int: ...


def bitmap_bytes(bitmap: BitMap) -> int:
    """About what a bitmap holds in memory: its serialised size."""
    return len(bitmap.serialize())


def in_chunks(seqs: Sequence[int]) -> Iterable[list[int]]:
    """Item ordinals in lists small enough to bind in one statement."""
    for start in range(0, len(seqs), PROBE_CHUNK):
        yield list(seqs[start : start + PROBE_CHUNK])


@dataclass(frozen=True)
class TermSource:
    """The items meeting one term's condition."""

    condition: ConditionOf

    def build(self, conn: Connection) -> BitMap:
        query = sa.select(items.c.seq).where(self.condition(False), items.c.seq.is_not(None))
        return BitMap(conn.execute(query).scalars())

    def patch(self, conn: Connection, old: BitMap, changed: list[int]) -> BitMap:
        matching = BitMap()
        probe = self.condition(True)
        for chunk in in_chunks(changed):
            query = sa.select(items.c.seq).where(items.c.seq.in_(chunk), probe)
            matching.update(conn.execute(query).scalars())
        return (old - BitMap(changed)) | matching

    def size(self, value: BitMap) -> int:
        return bitmap_bytes(value)


@dataclass(frozen=True)
class _Entry:
    value: Any
    position: int
    size: int


class MatchCache:
    """Term bitmaps (and facet value bitmaps) asked for lately, patched from the change log on
    use and dropped least recently used first beyond `max_bytes`."""

    def __init__(self, max_bytes: int | None = None, store: TermStore | None = None) -> None:
        self.max_bytes = cache_bytes() if max_bytes is None else max_bytes
        self.store = store
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def get(
        self,
        conn: Connection,
        now: int,
        key: Hashable,
        source: Source[T],
        changed_since: Callable[[int], list[int] | None],
    ) -> T:
        """The value of `source` as of position `now` of the change log (taken before), patched
        with `changed_since(position)` (the items changed since, None if too many)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None and self.store is not None:
            saved = self.store.load(key)
            # A value saved at a position the log has not reached was saved over a database
            # that has since been put back (a restored backup): it cannot be caught up with.
            if saved is not None and saved[1] <= now:
                entry = _Entry(saved[0], saved[1], source.size(saved[0]))
                self._keep(key, entry)
        built = False
        if entry is None:
            value, built = source.build(conn), True
        elif item_changes.covers(conn, entry.position, now):
            return cast(T, entry.value)
        else:
            changed = changed_since(entry.position)
            if changed is None:
                value, built = source.build(conn), True
            elif changed:
                value = source.patch(conn, entry.value, changed)
            else:
                value = entry.value
        self._keep(key, _Entry(value, now, source.size(value)))
        if built and self.store is not None:
            self.store.save(key, value, now)
        return value

    def _keep(self, key: Hashable, entry: _Entry) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._bytes += entry.size
            while self._bytes > self.max_bytes and len(self._entries) > 1:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.size


class QueryBitmaps:
    """One read's view of the cache: terms evaluated at one position of the change log."""

    def __init__(self, cache: MatchCache, conn: Connection) -> None:
        self.cache = cache
        self.conn = conn
        self._now: int | None = None
        self._read_since: int | None = None
        self._read: list[tuple[int, int]] | None = None

    @property
    def now(self) -> int:
        """The change log's position, taken at the first term (so before it is read)."""
        if self._now is None:
            self._now = item_changes.position(self.conn)
        return self._now

    def changed_since(self, since: int) -> list[int] | None:
        """Items changed since position `since`: the terms of one query were mostly brought up
        to date together, so one read of the log serves them all (a round trip each would cost
        more than the patches on PostgreSQL)."""
        if self._read_since is None or since < self._read_since:
            self._read = item_changes.changes_since(self.conn, since, PATCH_LIMIT)
            self._read_since = since
        if self._read is None:
            if since == self._read_since:
                return None
            return item_changes.changed_since(self.conn, since, PATCH_LIMIT)
        dialect = self.conn.dialect.name
        return [seq for seq, change in self._read if item_changes.later(dialect, change, since)]

    def term(self, key: Hashable, condition: ConditionOf) -> BitMap:
        return self.value(key, TermSource(condition))

    def value(self, key: Hashable, source: Source[T]) -> T:
        return self.cache.get(self.conn, self.now, key, source, self.changed_since)

    def everything(self) -> BitMap:
        """Every item, live or trashed: what NOT takes its complement in."""
        return self.term(("all",), lambda _probe: sa.true())

    def tree(self, node: Node) -> BitMap:
        """The items matching a parsed query (that has already compiled)."""
        if isinstance(node, And):
            return reduce(BitMap.__and__, (self.tree(n) for n in node.operands))
        if isinstance(node, Or):
            return reduce(BitMap.__or__, (self.tree(n) for n in node.operands))
        if isinstance(node, Not):
            return self.everything() - self.tree(node.operand)
        dialect = self.conn.dialect.name

        def condition(probe: bool) -> Condition:
            return QueryCompiler(dialect, self.conn, correlated=probe).condition(node)

        return self.term(term_key(node), condition)
