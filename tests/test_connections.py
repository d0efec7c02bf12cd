"""What the connection between the SDK and a server survives: an unexpected server error answers
JSON 500 on a connection that stays open, and a request that may already have been applied is
sent again only with its request id, which the server answers once."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from metalake import InvalidArgumentError, ServerUnavailableError
from metalake.client.http import HttpTransport
from metalake.lake.lake import Lake
from metalake.lake.selection import ItemSelection
from metalake.server.app import create_app
from tests.servers import app_in_thread


@pytest.fixture
def failing_server(tmp_path: Path) -> Iterator[str]:
    """The real app on 127.0.0.1 with one extra route that fails as a bug would."""
    lake = Lake(tmp_path / "lake")
    app = create_app(lake)

    @app.get("/api/v1/boom")
    def boom() -> dict:
        raise RuntimeError(f"a bug that mentions {tmp_path}")

    try:
        with app_in_thread(app) as url:
            yield url.removeprefix("http://")
    finally:
        lake.close()


def _exchange(sock: socket.socket, path: str) -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith((b"}", b"]")):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


def test_an_unexpected_error_answers_json_500_and_keeps_the_connection(
    failing_server: str, tmp_path: Path
):
    host, port = failing_server.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        first = _exchange(sock, "/api/v1/boom")
        assert first.startswith(b"HTTP/1.1 500"), first
        assert b'"error":"internal_error"' in first
        assert str(tmp_path).encode() not in first and b"RuntimeError" not in first
        assert b"connection: close" not in first.lower()
        second = _exchange(sock, "/healthz")
        assert second.startswith(b"HTTP/1.1 200"), second


@pytest.fixture
def dropping_peer() -> Iterator[tuple[str, list[bytes]]]:
    """A peer that reads each request and closes the connection without answering."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                data = conn.recv(65536)
                if data:
                    seen.append(data.partition(b"\r\n\r\n")[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _request_ids(heads: list[bytes]) -> list[bytes | None]:
    found = []
    for head in heads:
        lines = [line.partition(b":") for line in head.split(b"\r\n")[1:]]
        found.append(
            next((v.strip() for k, _, v in lines if k.lower() == b"idempotency-key"), None)
        )
    return found


def test_a_request_that_may_have_been_applied_is_sent_again_with_its_request_id(dropping_peer):
    url, seen = dropping_peer
    transport = HttpTransport(url, "mlk_x", "secret", retries=2)
    selection = ItemSelection(content_type="image", query="name = a.jpg")
    with pytest.raises(ServerUnavailableError, match="failed 3 times"):
        transport.trash(selection)
    assert [head.split(b"\r\n", 1)[0] for head in seen] == [
        b"POST /api/v1/items/trash HTTP/1.1"
    ] * 3
    first = _request_ids(seen)
    assert first[0] is not None and first == [first[0]] * 3, "one request id, the same on retries"
    seen.clear()
    with pytest.raises(ServerUnavailableError):
        transport.trash(selection)
    assert _request_ids(seen)[0] not in (None, first[0]), "each call has an id of its own"
    seen.clear()
    with pytest.raises(ServerUnavailableError, match="failed 3 times"):
        transport.get_job("6b0452cfdf4dd9c55981aae1")
    assert len(seen) == 3 and _request_ids(seen) == [None] * 3
    transport.close()


@pytest.mark.parametrize("url", ["not a url", "ftp://host/x", "http://", "127.0.0.1:8642"])
def test_a_malformed_server_url_is_refused_at_once(url: str):
    start = time.monotonic()
    with pytest.raises(InvalidArgumentError, match="is not a server URL"):
        HttpTransport(url, "k", "s")
    assert time.monotonic() - start < 1
