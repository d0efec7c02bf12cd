"""Shared fixtures: a lake per test, embedded (SQLite or a fresh PostgreSQL) or behind a real
`metalake serve` process on a free 127.0.0.1 port, so SDK tests run the same calls both ways.

Served SQLite lakes share one server per session (`fresh_server`), emptied for each test."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from metalake import Client
from metalake.lake.lake import Lake, lake_database
from metalake.server.links import SignedRoutes
from metalake.store.database import Database
from metalake.store.schema import lake_info, metadata
from tests.media_factory import make_folder
from tests.servers import S3Server, Server, SharedServer, seaweedfs, serve

PG_ENV = "METALAKE_TEST_DATABASE_URL"
PG_SKIP = (
    f"PostgreSQL tests need {PG_ENV}, e.g. "
    f"{PG_ENV}=postgresql://postgres@127.0.0.1:5432/postgres (each test gets a fresh database)"
)


def _pg_admin_url() -> str:
    url = os.environ[PG_ENV]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, its schema migrated, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


_template: list[str] = []
"""The session's migrated template database, once made (dropped when the session ends)."""


def _migrated_template(admin: sa.Engine) -> str:
    """The name of a database this session migrated once, with no lake id yet (each copy makes
    its own on first use): copying it takes 0.05 s, migrating an empty database 0.8 s."""
    if not _template:
        name = f"metalake_template_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        with Database(admin.url.set(database=name).render_as_string(hide_password=False)) as db:
            db.migrate()
            with db.write() as conn:
                conn.execute(lake_info.delete())
        _template.append(name)
    return _template[0]


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _template:
        admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{_template[0]}" WITH (FORCE)')
        admin.dispose()


@contextlib.contextmanager
def fresh_postgres_database(migrated: bool = True) -> Iterator[str]:
    """A new PostgreSQL database, dropped on exit: a copy of the session's migrated template,
    or (`migrated=False`) an empty one. Skips the test without a server."""
    if not os.environ.get(PG_ENV):
        pytest.skip(PG_SKIP)
    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"metalake_test_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{_migrated_template(admin)}"' if migrated else ""
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"{template}')
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None for the embedded SQLite default, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServer]:
    """One `metalake serve` for the session's tests of a served SQLite lake (started lazily)."""
    with SharedServer(tmp_path_factory.mktemp("shared")) as shared:
        yield shared


@pytest.fixture
def fresh_server(shared_server: SharedServer) -> Server:
    """The session's shared server over a lake emptied for this test, with a key of its own."""
    return shared_server.fresh()


def uses_shared_server(request: pytest.FixtureRequest) -> bool:
    """Whether the test's lake is the shared server's: it uses `fresh_server`, or its `lake` is
    `remote-sqlite`."""
    callspec = getattr(request.node, "callspec", None)
    remote = callspec is not None and callspec.params.get("lake") == "remote-sqlite"
    return remote or "fresh_server" in request.fixturenames


@pytest.fixture
def lake_home(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The folder of the test's lake: the shared server's if the test uses it, else its own."""
    if uses_shared_server(request):
        return request.getfixturevalue("fresh_server").home
    return tmp_path / "lake"


@dataclass
class LakeUnderTest:
    """One lake as a test sees it: where it lives and, if served, how to reach its server."""

    home: Path
    database_url: str | None = None
    server: Server | None = None

    def client(self, **options: Any) -> Client:
        options.setdefault("show_progress", False)
        if self.server is not None:
            return Client(self.server.url, self.server.key, self.server.secret, **options)
        return Client(home=self.home, database_url=self.database_url, **options)

    def database(self) -> Database:
        return lake_database(self.home, self.database_url)


@contextlib.contextmanager
def lake_for(
    request: pytest.FixtureRequest, home: Path, workers: int = 1
) -> Iterator[LakeUnderTest]:
    """The lake a fixture param such as `remote-postgresql` names: way in, then database.

    `remote-sqlite` with one worker is the shared server (`home` is then its folder)."""
    mode, backend = request.param.split("-")
    database_url = None if backend == "sqlite" else request.getfixturevalue("postgres_url")
    if mode == "embedded":
        yield LakeUnderTest(home, database_url)
        return
    if database_url is None and workers == 1:
        server = request.getfixturevalue("fresh_server")
        yield LakeUnderTest(server.home, None, server)
        return
    with serve(home, database_url, workers=workers) as server:
        yield LakeUnderTest(home, database_url, server)


@pytest.fixture(params=["embedded-sqlite", "embedded-postgresql", "remote-sqlite"])
def lake(request: pytest.FixtureRequest, lake_home: Path) -> Iterator[LakeUnderTest]:
    """The lake of an SDK test: embedded on SQLite or PostgreSQL, or served over HTTP."""
    with lake_for(request, lake_home) as lake:
        yield lake


@pytest.fixture
def embedded_client(lake_home: Path, database_url: str | None) -> Iterator[Client]:
    """A client of an embedded lake, for tests of the lake's own machinery (jobs, store)."""
    with Client(home=lake_home, database_url=database_url, show_progress=False) as c:
        yield c


@pytest.fixture
def client(lake: LakeUnderTest) -> Iterator[Client]:
    with lake.client() as c:
        yield c


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """A folder of 5 small, distinct JPEGs named img_000.jpg .. img_004.jpg."""
    return make_folder(tmp_path / "images", 5)


def links_of(lake: Lake) -> SignedRoutes:
    """The links a server on 127.0.0.1 would hand out, for tests that open upload sessions
    on a lake directly."""
    return SignedRoutes(lake.signer, "http://127.0.0.1")


def upload_and_wait(client: Client, *args: object, **kwargs: object) -> dict:
    result = client.upload_files_to_collection(*args, **kwargs)
    assert client.wait_for_job_complete(result["job_id"]) == {
        "is_success": True,
        "job_status": "COMPLETED",
    }, client.get_job(result["job_id"])
    return result


def blob_files(home: Path) -> list[Path]:
    """Every stored blob (not temp files or thumbnails)."""
    root = home / "blobs"
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0][0] != "."
    )


def table_counts(lake: LakeUnderTest) -> dict[str, int]:
    """Rows in every table of a lake: proof that a refused call changed nothing."""
    with lake.database() as db, db.read() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in metadata.tables.items()
        }


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One real SeaweedFS S3 server for the test session (it checks signatures and expiry)."""
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The S3 server, with this process's AWS settings pointing at it."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture
def s3_storage(s3: S3Server) -> str:
    """A storage URL of a fresh bucket and prefix for one test."""
    return f"s3://lake-{uuid.uuid4().hex[:12]}/blobs"
