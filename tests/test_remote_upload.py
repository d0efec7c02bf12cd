"""Uploads over HTTP: parts checked by checksum, resumed after a kill, safe with 4 clients."""

from __future__ import annotations

import base64
import hashlib
import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from metalake import Client, InvalidArgumentError
from metalake.client.sender import UploadSender
from metalake.errors import MetaLakeError
from metalake.lake import upload_sessions
from metalake.lake.ingest import UploadFile, UploadRequest, request_to_json
from metalake.lake.lake import lake_database
from metalake.store.schema import items, upload_parts
from tests.conftest import LakeUnderTest, blob_files, lake_for, upload_and_wait
from tests.media_factory import make_folder
from tests.servers import Server

SMALL_PART = 64 << 10


@pytest.fixture
def server(fresh_server: Server) -> Server:
    """The shared server over an empty lake (`lake_home` is its folder)."""
    return fresh_server


def remote(server: Server, **options: object) -> Client:
    return Client(server.url, server.key, server.secret, show_progress=False, **options)


def part_puts(server: Server) -> int:
    """Parts the server has received so far (its access log has one line per PUT)."""
    return sum(
        " PUT /api/v1/uploads/" in line and " 200 " in line
        for line in server.log.read_text().splitlines()
    )


def random_file(path: Path, size: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(hashlib.shake_256(str(seed).encode()).digest(size))
    return path


def test_a_file_of_many_parts_arrives_whole(server: Server, tmp_path: Path, lake_home: Path):
    source = random_file(tmp_path / "big" / "blob.bin", 5 * SMALL_PART + 123)
    with remote(server, part_size=SMALL_PART) as client:
        upload_and_wait(client, str(source), "other", "parts")
        details = client.get_file_details("parts_blob.bin")
        assert details["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
        assert httpx.get(client.get_downloadable_url("parts_blob.bin")).content == (
            source.read_bytes()
        )
    assert part_puts(server) == 6
    assert [p.name for p in blob_files(lake_home)] == ["blob.bin"]


def _open_session(server: Server, files: list[tuple[str, int]], part_size: int = 16 << 20) -> dict:
    request = UploadRequest(
        "damaged", "other", [UploadFile(name, "", size=size) for name, size in files]
    )
    body = {"request": request_to_json(request), "fingerprint": "f" * 64, "part_size": part_size}
    answer = httpx.post(f"{server.url}/api/v1/uploads", json=body, auth=(server.key, server.secret))
    assert answer.status_code == 200, answer.text
    return answer.json()


def b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_a_damaged_or_unchecked_part_is_refused(server: Server, lake_home: Path):
    data = b"x" * SMALL_PART
    session = _open_session(server, [("a.bin", 2 * SMALL_PART)], part_size=SMALL_PART)
    assert session["bundles"] == []
    url = session["files"][0]["parts"][0]["url"]
    header = "x-amz-checksum-sha256"
    wrong = b64sha256(b"y" * SMALL_PART)
    answer = httpx.put(url, content=data, headers={header: wrong})
    assert answer.status_code == 400 and answer.json()["error"] == "checksum_mismatch"
    answer = httpx.put(url, content=data)
    assert answer.status_code == 400 and header in answer.json()["message"]
    with lake_database(lake_home) as db, db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(upload_parts)).scalar() == 0
    right = b64sha256(data)
    answer = httpx.put(url + "0", content=data, headers={header: right})
    assert answer.status_code == 403
    assert httpx.put(url, content=data, headers={header: right}).json()["state"] == "awaiting"
    with lake_database(lake_home) as db, db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(upload_parts)).scalar() == 1


