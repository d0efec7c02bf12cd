"""What the remote client's retries promise: a dead store ends a call within its retry budget,
with every sending thread stopped, and a call that changes something can be retried safely
because the server remembers the answer it gave to each request id."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from metalake import Client, InvalidArgumentError, ServerUnavailableError
from metalake.client.http import HttpTransport
from metalake.lake.annotations.documents import AnnotationFile
from metalake.lake.clock import utcnow
from metalake.lake.file_targets import FileTarget
from metalake.lake.selection import ItemSelection
from metalake.store.schema import jobs, request_results
from tests.conftest import upload_and_wait
from tests.media_factory import make_folder
from tests.servers import S3Server, Server, free_port, seaweedfs, serve


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


def _read_message(sock: socket.socket, buffer: bytearray) -> bytes | None:
    """One HTTP/1.1 message (head and Content-Length body) from `sock`, None at its end."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head, _, _ = bytes(buffer).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    size = len(head) + 4 + length
    while len(buffer) < size:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    message = bytes(buffer[:size])
    del buffer[:size]
    return message


class DroppingProxy:
    """A TCP proxy on 127.0.0.1 in front of a server: it forwards every request, and for the
    first `drops` requests whose request line starts with `drop`, closes the client's
    connection once the server has answered, instead of relaying the answer (as a server
    killed just after its commit would)."""

    def __init__(self, upstream: str, drop: bytes, drops: int = 1) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self._upstream = (host, int(port))
        self._drop, self._drops = drop, drops
        self.forwarded: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, conn: socket.socket) -> None:
        buffer = bytearray()
        with conn:
            conn.settimeout(30)
            while (request := _read_message(conn, buffer)) is not None:
                self.forwarded.append(request)
                with socket.create_connection(self._upstream, timeout=30) as upstream:
                    upstream.sendall(request)
                    answer = _read_message(upstream, bytearray())
                if answer is None or (request.startswith(self._drop) and self._drops > 0):
                    self._drops -= 1
                    return
                conn.sendall(answer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


def _header(request: bytes, name: bytes) -> bytes | None:
    for line in request.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


@pytest.fixture(scope="module")
def pics_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the request-id tests, each on a collection of its own."""
    home = tmp_path_factory.mktemp("request_ids") / "lake"
    with serve(home) as server:
        yield server


def _upload(server: Server, folder: Path, collection: str) -> str:
    with Client(server.url, server.key, server.secret, show_progress=False) as client:
        return upload_and_wait(client, str(make_folder(folder, 3)), "image", collection)[
            "collection_id"
        ]


def test_a_call_sent_again_with_its_request_id_is_answered_once(
    pics_server: Server, tmp_path: Path
):
    collection_id = _upload(pics_server, tmp_path / "images", "once")
    http = httpx.Client(base_url=pics_server.url, auth=(pics_server.key, pics_server.secret))

    def trash(name: str, request_id: str | None) -> httpx.Response:
        selection = {"collection_id": collection_id, "query": f"name = {name}"}
        headers = {"Idempotency-Key": request_id} if request_id else {}
        return http.post("/api/v1/items/trash", json={"selection": selection}, headers=headers)

    def live() -> int:
        selection = {"collection_id": collection_id}
        return http.post("/api/v1/items/count", json={"selection": selection}).json()["count"]

    applied = "1 objects successfully trashed, 0 objects failed to trash"
    first = trash("img_000.jpg", "call-1")
    assert first.status_code == 200 and first.json()["message"] == applied
    again = trash("img_000.jpg", "call-1")
    assert again.status_code == 200 and again.json() == first.json()
    assert live() == 2
    assert trash("img_000.jpg", None).json()["message"].startswith("0 objects")

    other = trash("img_001.jpg", "call-1")  # the same id for another call: refused, not replayed
    assert other.status_code == 400 and other.json()["error"] == "invalid_argument"
    assert "already used for another call" in other.json()["message"]
    assert live() == 2

    add = {"collection_name": "once-more", "content_type": "image"}
    add["selection"] = {"collection_id": collection_id}  # type: ignore[assignment]
    added = [
        http.post("/api/v1/collections/add", json=add, headers={"Idempotency-Key": "add-1"})
        for _ in range(2)
    ]
    assert [a.json()["added_count"] for a in added] == [2, 2]
    assert added[0].json() == added[1].json()
    assert trash("img_001.jpg", "x" * 129).status_code == 400
    http.close()


def test_a_retry_after_a_dropped_answer_gets_the_first_answer(pics_server: Server, tmp_path: Path):
    collection_id = _upload(pics_server, tmp_path / "images", "dropped")
    proxy = DroppingProxy(pics_server.url, b"POST /api/v1/items/trash ")
    try:
        with Client(proxy.url, pics_server.key, pics_server.secret, show_progress=False) as client:
            answer = client.trash_objects_from_collection(collection_id, "name = img_002.jpg")
            assert answer == {
                "message": "1 objects successfully trashed, 0 objects failed to trash",
                "isSuccess": True,
            }
            assert client.get_item_count_from_collection(collection_id) == 2
    finally:
        proxy.close()
    sent = [r for r in proxy.forwarded if r.startswith(b"POST /api/v1/items/trash ")]
    assert len(sent) == 2
    assert _header(sent[0], b"idempotency-key") == _header(sent[1], b"idempotency-key") is not None


def test_the_lake_answers_a_request_id_once_on_both_backends(embedded_client: Client, images: Path):
    upload_and_wait(embedded_client, str(images), "image", "pics")
    lake = embedded_client._lake
    assert lake is not None
    pick = ItemSelection(content_type="image", query="name = img_000.jpg")
    every = ItemSelection(content_type="image", query='name ~ "img_*"')

    # Concurrent retries of one call: applied once, each answered as the first one was.
    barrier = threading.Barrier(4)
    answers: list[dict] = []

    def add() -> None:
        barrier.wait()
        answers.append(lake.add_to_collection("more", "image", every, request_id="add"))

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [a["added_count"] for a in answers] == [5] * 4 and len(set(map(str, answers))) == 1

    # A call that fails is not remembered: its retry runs (and fails) again.
    with pytest.raises(InvalidArgumentError, match="refusing to trash every"):
        lake.trash(ItemSelection(content_type="image"), request_id="everything")
    with pytest.raises(InvalidArgumentError, match="refusing to trash every"):
        lake.trash(ItemSelection(content_type="image"), request_id="everything")

    assert lake.trash(pick, request_id="t")["message"].startswith("1 objects")
    assert lake.trash(pick, request_id="t")["message"].startswith("1 objects")
    emptied = lake.empty_trash(0, request_id="e")
    assert emptied["deleted_count"] == 1 and lake.empty_trash(0, request_id="e") == emptied

    # An annotation upload sent again starts no second job; a removal sent again says what the
    # first one removed.
    box = {"type": "rectangle", "bbox": [1, 2, 10, 20], "label": "car"}
    document = {"images": [{"image": "img_001.jpg", "annotations": [box]}]}
    annotations = AnnotationFile(document, "op", False, False)
    target = FileTarget("collection", "pics", "image")
    started = lake.upload_annotations(target, annotations, request_id="a")
    assert lake.upload_annotations(target, annotations, request_id="a") == started
    assert lake.wait_for_job(started["job_id"], 30)["status"] == "completed"
    with lake.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(jobs)).scalar_one() == 2
    collection_id = lake.collection_id("pics", "image")
    removed = lake.remove_annotations(collection_id, "op", request_id="r")
    assert removed["message"].startswith("1 annotations")
    assert lake.remove_annotations(collection_id, "op", request_id="r") == removed

    # Ids older than the retention are deleted by the next keyed call, and then forgotten.
    with lake.db.write() as conn:
        conn.execute(request_results.update().values(created=utcnow() - timedelta(hours=25)))
    assert lake.trash(pick, request_id="t2")["message"].startswith("0 objects")
    with lake.db.read() as conn:
        kept = conn.execute(sa.select(request_results.c.id)).scalars().all()
    assert kept == ["t2"]
