"""Staged bytes of remote uploads: none left once their fate is known, swept once abandoned,
listable on SeaweedFS, and `metalake doctor --orphans` finding and removing what is orphaned."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import boto3
import httpx
import pytest
import sqlalchemy as sa
from botocore.config import Config
from click.testing import CliRunner

from metalake import Client, UploadSessionNotFoundError
from metalake.blobs.local import LocalBlobStore
from metalake.blobs.store import BlobStore, open_blob_store
from metalake.cli import main
from metalake.lake.clock import utcnow
from metalake.lake.doctor import find_orphans
from metalake.lake.ingest import UploadFile, UploadRequest, request_to_json
from metalake.lake.jobs import FAILED
from metalake.lake.lake import Lake, lake_database
from metalake.lake.signing import UrlSigner, load_secret
from metalake.lake.staging import (
    LEGACY_DONE,
    LEGACY_STAGING,
    STAGING,
    StagingSweeper,
    staging_key,
)
from metalake.lake.upload_sessions import UploadSessions
from metalake.server.links import SignedRoutes
from metalake.store.database import Database
from metalake.store.schema import jobs, upload_files, upload_sessions
from tests.conftest import links_of, upload_and_wait
from tests.media_factory import make_folder
from tests.servers import Server, serve

LOCAL_PART = 64 << 10
S3_PART = 5 << 20
FILE_BYTES = 20_000
"""Above a quarter of LOCAL_PART, so that each file is sent as a part, not in a bundle."""
LATER = timedelta(hours=25)


def _files(count: int) -> dict[str, bytes]:
    return {f"f{i}.bin": hashlib.shake_256(bytes([i])).digest(FILE_BYTES) for i in range(count)}


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _store(kind: str, request: pytest.FixtureRequest, home: Path) -> tuple[str | None, BlobStore]:
    """A storage URL (None: the lake folder) and its store, for a `local` or `s3` param."""
    storage = request.getfixturevalue("s3_storage") if kind == "s3" else None
    return storage, open_blob_store(storage, home)


def _staged_keys(store: BlobStore) -> list[str]:
    """Every staged object a listing shows (the store's one-time marker aside)."""
    return [
        o.key
        for prefix in (STAGING, LEGACY_STAGING)
        for o in store.list_objects(prefix)
        if o.key != LEGACY_DONE
    ]


def _send_session(server: Server, collection: str, files: dict[str, bytes], part_size: int) -> str:
    """Open a remote upload session and send its files as a client does, without completing it."""
    request = UploadRequest(
        collection, "other", [UploadFile(n, "", size=len(d)) for n, d in files.items()]
    )
    body = {
        "request": request_to_json(request),
        "fingerprint": uuid.uuid4().hex,
        "part_size": part_size,
    }
    auth = (server.key, server.secret)
    session = httpx.post(f"{server.url}/api/v1/uploads", json=body, auth=auth).json()
    sid = session["session_id"]
    for entry in session["files"]:
        data = files[entry["file_name"]]
        etags = []
        for part in entry["parts"]:
            piece = data[part["offset"] : part["offset"] + part["size"]]
            if session["checksum"] == "md5":
                headers = {"Content-MD5": _b64(hashlib.md5(piece).digest())}
            else:
                headers = {"x-amz-checksum-sha256": _b64(hashlib.sha256(piece).digest())}
            answer = httpx.put(part["url"], content=piece, headers=headers)
            assert answer.status_code == 200, answer.text
            etags.append(answer.headers.get("etag", "").strip('"'))
        done = {"etags": etags, "sha256": hashlib.sha256(data).hexdigest()}
        url = f"{server.url}/api/v1/uploads/{sid}/files/{entry['seq']}/done"
        assert httpx.post(url, json=done, auth=auth).status_code == 200
    return sid


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_an_upload_whose_files_were_registered_meanwhile_leaves_no_staging(
    kind: str, request: pytest.FixtureRequest, lake_home: Path, tmp_path: Path
):
    storage, store = _store(kind, request, lake_home)
    env = request.getfixturevalue("s3").env if storage else None
    files = _files(3)
    folder = tmp_path / "same"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    with serve(lake_home, storage=storage, env=env) as server:
        part_size = S3_PART if storage else LOCAL_PART
        sid = _send_session(server, "race", files, part_size)
        assert all(store.exists(staging_key(sid, seq)) for seq in range(len(files)))
        with Client(server.url, server.key, server.secret, show_progress=False) as client:
            upload_and_wait(client, str(folder), "other", "race")
            result = client._transport._call("POST", f"/uploads/{sid}/complete")
            assert client.wait_for_job_complete(result["job_id"])["is_success"]
            assert client.get_job(result["job_id"])["skipped"] == len(files)
    assert not any(store.exists(staging_key(sid, seq)) for seq in range(len(files)))
    assert _staged_keys(store) == []


def test_staged_keys_are_listed_by_seaweedfs(s3_storage: str, tmp_path: Path):
    store = open_blob_store(s3_storage, tmp_path)
    store.put_bytes(staging_key("s1", 0), b"staged")
    store.put_bytes(f"{LEGACY_STAGING}/s1/0", b"legacy")
    assert [o.key for o in store.list_objects(STAGING)] == [staging_key("s1", 0)]
    # What SeaweedFS hides (every segment named `.uploads`) is still there by name.
    assert [o.key for o in store.list_objects(LEGACY_STAGING)] == []
    assert store.exists(f"{LEGACY_STAGING}/s1/0")


@dataclass
class Parts:
    """The pieces of a lake that remote uploads use, without a job runner of their own."""

    db: Database
    blobs: BlobStore
    sessions: UploadSessions
    links: SignedRoutes

    def sweeper(self, later: timedelta = timedelta(0)) -> StagingSweeper:
        return StagingSweeper(self.db, self.blobs, clock=lambda: utcnow() + later)

    def received(self, count: int = 1) -> str:
        """An open session whose `count` files have all arrived."""
        files = _files(count)
        request = UploadRequest(
            "parts", "other", [UploadFile(n, "", size=len(d)) for n, d in files.items()]
        )
        session = self.sessions.open(request, uuid.uuid4().hex, None, LOCAL_PART, self.links)
        sid = session["session_id"]
        for seq, data in enumerate(files.values()):
            checksum = _b64(hashlib.sha256(data).digest())
            self.sessions.receive_part(sid, seq, 1, io.BytesIO(data), checksum)
        return sid


@pytest.fixture
def parts(lake_home: Path, database_url: str | None) -> Iterator[Parts]:
    """On SQLite and PostgreSQL."""
    with lake_database(lake_home, database_url) as db:
        blobs = LocalBlobStore(lake_home / "blobs")
        links = SignedRoutes(UrlSigner(load_secret(lake_home)), "http://127.0.0.1")
        yield Parts(db, blobs, UploadSessions(db, blobs), links)


def test_a_failed_jobs_staging_is_swept(parts: Parts):
    sid = parts.received(2)
    job_id = parts.sessions.complete(sid)["job_id"]
    with parts.db.write() as conn:  # as a runner leaves a job that stopped on an error
        conn.execute(jobs.update().where(jobs.c.id == job_id).values(status=FAILED))
    assert parts.blobs.exists(staging_key(sid, 1))
    report = parts.sweeper().sweep()
    assert (report.objects, report.bytes) == (2, 2 * FILE_BYTES)
    assert _staged_keys(parts.blobs) == []


def test_an_abandoned_session_is_swept_only_once_older_than_the_age(parts: Parts):
    sid = parts.received()
    assert parts.sweeper().sweep().objects == 0
    assert parts.blobs.exists(staging_key(sid, 0))
    report = parts.sweeper(LATER).sweep()
    assert (report.sessions, report.objects) == (1, 1)
    assert _staged_keys(parts.blobs) == []
    with parts.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(upload_files)).scalar() == 0
    with pytest.raises(UploadSessionNotFoundError, match="open the upload again"):
        parts.sessions.receive_part(sid, 0, 1, io.BytesIO(b"x"), None)


