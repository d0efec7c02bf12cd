"""Durable jobs: resumed after a crash without duplicates, failures reported, waiting bounded."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from metalake import Client, JobTimeoutError
from metalake.lake.annotations.store import ensure_operation, replace_annotations
from metalake.lake.annotations.uploads import ANNOTATIONS
from metalake.lake.jobs import RUNNING, load_payload, new_job_row, save_payload
from metalake.store.database import Database, sqlite_url
from metalake.store.schema import items, jobs
from tests.conftest import LakeUnderTest, blob_files, table_counts
from tests.media_factory import make_folder

FILES = 400
CHILD = """
import sys
from metalake import Client
client = Client(home=sys.argv[1], show_progress=False)
result = client.upload_files_to_collection(sys.argv[2], "image", "crash")
print(result["job_id"], flush=True)
client.wait_for_job_complete(result["job_id"])
"""


@pytest.fixture
def client(embedded_client: Client) -> Client:
    """These tests reach into the lake's machinery, so they run embedded only."""
    return embedded_client


def test_a_killed_upload_is_resumed_by_the_next_client(
    tmp_path: Path, lake_home: Path, database_url: str | None
):
    folder = make_folder(tmp_path / "many", FILES)
    env = {**os.environ, "METALAKE_DATABASE_URL": database_url or ""}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(lake_home), str(folder)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    job_id = child.stdout.readline().strip()
    db = Database(database_url or sqlite_url(lake_home / "lake.db"))
    done = 0
    deadline = time.monotonic() + 60
    while done == 0 and time.monotonic() < deadline:
        with db.read() as conn:
            done = conn.execute(sa.select(jobs.c.done).where(jobs.c.id == job_id)).scalar_one()
        time.sleep(0.002)
    child.send_signal(signal.SIGKILL)
    child.wait()
    with db.read() as conn:
        killed = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().one()
    db.close()
    assert killed["status"] == RUNNING and 0 < killed["done"] < FILES, dict(killed)

    with Client(home=lake_home, database_url=database_url, show_progress=False) as client:
        assert client.wait_for_job_complete(job_id, timeout=60)["job_status"] == "COMPLETED"
        job = client.get_job(job_id)
        assert (job["done"], job["skipped"], job["failed"]) == (FILES, 0, 0)
        assert client.get_item_count_from_metalake("image") == FILES
        assert table_counts(LakeUnderTest(lake_home, database_url))["collection_items"] == FILES
        with client._lake.db.read() as conn:
            names = conn.execute(sa.select(items.c.unique_name)).scalars().all()
    assert len(set(names)) == FILES
    assert len(blob_files(lake_home)) == FILES
    assert not list((lake_home / "blobs" / ".tmp").iterdir())


def running_job_of(client: Client, job_type: str, pid: int) -> str:
    """A job row marked running by process `pid` on this host; the worker is then woken."""
    row = new_job_row(job_type, {}, 1, None)
    row.update(status=RUNNING, owner=f"{pid}~{socket.gethostname()}~other")
    with client._lake.db.write() as conn:
        conn.execute(jobs.insert().values(**row))
    client._lake.jobs.wake()
    return row["id"]


def test_a_job_owned_by_a_live_process_is_left_to_it(client: Client):
    job_id = running_job_of(client, "upload", os.getpid())

    with pytest.raises(JobTimeoutError, match=r"still running after 0\.3 s"):
        client.wait_for_job_complete(job_id, timeout=0.3, poll_interval=0.05)
    assert client.get_job(job_id)["status"] == RUNNING


def test_a_job_whose_owner_died_is_claimed_and_an_unknown_type_fails_it(client: Client):
    job_id = running_job_of(client, "no-such-type", 999999999)

    assert client.wait_for_job_complete(job_id, timeout=10) == {
        "is_success": False,
        "job_status": "FAILED",
    }
    assert "job stopped by an error" in client.get_job(job_id)["message"]


def test_a_script_that_exits_without_waiting_still_finishes_its_job(
    tmp_path: Path, lake_home: Path
):
    folder = make_folder(tmp_path / "few", 30)
    script = (
        "import sys\nfrom metalake import Client\n"
        "print(Client(home=sys.argv[1], show_progress=False)"
        ".upload_files_to_collection(sys.argv[2], 'image', 'quick')['job_id'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(lake_home), str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    with Client(home=lake_home, show_progress=False) as client:
        job = client.get_job(done.stdout.strip())
        assert (job["status"], job["done"]) == ("completed", 30)


def test_an_annotation_job_left_half_done_by_a_dead_process_writes_only_the_rest(
    client: Client, tmp_path: Path
):
    """As a crash leaves it: the first image's chunk committed (done=1), the payload kept."""
    upload = client.upload_files_to_collection(str(make_folder(tmp_path / "i", 3)), "image", "c")
    client.wait_for_job_complete(upload["job_id"])
    ids = [client.get_file_details(f"c_img_00{i}.jpg")["id"] for i in range(3)]
    box = ["rectangle", "car", 1, 2, 3, 4, None, 0.5, None, None]
    first = ["rectangle", "first", 5, 6, 7, 8, None, None, None, None]
    db = client._lake.db
    row = new_job_row(ANNOTATIONS, {"operation_id": "op", "is_model_run": False}, 3, None)
    row.update(status=RUNNING, owner=f"999999999~{socket.gethostname()}~gone", done=1)
    with db.write() as conn:
        replace_annotations(conn, ensure_operation(conn, "op", False), [(ids[0], [first])])
        conn.execute(jobs.insert().values(**row))
        save_payload(conn, row["id"], orjson.dumps([[i, [box]] for i in ids]))
    client._lake.jobs.wake()

    assert client.wait_for_job_complete(row["id"], timeout=10)["job_status"] == "COMPLETED"
    labels = [
        [a["label"] for a in client.get_file_details(f"c_img_00{i}.jpg")["annotations"]]
        for i in range(3)
    ]
    assert labels == [["first"], ["car"], ["car"]]
    assert client.get_job(row["id"])["done"] == 3
    assert load_payload(db, row["id"]) is None
