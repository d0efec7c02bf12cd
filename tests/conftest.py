"""Shared fixtures: a lake per test on SQLite and, when configured, on a fresh PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from metalake import Client
from tests.media_factory import make_folder

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
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if not os.environ.get(PG_ENV):
        pytest.skip(PG_SKIP)
    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"metalake_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
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


@pytest.fixture
def lake_home(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def client(lake_home: Path, database_url: str | None) -> Iterator[Client]:
    with Client(home=lake_home, database_url=database_url, show_progress=False) as c:
        yield c


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """A folder of 5 small, distinct JPEGs named img_000.jpg .. img_004.jpg."""
    return make_folder(tmp_path / "images", 5)


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


def table_counts(client: Client) -> dict[str, int]:
    """Rows in every table of the client's lake: proof that a refused call changed nothing."""
    from metalake.store.schema import metadata

    with client._lake.db.read() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in metadata.tables.items()
        }