def test_a_file_never_finished_loses_its_staging_when_the_job_ends(lake_home: Path):
    data = _files(1)["f0.bin"] + bytes(LOCAL_PART)
    upload = UploadRequest(
        "partial",
        "other",
        [UploadFile("whole.bin", "", size=6), UploadFile("half.bin", "", size=len(data))],
    )
    lake = Lake(lake_home)
    try:
        sid = lake.uploads.open(upload, uuid.uuid4().hex, None, LOCAL_PART, links_of(lake))[
            "session_id"
        ]
        lake.uploads.receive_part(
            sid, 0, 1, io.BytesIO(b"whole!"), _b64(hashlib.sha256(b"whole!").digest())
        )
        half = data[:LOCAL_PART]
        lake.uploads.receive_part(sid, 1, 1, io.BytesIO(half), _b64(hashlib.sha256(half).digest()))
        assert lake.blobs.exists(staging_key(sid, 1))
        job_id = lake.complete_upload(sid, drop_unsent=True)["job_id"]
        assert lake.wait_for_job(job_id, 60)["done"] == 1
        lake.jobs.join()
        assert _staged_keys(lake.blobs) == []
    finally:
        lake.close()


def test_an_unsent_files_multipart_upload_is_aborted_when_the_job_ends(
    s3_storage: str, lake_home: Path
):
    bucket, _, prefix = s3_storage.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))

    def unfinished() -> list[str]:
        return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]

    lake = Lake(lake_home, storage=s3_storage)
    try:
        upload = UploadRequest("big", "other", [UploadFile("big.bin", "", size=S3_PART + 1)])
        sid = lake.uploads.open(upload, uuid.uuid4().hex, None, S3_PART, links_of(lake))[
            "session_id"
        ]
        assert unfinished() == [f"{prefix}/{staging_key(sid, 0)}"]
        lake.jobs.join()
        lake.blobs.delete(LEGACY_DONE)  # a legacy pass leaves sessions of this version alone
        lake.staging.sweep()
        assert unfinished() == [f"{prefix}/{staging_key(sid, 0)}"]
        job_id = lake.complete_upload(sid, drop_unsent=True)["job_id"]
        assert lake.wait_for_job(job_id, 60)["status"] == "completed"
        lake.jobs.join()
        assert unfinished() == []
    finally:
        lake.close()


