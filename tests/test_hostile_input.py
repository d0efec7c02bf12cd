"""Hostile and careless requests to a real server: each is refused cheaply and changes nothing.

One server for the module (state is kept apart by collection names); each test reproduces one
reported defect.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from metalake import Client
from metalake.lake.ingest import UploadFile, UploadRequest, request_to_json
from metalake.lake.lake import Lake
from metalake.server.app import create_app
from metalake.server.bodies import BodyLimit
from tests import asgi
from tests.conftest import upload_and_wait
from tests.media_factory import make_folder
from tests.servers import Server, serve

SMALL_PART = 64 << 10
BUNDLE_HEADERS = {"x-metalake-files": "0", "x-amz-checksum-sha256": "AAAA"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("hostile") / "lake") as s:
        yield s


def open_session(
    server: Server, collection: str, files: list[tuple[str, object]], part_size: object = 16 << 20
) -> httpx.Response:
    request = UploadRequest(collection, "other", [UploadFile(n, "", size=s) for n, s in files])  # type: ignore[arg-type]
    body = {"request": request_to_json(request), "fingerprint": collection, "part_size": part_size}
    return httpx.post(
        f"{server.url}/api/v1/uploads", json=body, auth=(server.key, server.secret), timeout=30
    )


def peak_rss_kib(server: Server) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])


@pytest.mark.parametrize(
    ("size", "part_size", "expected"),
    [
        (2**62, 16 << 20, "at most 5497558138880 bytes"),
        (10**20, 16 << 20, "at most 5497558138880 bytes"),
        (-1, 16 << 20, "whole number of bytes"),
        (1.5, 16 << 20, "whole number of bytes"),
        ("10", 16 << 20, "whole number of bytes"),
        (200 << 30, 16 << 20, "parts of at least 22020096 bytes"),
        (10, 2**62, "part_size must be between"),
        (10, (1 << 30) + 1, "part_size must be between"),
    ],
)
def test_sizes_past_the_limits_are_refused_at_once(server: Server, size, part_size, expected):
    start = time.monotonic()
    answer = open_session(server, f"sizes-{size}-{part_size}", [("a.bin", size)], part_size)
    assert time.monotonic() - start < 5
    assert answer.status_code in (400, 413), answer.text
    assert expected in answer.json()["message"]
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_an_upload_of_too_many_parts_in_all_is_refused(server: Server):
    answer = open_session(server, "many-parts", [(f"f{i}.bin", 5000 << 20) for i in range(400)])
    assert answer.status_code == 413
    assert "at most 100000" in answer.json()["message"]


def test_an_upload_of_too_many_files_is_refused(server: Server):
    answer = open_session(server, "many-files", [(f"f{i}.bin", 1) for i in range(100_001)])
    assert answer.status_code == 413
    assert "at most 100000 files" in answer.json()["message"]


def test_a_part_larger_than_declared_is_refused_without_buffering_it(server: Server):
    session = open_session(server, "oversized-part", [("ten.bin", 10)]).json()
    url = session["bundles"][0]["url"] if session["bundles"] else None
    assert url is not None
    before = peak_rss_kib(server)
    declared = httpx.put(url, content=b"x" * (64 << 20), headers=BUNDLE_HEADERS)
    assert declared.status_code == 413, declared.text

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"y" * (1 << 20)

    chunked = httpx.put(url, content=chunks(), headers=BUNDLE_HEADERS)
    assert chunked.status_code == 413, chunked.text
    assert peak_rss_kib(server) - before < 32 << 10


def test_a_file_part_larger_than_declared_is_refused_while_streaming(server: Server):
    session = open_session(
        server, "oversized-file-part", [("big.bin", 3 * SMALL_PART)], SMALL_PART
    ).json()
    url = session["files"][0]["parts"][0]["url"]
    before = peak_rss_kib(server)

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"z" * (1 << 20)

    answer = httpx.put(url, content=chunks())
    assert answer.status_code == 413, answer.text
    assert f"at most {SMALL_PART}" in answer.json()["message"]
    assert peak_rss_kib(server) - before < 32 << 10


def read_answer(sock: socket.socket) -> str:
    """One whole HTTP answer: its headers and its body may arrive in separate reads."""
    data = b""
    while b"\r\n\r\n" not in data and (more := sock.recv(4096)):
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: *(\d+)", head.lower())
    while length and len(body) < int(length.group(1)) and (more := sock.recv(4096)):
        body += more
    return (head + b"\r\n\r\n" + body).decode()


def test_a_json_body_over_the_limit_is_refused_before_it_is_read(server: Server):
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/items/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 300000000\r\n\r\n{"
        )
        answer = read_answer(sock)
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "payload_too_large" in answer


def remote(server: Server) -> Client:
    return Client(server.url, server.key, server.secret, show_progress=False)


def test_a_signed_url_stops_working_once_its_file_is_trashed(server: Server, tmp_path: Path):
    folder = make_folder(tmp_path / "served", 2)
    with remote(server) as client:
        result = upload_and_wait(client, str(folder), "image", "served")
        url = client.get_downloadable_url("served_img_000.jpg")
        assert httpx.get(url).status_code == 200
        client.trash_objects_from_collection(result["collection_id"], "name = img_000.jpg")
        trashed = httpx.get(url)
        assert trashed.status_code == 404, trashed.text
        assert trashed.json()["error"] == "item_not_found"
        client.restore_from_trash(result["collection_id"])
        assert httpx.get(url).status_code == 200
        client.trash_objects_from_collection(result["collection_id"], "name = img_000.jpg")
        client.empty_trash(0)
        deleted = httpx.get(url)
        assert deleted.status_code == 404, deleted.text
        assert str(tmp_path.parent) not in deleted.text and "/blobs" not in deleted.text


def test_a_failed_remote_file_is_reported_without_server_paths(server: Server, tmp_path: Path):
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "broken.mp4").write_bytes(b"not a video" * 100)
    with remote(server) as client:
        result = client.upload_files_to_collection(str(folder), "video", "corrupt")
        assert client.wait_for_job_complete(result["job_id"])["job_status"] == "FAILED"
        job = client.get_job(result["job_id"])
    reasons = [e["reason"] for e in job["errors"]]
    assert len(reasons) == 1 and "not a readable video" in reasons[0], reasons
    assert not any("/" in r for r in reasons), reasons


def test_an_undeclared_body_past_the_limit_answers_413_not_a_parse_error(tmp_path: Path):
    lake = Lake(tmp_path / "lake")
    try:
        app = BodyLimit(create_app(lake), limit=64)
        status, body = asgi.post(app, "/api/v1/items/count", [b" " * 40] * 3)
    finally:
        lake.close()
    assert status == 413, body
    assert b"payload_too_large" in body
