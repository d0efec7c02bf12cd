"""What the remote client's retries promise: a dead store ends a call within its retry budget,
with every sending thread stopped."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from metalake import Client, ServerUnavailableError
from metalake.client.http import HttpTransport
from tests.media_factory import make_folder
from tests.servers import S3Server, free_port, seaweedfs, serve


@pytest.fixture
def own_s3(tmp_path: Path) -> Iterator[S3Server]:
    """A SeaweedFS of this test's own, which it may kill."""
    with seaweedfs(tmp_path / "seaweedfs") as server:
        yield server


def _received_files(home: Path) -> int:
    """How many files of the lake's upload sessions have arrived whole."""
    query = "SELECT count(*) FROM upload_files WHERE state = 'received'"
    with sqlite3.connect(home / "lake.db") as conn:
        return conn.execute(query).fetchone()[0]


def test_a_store_killed_during_sending_ends_the_upload_within_the_retry_budget(
    own_s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("METALAKE_RETRY_BUDGET", "2")
    images = make_folder(tmp_path / "images", 200)
    home = tmp_path / "lake"
    storage = f"s3://lake-{uuid.uuid4().hex[:12]}/blobs"
    outcome: dict[str, object] = {}
    with (
        serve(home, storage=storage, env=own_s3.env) as server,
        Client(
            server.url, server.key, server.secret, parallel_files=2, show_progress=False
        ) as client,
    ):

        def upload() -> None:
            try:
                client.upload_files_to_collection(str(images), "image", "pics")
            except Exception as exc:  # the test looks at it below
                outcome["error"] = exc
            outcome["returned"] = time.monotonic()

        thread = threading.Thread(target=upload, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while _received_files(home) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert own_s3.process is not None
        own_s3.process.kill()
        killed = time.monotonic()
        sent = _received_files(home)
        assert 3 <= sent < 200, "the store was not killed mid-send"
        thread.join(60)
        assert not thread.is_alive(), "the upload still hung 60 s after the store died"
    assert isinstance(outcome.get("error"), ServerUnavailableError), outcome
    assert "METALAKE_RETRY_BUDGET" in str(outcome["error"])
    assert outcome["returned"] - killed < 20  # type: ignore[operator]
    assert not [t for t in threading.enumerate() if t.name.startswith("metalake-send")]


def test_one_retry_budget_bounds_a_call_whatever_its_retries():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: every attempt is refused
    transport = HttpTransport(url, "mlk_x", "secret", retries=20, retry_budget_s=1)
    start = time.monotonic()
    with pytest.raises(ServerUnavailableError, match="retry budget of 1 s"):
        transport.get_job("6b0452cfdf4dd9c55981aae1")
    assert time.monotonic() - start < 5
    transport.close()