def test_staging_without_a_session_is_swept_once_older_than_the_age(parts: Parts):
    stray = staging_key("0" * 24, 0)
    parts.blobs.put_bytes(stray, b"left by a crash")
    parts.sweeper().sweep()
    assert parts.blobs.exists(stray)
    assert parts.sweeper(LATER).sweep().objects == 1
    assert not parts.blobs.exists(stray)


def test_the_job_runner_sweeps_old_staging_when_a_lake_opens(lake_home: Path):
    Client(home=lake_home, show_progress=False).close()
    stray = lake_home / "blobs" / staging_key("1" * 24, 0)
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"stray")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(stray, (two_days_ago, two_days_ago))
    Client(home=lake_home, show_progress=False).close()
    assert not stray.exists()


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_legacy_staging_is_adopted_or_deleted(
    kind: str, request: pytest.FixtureRequest, lake_home: Path
):
    """Staging under `.uploads` (before `.staging`): an open session keeps its bytes, a finished
    one loses them, found by name even where SeaweedFS hides them from listings."""
    storage, store = _store(kind, request, lake_home)
    with lake_database(lake_home) as db:
        sessions = UploadSessions(db, store)
        part_size = S3_PART if storage else LOCAL_PART
        sids = []
        for name in ("open", "finished"):
            upload = UploadRequest(name, "other", [UploadFile("a.bin", "", size=6)])
            links = SignedRoutes(UrlSigner(load_secret(lake_home)), "http://127.0.0.1")
            sid = sessions.open(upload, uuid.uuid4().hex, None, part_size, links)["session_id"]
            store.put_bytes(f"{LEGACY_STAGING}/{sid}/0", b"legacy")
            with db.write() as conn:  # received, as an older version left it
                conn.execute(
                    upload_files.update()
                    .where(upload_files.c.session_id == sid)
                    .values(state="received", sha256=hashlib.sha256(b"legacy").hexdigest())
                )
            sids.append(sid)
        open_sid, finished_sid = sids
        job_id = sessions.complete(finished_sid)["job_id"]
        with db.write() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(status=FAILED))
        StagingSweeper(db, store).sweep()
        assert store.read_bytes(staging_key(open_sid, 0)) == b"legacy"
        assert not store.exists(f"{LEGACY_STAGING}/{open_sid}/0")
        assert not store.exists(f"{LEGACY_STAGING}/{finished_sid}/0")
        with db.read() as conn:
            status = sa.select(upload_sessions.c.status).where(upload_sessions.c.id == open_sid)
            assert conn.execute(status).scalar_one() == "open"


def _doctor(home: Path, storage: str | None, *args: str) -> tuple[int, dict]:
    """`metalake doctor --orphans --json`, in this process (a subprocess costs seconds)."""
    command = ["--home", str(home), *(["--storage", storage] if storage else [])]
    command += ["doctor", "--orphans", "--older-than", "0", "--json", *args]
    done = CliRunner().invoke(main, command, catch_exceptions=False)
    return done.exit_code, json.loads(done.stdout)


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_doctor_finds_and_removes_orphans_and_nothing_on_a_healthy_lake(
    kind: str, request: pytest.FixtureRequest, lake_home: Path, tmp_path: Path
):
    storage, store = _store(kind, request, lake_home)
    images = make_folder(tmp_path / "images", 3)
    with Client(home=lake_home, storage=storage, show_progress=False) as client:
        upload_and_wait(client, str(images), "image", "pics")
        client.get_thumbnail("pics_img_000.jpg")
    with lake_database(lake_home) as db:
        assert find_orphans(db, store, timedelta(0)).objects == []
    store.put_bytes("pics/stray.jpg", b"x" * 10)
    store.put_bytes(staging_key("2" * 24, 0), b"y" * 5)
    code, report = _doctor(lake_home, storage)
    assert code == 1
    assert report["blobs"] == {"count": 1, "bytes": 10, "keys": ["pics/stray.jpg"]}
    assert report["staging"] == {"count": 1, "bytes": 5, "keys": [staging_key("2" * 24, 0)]}
    assert _doctor(lake_home, storage, "--fix", "--yes")[1]["removed"] is True
    code, report = _doctor(lake_home, storage)
    assert code == 0 and report["blobs"]["count"] == report["staging"]["count"] == 0
    assert store.exists("pics/img_000.jpg")
    with Client(home=lake_home, storage=storage, show_progress=False) as client:
        assert client.get_thumbnail("pics_img_000.jpg")[:2] == b"\xff\xd8"
