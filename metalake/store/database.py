"""Open the metadata database, bring its schema up to date, and hand out transactions.

SQLite (the embedded default) has one writer at a time: write transactions start with
`BEGIN IMMEDIATE` so two writers queue on the busy timeout instead of failing half-way.
A database whose disk is full raises `StorageFullError` from every transaction handed out here,
not the driver's OperationalError.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from metalake.errors import DatabaseUnavailableError, StorageFullError
from metalake.store import schema_snapshot

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_S = 60
SQLITE_FULL = 13
"""SQLite's result code for a write that found no space (on its disk, or past max_page_count)."""
POSTGRES_DISK_FULL = "53100"
"""PostgreSQL's SQLSTATE `disk_full`."""


POSTGRES_SESSION_OPTIONS = "-c max_parallel_workers_per_gather=0 -c random_page_cost=1.1"
"""Planner settings of the lake's PostgreSQL sessions (they override the server's defaults for
them only). A lake's queries are short and many run at once: starting parallel workers costs
more than it saves (a page of 100 taking 34 ms instead of 9 in `bench/query.py`), and with
the default random_page_cost of 4 (tuned for spinning disks) the planner prefers scanning a
whole table to probing an index for a few thousand ids. A URL with its own `options` keeps
them instead."""


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of the SQLite file at `path`."""
    return f"sqlite+pysqlite:///{path}"


def _make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        given = "options" in sa.engine.make_url(url).query
        return sa.create_engine(
            url,
            hide_parameters=True,
            pool_pre_ping=True,
            pool_size=8,
            max_overflow=8,
            connect_args={} if given else {"options": POSTGRES_SESSION_OPTIONS},
        )
    engine = sa.create_engine(
        url,
        hide_parameters=True,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
    )
    # An executemany INSERT goes as multi-row INSERTs (a page of up to 1,000 rows each), not a
    # statement per row: SQLite then journals each page a statement's triggers touch once per
    # page of rows instead of once per row (an upload chunk wrote ~1,450 journal pages).
    engine.dialect.use_insertmanyvalues_wo_returning = True

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("metalake_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def is_unreachable(exc: sa.exc.DBAPIError) -> bool:
    """True if the database could not be reached, dropped the connection or stayed locked:
    trying again later may succeed (unlike a constraint or a syntax error)."""
    return not _is_full(exc) and (
        exc.connection_invalidated
        or isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)
    )


def _is_full(exc: sa.exc.DBAPIError) -> bool:
    """Whether the driver's error says the database has no space left to write."""
    orig = exc.orig
    return (
        getattr(orig, "sqlite_errorcode", None) == SQLITE_FULL
        or getattr(orig, "sqlstate", None) == POSTGRES_DISK_FULL
    )


@contextmanager
def _as_ours() -> Iterator[None]:
    """A database whose disk is full raises StorageFullError; one that cannot be reached, or
    dropped the connection, raises DatabaseUnavailableError (which jobs and clients retry);
    never the driver's text."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        if _is_full(exc):
            raise StorageFullError.of(StorageFullError.DATABASE) from exc
        if not is_unreachable(exc):
            raise
        raise DatabaseUnavailableError(
            "the lake's database could not be reached or dropped the connection "
            f"({type(exc.orig).__name__}); check that it is running, then try again"
        ) from exc


class Database:
    """One metadata database: an engine, its migrations, and read/write transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)
        self.dialect = self.engine.dialect.name
        # SQLite has one writer: queue this process's writers on a lock rather than on SQLite's
        # busy handler, which sleeps in steps of up to 100 ms when threads contend.
        self._writer = threading.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()
        self._joined: ContextVar[Connection | None] = ContextVar(f"write_{id(self)}", default=None)

    def migrate(self, script_location: Path = MIGRATIONS) -> None:
        """Create the schema on first use and apply any migrations newer than the database.

        A new SQLite file gets the schema from its snapshot, and a database already at the
        current revision is left as it is, both without loading Alembic (schema_snapshot.py).
        """
        if script_location == MIGRATIONS:
            # Read first: a lake that is current takes no write lock to open.
            with self.read() as conn:
                if schema_snapshot.is_current(conn):
                    return
            if self.dialect == "sqlite":
                with self.write() as conn:
                    if schema_snapshot.create_if_empty(conn):
                        return
        self.migrate_with_alembic(script_location)

    def migrate_with_alembic(self, script_location: Path = MIGRATIONS) -> None:
        """Apply the migrations in `script_location` that are newer than the database."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext

        config = Config()
        config.set_main_option("script_location", str(script_location))
        with _as_ours(), self.engine.connect() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()
            changed = MigrationContext.configure(conn).get_current_revision() != before
        if changed and before is not None:
            self.refresh_statistics()

    def refresh_statistics(self) -> None:
        """Update the query planner's statistics, so that queries use the right index.

        SQLite samples at most 1000 rows per index (`analysis_limit`): milliseconds on a lake of
        millions, and enough for the planner. PostgreSQL samples on its own terms.
        """
        with self.write() as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction, committed on success and rolled back on any error.

        Inside `transaction()` (same thread) it is a savepoint of that transaction instead.
        """
        joined = self._joined.get()
        if joined is not None:
            with joined.begin_nested():
                yield joined
            return
        with _as_ours(), self._writer, self.engine.connect() as conn:
            conn = conn.execution_options(metalake_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction that the `write()` calls made within it join, so that a call
        built of several writes commits (or rolls back) with what is written beside it."""
        with self.write() as conn:
            token = self._joined.set(conn)
            try:
                yield conn
            finally:
                self._joined.reset(token)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads (one consistent snapshot per transaction)."""
        with _as_ours(), self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
