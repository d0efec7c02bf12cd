"""S3 storage against a real SeaweedFS server: the store itself, an embedded lake on S3, and a
served lake whose clients upload and download straight from S3 through presigned URLs."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from metalake import Client, InvalidPathError, StorageError
from metalake.blobs.local import LocalBlobStore
from metalake.blobs.s3 import TMP_PREFIX, S3BlobStore
from metalake.blobs.store import BlobStore, open_blob_store
from metalake.processes import HOST, owner_tag
from tests.conftest import blob_files, upload_and_wait
from tests.media_factory import make_folder, make_video
from tests.servers import S3Server, serve
from tests.test_remote_upload import random_file


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    return open_blob_store(request.getfixturevalue("s3_storage"), tmp_path)


def test_blob_stores_behave_alike(store: BlobStore, tmp_path: Path):
    source = random_file(tmp_path / "src.bin", 300_000)
    staged = store.stage_file(source)
    assert staged.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert staged.size == 300_000
    assert not store.exists("col/a.bin")
    store.commit(staged, "col/a.bin")
    assert store.read_bytes("col/a.bin") == source.read_bytes()
    with store.open("col/a.bin") as f:
        f.seek(-10, io.SEEK_END)
        assert f.read() == source.read_bytes()[-10:]
    store.copy("col/a.bin", "col/b.bin")
    store.copy("col/a.bin", "col/b.bin")  # again, as a job resumed after a crash does
    assert store.read_bytes("col/b.bin") == store.read_bytes("col/a.bin")
    store.delete("col/a.bin")
    assert not store.exists("col/a.bin") and store.exists("col/b.bin")
    store.put_bytes("col/c.bin", b"c")
    store.delete_prefix("col")
    assert not store.exists("col/b.bin") and not store.exists("col/c.bin")
    with pytest.raises(StorageError, match="no bytes stored"):
        store.read_bytes("col/b.bin")


def test_s3_refuses_unsafe_keys_and_clears_dead_writers_temp_objects(s3_storage: str, tmp_path):
    store = open_blob_store(s3_storage, tmp_path)
    with pytest.raises(InvalidPathError):
        store.put_bytes("../x", b"x")
    assert isinstance(store, S3BlobStore)
    dead = f"{TMP_PREFIX}/999999999~{HOST}~abc"
    store.put_bytes(dead, b"left behind")
    live = f"{TMP_PREFIX}/{owner_tag()}~live"
    store.put_bytes(live, b"in use")
    store.clear_stale_temp()
    assert not store.exists(dead)
    assert store.exists(live)


def test_an_embedded_lake_keeps_its_bytes_in_s3(
    s3_storage: str, s3: S3Server, tmp_path: Path, lake_home: Path
):
    images = make_folder(tmp_path / "images", 3)
    (tmp_path / "videos").mkdir()
    video = make_video(tmp_path / "videos" / "clip.mp4")
    with Client(home=lake_home, storage=s3_storage, show_progress=False) as client:
        upload_and_wait(client, str(images), "image", "pics")
        upload_and_wait(client, str(video.parent), "video", "clips")
        details = client.get_file_details("pics_img_001.jpg")
        assert details["width"] == 64 and details["height"] == 48
        assert (
            details["sha256"] == hashlib.sha256((images / "img_001.jpg").read_bytes()).hexdigest()
        )
        assert client.get_file_details("clips_clip.mp4")["frame_count"] > 0
        url = client.get_downloadable_url("pics_img_001.jpg")
        assert url.startswith(s3.endpoint)
        assert httpx.get(url).content == (images / "img_001.jpg").read_bytes()
        assert httpx.get(url, headers={"Range": "bytes=0-1"}).status_code == 206
        assert client.get_thumbnail("pics_img_001.jpg")[:2] == b"\xff\xd8"
        collection_id = client.get_collection_id_by_name("pics")
        result = client.download_collection(collection_id, custom_download_path=str(tmp_path))
        assert (result["downloaded_count"], result["failed_count"]) == (3, 0), result
        for name in ("img_000.jpg", "img_001.jpg", "img_002.jpg"):
            downloaded = tmp_path / "pics" / "data" / f"pics_{name}"
            assert downloaded.read_bytes() == (images / name).read_bytes()
    assert blob_files(lake_home) == []


def test_a_served_lake_on_s3_moves_no_bytes_through_the_server(
    s3_storage: str, s3: S3Server, tmp_path: Path, lake_home: Path
):
    images = make_folder(tmp_path / "images", 4)
    big = random_file(tmp_path / "big" / "scan.bin", 11 << 20)
    with (
        serve(lake_home, storage=s3_storage, env=s3.env) as server,
        Client(
            server.url, server.key, server.secret, part_size=5 << 20, show_progress=False
        ) as client,
    ):
        upload_and_wait(client, str(images), "image", "pics")
        upload_and_wait(client, str(big), "other", "scans")
        assert client.get_file_details("scans_scan.bin")["sha256"] == (
            hashlib.sha256(big.read_bytes()).hexdigest()
        )
        url = client.get_downloadable_url("scans_scan.bin")
        assert urlparse(url).netloc == urlparse(s3.endpoint).netloc
        assert httpx.get(url).content == big.read_bytes()
        assert httpx.get(url.replace("Signature=", "Signature=0")).status_code == 403
        short = httpx.get(
            f"{server.url}/api/v1/files/url",
            params={"file_key": "pics_img_000.jpg", "expires_in": 2},
            auth=(server.key, server.secret),
        ).json()["url"]
        # X-Amz-Date counts whole seconds, so a URL for 2 s lasts between 1 and 2 s.
        assert httpx.get(short).status_code == 200
        # S3 checks the expiry by its own clock, so wait for it, 3.1 s at most.
        deadline = time.monotonic() + 3.1
        while httpx.get(short).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert httpx.get(short).status_code == 403
        log = server.log.read_text()
    assert "PUT /api/v1/uploads" not in log and "/blobs/" not in log
    assert blob_files(lake_home) == []
