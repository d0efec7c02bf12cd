"""The shared test server: each test that uses it finds an empty lake, as a new server has."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import httpx
import pytest

from metalake import AuthenticationError, Client
from metalake.lake.ingest import UploadFile, UploadRequest, request_to_json
from metalake.lake.keys import create_key, revoke_key
from metalake.lake.lake import lake_database
from tests.conftest import LakeUnderTest, table_counts, upload_and_wait
from tests.servers import Server, SharedServer


def remote(server: Server) -> Client:
    return Client(server.url, server.key, server.secret, show_progress=False)


def leave_everything_behind(server: Server, images: Path, tmp_path: Path) -> None:
    """Collections, items, blobs, a thumbnail, annotations, jobs, trash, an open upload session
    with a staged part, an extra key, the test's own key revoked and lines in the log."""
    labels = tmp_path / "labels.json"
    box = {"type": "rectangle", "bbox": [1, 1, 4, 4], "label": "car"}
    labels.write_text(json.dumps({"images": [{"image": "img_000.jpg", "annotations": [box]}]}))
    with remote(server) as client:
        upload_and_wait(client, str(images), "image", "left")
        job = client.upload_annotations_for_collection("left", "op", str(labels), False, False)
        assert client.wait_for_job_complete(job["job_id"])["is_success"]
        client.get_thumbnail("left_img_000.jpg")
        client.trash_objects_from_datalake("name = img_001.jpg")
    data = b"x" * (64 << 10)
    request = UploadRequest("staged", "other", [UploadFile("a.bin", "", size=2 * len(data))])
    body = {"request": request_to_json(request), "fingerprint": "f" * 64, "part_size": len(data)}
    auth = (server.key, server.secret)
    session = httpx.post(f"{server.url}/api/v1/uploads", json=body, auth=auth).json()
    checksum = {"x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(data).digest()).decode()}
    files = {p for p in (server.home / "blobs").rglob("*") if p.is_file()}
    part = httpx.put(session["files"][0]["parts"][0]["url"], content=data, headers=checksum)
    assert part.json()["state"] == "awaiting"
    assert {p for p in (server.home / "blobs").rglob("*") if p.is_file()} > files, "not staged"
    with lake_database(server.home) as db:
        create_key(db, "extra")
        revoke_key(db, server.key)
    assert (server.home / "blobs" / ".thumbnails").exists()
    assert list((server.home / "blobs").rglob("*.jpg"))


def assert_empty(server: Server) -> None:
    lake = LakeUnderTest(server.home, None, server)
    counts = table_counts(lake)
    counts.pop("item_changes")  # the change log outlives the items it names, by design
    assert {name: n for name, n in counts.items() if n} == {"api_keys": 1}
    assert [p.name for p in (server.home / "blobs").rglob("*")] == [".tmp"]
    assert b"/api/v1/" not in server.log.read_bytes()
    with remote(server) as client:
        assert client.get_item_count_from_metalake("image") == 0
        assert client.list_collections() == []


def test_a_test_finds_nothing_the_previous_test_left(
    shared_server: SharedServer, images: Path, tmp_path: Path
):
    first = shared_server.fresh()
    assert_empty(first)
    leave_everything_behind(first, images, tmp_path)
    starts = shared_server.starts
    second = shared_server.fresh()
    assert shared_server.starts == starts and second.process is first.process
    assert_empty(second)
    with remote(first) as client, pytest.raises(AuthenticationError):
        client.get_item_count_from_metalake("image")


def test_a_lake_folder_a_reset_cannot_vouch_for_gets_a_new_server(
    shared_server: SharedServer,
):
    first = shared_server.fresh()
    (first.home / "stray.txt").write_text("left by a test")
    starts = shared_server.starts
    second = shared_server.fresh()
    assert shared_server.starts == starts + 1 and second.home != first.home
    assert first.process.poll() is not None
    assert_empty(second)