def test_small_files_travel_in_bundles_checked_file_by_file(server: Server, lake_home: Path):
    one, two = b"1" * 1000, b"2" * 2000
    session = _open_session(server, [("one.bin", len(one)), ("two.bin", len(two))])
    [bundle] = session["bundles"]
    assert bundle["seqs"] == [0, 1] and "parts" not in session["files"][0]
    files = {"x-metalake-files": "0,1"}
    damaged = {**files, "x-amz-checksum-sha256": f"{b64sha256(one)},{b64sha256(one)}"}
    answer = httpx.put(bundle["url"], content=one + two, headers=damaged)
    assert answer.status_code == 400 and answer.json()["error"] == "checksum_mismatch"
    assert not list((lake_home / "blobs" / ".staging").glob("*/*"))
    right = {**files, "x-amz-checksum-sha256": f"{b64sha256(one)},{b64sha256(two)}"}
    answer = httpx.put(bundle["url"], content=one + two[:-1], headers=right)
    assert answer.status_code == 400 and "sum of its files" in answer.json()["message"]
    answer = httpx.put(bundle["url"], content=one + two, headers=right)
    assert answer.json() == {"states": {"0": "received", "1": "received"}}
    with remote(server) as client:
        result = client._transport._call("POST", f"/uploads/{session['session_id']}/complete")
        assert client.wait_for_job_complete(result["job_id"])["is_success"]
        assert client.get_file_details("damaged_two.bin")["sha256"] == (
            hashlib.sha256(two).hexdigest()
        )


