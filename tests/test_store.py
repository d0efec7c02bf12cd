"""The metadata database: created on first use, WAL on SQLite, migrations keep old lakes open."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from metalake import Client
from metalake.store.database import MIGRATIONS, Database, sqlite_url
from tests.conftest import upload_and_wait

HEAD = max(path.name.split("_")[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))
"""The newest revision this checkout ships (revisions are numbered in order)."""

FUTURE_MIGRATION = f"""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{HEAD}"


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("note", sa.Text, nullable=True))
"""


@pytest.fixture
def client(embedded_client: Client) -> Client:
    """These tests reach into the lake's machinery, so they run embedded only."""
    return embedded_client


def test_sqlite_lake_is_created_on_first_use_in_wal_mode(lake_home: Path):
    with Client(home=lake_home, show_progress=False):
        pass
    assert (lake_home / "lake.db").is_file()
    db = Database(sqlite_url(lake_home / "lake.db"))
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD
    db.close()


def test_a_lake_opens_after_a_later_schema_change(
    client: Client, images: Path, tmp_path: Path, lake_home: Path, database_url: str | None
):
    upload_and_wait(client, str(images), "image", "col", {"Site": "A"})
    future = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, future, ignore=shutil.ignore_patterns("__pycache__"))
    (future / "versions" / "9999_add_note.py").write_text(FUTURE_MIGRATION)

    db = Database(database_url or sqlite_url(lake_home / "lake.db"))
    db.migrate(future)
    db.migrate(future)
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "9999"
        columns = {c["name"] for c in sa.inspect(conn).get_columns("items")}
        assert "note" in columns
        assert conn.exec_driver_sql("SELECT count(*) FROM items").scalar() == 5
    db.close()
    assert client.get_file_details("col_img_000.jpg")["metadata"] == {"Site": "A"}


def test_reopening_a_lake_keeps_everything(lake_home: Path, images: Path, database_url: str | None):
    with Client(home=lake_home, database_url=database_url, show_progress=False) as client:
        result = upload_and_wait(client, str(images), "image", "col", {"Tags": ["t"]})
    with Client(home=lake_home, database_url=database_url, show_progress=False) as client:
        assert client.get_item_count_from_collection(result["collection_id"]) == 5
        assert client.get_file_details("col_img_001.jpg")["tags"] == ["t"]
        assert client.get_job(result["job_id"])["status"] == "completed"
