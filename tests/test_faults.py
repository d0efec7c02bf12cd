"""Faults a lake must survive: kills at the worst instants, outages of its object store and
database. Each test ends with a checker that reads the database and the blobs directly: exact
counts, equal hashes, no orphans and no stray staging."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from metalake import Client
from metalake.errors import DatabaseUnavailableError
from tests.faults import TcpProxy, check_lake, proxy_to
from tests.media_factory import make_folder
from tests.servers import serve


def _wait_dead(process: subprocess.Popen, timeout: float = 60) -> None:
    process.wait(timeout)
    assert process.returncode == -9, f"the server ended with {process.returncode}, not a kill"


@pytest.mark.parametrize("point", ["upload.before_commit:2", "upload.after_commit:2"])
def test_a_server_killed_inside_an_upload_job_finishes_it_on_restart(tmp_path: Path, point):
    """A kill while bytes are under their keys but not yet registered (or registered, but
    their staged copy not yet freed): the restarted server finishes every file."""
    home = tmp_path / "lake"
    files = make_folder(tmp_path / "imgs", 150)
    with serve(home, env={"METALAKE_CRASH_AT": point}) as server:
        with Client(server.url, server.key, server.secret, show_progress=False) as client:
            job_id = client.upload_files_to_collection(str(files), "image", "kills")["job_id"]
        _wait_dead(server.process)
    with serve(home) as server, Client(server.url, server.key, server.secret) as client:
        assert client.wait_for_job_complete(job_id, timeout=120) == {
            "is_success": True,
            "job_status": "COMPLETED",
        }, client.get_job(job_id)
        job = client.get_job(job_id)
        assert (job["done"], job["skipped"], job["failed"]) == (150, 0, 0)
    assert check_lake(home, None) == 150


@pytest.fixture
def s3_link(s3_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy between this process and the S3 server, and a storage URL of a fresh bucket
    reached through it."""
    host, port = s3_server.endpoint.removeprefix("http://").split(":")
    with proxy_to(host, int(port)) as proxy:
        for name, value in s3_server.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{proxy.address}")
        yield proxy, f"s3://outage-{os.getpid()}-{time.monotonic_ns()}/blobs"


def test_an_embedded_upload_waits_through_a_short_object_store_outage(
    s3_link, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
):
    """The store goes down as the job starts and comes back 6 s later (longer than the S3
    client's own retries): every file lands."""
    files = make_folder(tmp_path / "imgs", 40)
    proxy, storage = s3_link
    monkeypatch.setenv("METALAKE_OUTAGE_BUDGET", "60")
    home = tmp_path / "lake"
    with Client(home=home, storage=storage, show_progress=False) as client:
        proxy.down()
        with caplog.at_level(logging.WARNING, logger="metalake.lake.jobs"):
            job_id = client.upload_files_to_collection(str(files), "image", "outage")["job_id"]
            time.sleep(6)
            proxy.up()
            assert client.wait_for_job_complete(job_id, timeout=120)["is_success"]
        job = client.get_job(job_id)
        assert (job["done"], job["failed"]) == (40, 0), job
    assert any("trying again" in r.message for r in caplog.records), "no outage was seen"
    assert check_lake(home, None, storage) == 40


def test_an_outage_longer_than_the_budget_fails_the_job_with_counts_that_add_up(
    s3_link, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    files = make_folder(tmp_path / "imgs", 30)
    proxy, storage = s3_link
    monkeypatch.setenv("METALAKE_OUTAGE_BUDGET", "2")
    home = tmp_path / "lake"
    with Client(home=home, storage=storage, show_progress=False) as client:
        proxy.down()
        job_id = client.upload_files_to_collection(str(files), "image", "outage")["job_id"]
        assert not client.wait_for_job_complete(job_id, timeout=120)["is_success"]
        job = client.get_job(job_id)
    proxy.up()
    assert check_lake(home, None, storage) == 0
    assert job["status"] == "failed"
    assert job["done"] + job["skipped"] + job["failed"] == job["total"] == 30, job
    assert "outage" in job["message"] and "METALAKE_OUTAGE_BUDGET" in job["message"]
    assert "http" not in job["message"] and "127.0.0.1" not in job["message"], job["message"]
    assert len(job["errors"]) == 30 and "object store" in job["errors"][0]["reason"]


def test_an_upload_job_and_requests_survive_dropped_database_connections(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
):
    """The database link is cut as an upload job runs and comes back 2 s later: the job
    finishes every file; a request on a cut link raises our error, the next one works."""
    import sqlalchemy as sa

    url = sa.engine.make_url(postgres_url)
    files = make_folder(tmp_path / "imgs", 300)
    monkeypatch.setenv("METALAKE_OUTAGE_BUDGET", "60")
    with proxy_to(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        home = tmp_path / "lake"
        with Client(home=home, database_url=proxied, show_progress=False) as client:
            with caplog.at_level(logging.WARNING, logger="metalake.lake.jobs"):
                job_id = client.upload_files_to_collection(str(files), "image", "db")["job_id"]
                proxy.down()
                time.sleep(2)
                with pytest.raises(DatabaseUnavailableError, match="could not be reached"):
                    client.get_job(job_id)
                proxy.up()
                assert client.wait_for_job_complete(job_id, timeout=120)["is_success"]
            job = client.get_job(job_id)
            assert (job["done"], job["failed"]) == (300, 0), job
        assert proxy.cut > 0 and any("trying again" in r.message for r in caplog.records)
        assert check_lake(home, proxied) == 300