def test_bundles_sent_side_by_side_each_arrive_once(server: Server, lake_home: Path):
    """Bundles are written outside the write lock: the same bundle sent twice at once and
    other bundles beside it end with every file received once, its own bytes in place and no
    temp file left."""
    files = [hashlib.shake_256(bytes([i])).digest(3000 + i) for i in range(12)]
    session = _open_session(server, [(f"f{i}.bin", len(f)) for i, f in enumerate(files)])
    assert [b["seqs"] for b in session["bundles"]] == [list(range(12))]
    [bundle] = session["bundles"]
    headers = {
        "x-metalake-files": ",".join(str(i) for i in range(12)),
        "x-amz-checksum-sha256": ",".join(b64sha256(f) for f in files),
    }
    answers: list[dict] = []

    def send() -> None:
        answers.append(httpx.put(bundle["url"], content=b"".join(files), headers=headers).json())

    senders = [threading.Thread(target=send) for _ in range(4)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    received = {str(i): "received" for i in range(12)}
    assert answers == [{"states": received}] * 4
    staged = sorted((lake_home / "blobs" / ".staging" / session["session_id"]).iterdir())
    assert [p.read_bytes() for p in sorted(staged, key=lambda p: int(p.name))] == files
    assert not list((lake_home / "blobs" / ".tmp").iterdir())


def test_a_file_that_changes_before_its_bundle_is_sent_is_refused(server: Server, tmp_path: Path):
    folder = tmp_path / "changing"
    sources = [random_file(folder / f"{i}.bin", 2000 + i, seed=i) for i in range(3)]
    with remote(server) as client:
        transport = client._transport

        def grow_after_opening(method: str, path: str, **options: object) -> object:
            answer = transport._call(method, path, **options)  # type: ignore[attr-defined]
            if (method, path) == ("POST", "/uploads"):
                sources[1].write_bytes(sources[1].read_bytes() + b"more")
            return answer

        sender = UploadSender(
            grow_after_opening,
            retries=0,
            retry_budget_s=5,
            part_size=None,
            parallel_files=2,
            show_progress=False,
            timeout_s=10,
        )
        request = UploadRequest("changing", "other", [UploadFile(p.name, str(p)) for p in sources])
        try:
            with pytest.raises(MetaLakeError, match="changed while it was being uploaded"):
                sender.send(request)
        finally:
            sender.close()


def test_completing_before_every_file_arrived_is_refused(server: Server):
    session = _open_session(server, [("a.bin", 10), ("b.bin", 10)])
    with remote(server) as client, pytest.raises(InvalidArgumentError, match="not sent yet"):
        client._transport._call("POST", f"/uploads/{session['session_id']}/complete")


CHILD = """
import sys
from metalake import Client
client = Client(sys.argv[1], sys.argv[2], sys.argv[3], part_size=65536, parallel_files=1,
                show_progress=False)
client.upload_files_to_collection(sys.argv[4], "other", "resumed")
"""


def test_an_interrupted_upload_resumes_without_sending_finished_parts_again(
    server: Server, tmp_path: Path, lake_home: Path
):
    folder = tmp_path / "many"
    sources = [random_file(folder / f"f{i:02d}.bin", 3 * SMALL_PART, seed=i) for i in range(30)]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, server.url, server.key, server.secret, str(folder)],
    )
    deadline = time.monotonic() + 60
    while part_puts(server) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    child.kill()
    child.wait()
    with lake_database(lake_home) as db, db.read() as conn:
        arrived = conn.execute(sa.select(sa.func.count()).select_from(upload_parts)).scalar()
    assert 20 <= arrived < 90, "the child was meant to die half-way"
    before = part_puts(server)
    with remote(server, part_size=SMALL_PART) as client:
        upload_and_wait(client, str(folder), "other", "resumed")
        assert client.get_item_count_from_collection(
            client.get_collection_id_by_name("resumed", "other")
        ) == len(sources)
        for source in sources:
            details = client.get_file_details(f"resumed_{source.name}")
            assert details["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert part_puts(server) - before == 90 - arrived
    assert len(blob_files(lake_home)) == len(sources)


def test_repeating_a_finished_upload_sends_nothing(server: Server, images: Path):
    with remote(server) as client:
        upload_and_wait(client, str(images), "image", "twice")
        sent = part_puts(server)
        result = upload_and_wait(client, str(images), "image", "twice")
        assert client.get_job(result["job_id"])["skipped"] == 5
    assert part_puts(server) == sent


@pytest.fixture(params=["embedded-postgresql", "remote-sqlite", "remote-postgresql"])
def shared_lake(request: pytest.FixtureRequest, lake_home: Path) -> Iterator[LakeUnderTest]:
    with lake_for(request, lake_home, workers=2) as lake:
        yield lake


def test_four_clients_uploading_to_one_collection_neither_lose_nor_duplicate(
    shared_lake: LakeUnderTest, tmp_path: Path
):
    # Client k uploads images 10k .. 10k+19: each name is sent by one or two clients.
    folders = []
    for k in range(4):
        folder = make_folder(tmp_path / f"all_{k}", 10 * k + 20)
        for path in sorted(folder.iterdir())[: 10 * k]:
            path.unlink()
        folders.append(folder)
    expected = {p.name: p.read_bytes() for f in folders for p in f.iterdir()}
    env_home = shared_lake.home
    failures: list[BaseException] = []

    def upload(folder: Path) -> None:
        try:
            with shared_lake.client() as client:
                upload_and_wait(client, str(folder), "image", "shared")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=upload, args=(f,)) for f in folders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    with shared_lake.database() as db, db.read() as conn:
        rows = conn.execute(sa.select(items.c.file_name, items.c.sha256)).all()
    assert sorted(r.file_name for r in rows) == sorted(expected)
    for row in rows:
        stored = (env_home / "blobs" / "shared" / row.file_name).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == row.sha256
        assert stored == expected[row.file_name]
    assert len(blob_files(env_home)) == len(expected)
    assert not list((env_home / "blobs" / ".tmp").iterdir())
    assert not list((env_home / "blobs" / ".staging").glob("*/*")), "staged copies were left"


@given(st.lists(st.binary(max_size=40), max_size=12), st.data())
def test_a_bundles_chunks_are_cut_at_its_files_boundaries(chunks: list[bytes], data: st.DataObject):
    body = b"".join(chunks)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=6)))
    bounds = [0, *cuts, len(body)]
    sizes = [end - start for start, end in itertools.pairwise(bounds)]
    files = upload_sessions._split(chunks, sizes)
    assert [b"".join(pieces) for pieces in files] == [
        body[start:end] for start, end in itertools.pairwise(bounds)
    ]
