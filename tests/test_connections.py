"""What the connection between the SDK and a server survives: an unexpected server error answers
JSON 500 on a connection that stays open, and the SDK never sends a request twice that may
already have been applied."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from metalake import InvalidArgumentError, ServerUnavailableError
from metalake.client.http import HttpTransport
from metalake.lake.lake import Lake
from metalake.lake.selection import ItemSelection
from metalake.server.app import create_app
from tests.servers import free_port


@pytest.fixture
def failing_server(tmp_path: Path) -> Iterator[str]:
    """The real app on 127.0.0.1 with one extra route that fails as a bug would."""
    lake = Lake(tmp_path / "lake")
    app = create_app(lake)

    @app.get("/api/v1/boom")
    def boom() -> dict:
        raise RuntimeError(f"a bug that mentions {tmp_path}")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
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
                    seen.append(data.split(b"\r\n", 1)[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_a_request_that_may_have_been_applied_is_not_sent_again(dropping_peer):
    url, seen = dropping_peer
    transport = HttpTransport(url, "mlk_x", "secret", retries=2)
    with pytest.raises(ServerUnavailableError, match="not sent again"):
        transport.trash(ItemSelection(content_type="image", query="name = a.jpg"))
    assert seen == [b"POST /api/v1/items/trash HTTP/1.1"]
    seen.clear()
    with pytest.raises(ServerUnavailableError, match="failed 3 times"):
        transport.get_job("6b0452cfdf4dd9c55981aae1")
    assert len(seen) == 3
    transport.close()


@pytest.mark.parametrize("url", ["not a url", "ftp://host/x", "http://", "127.0.0.1:8642"])
def test_a_malformed_server_url_is_refused_at_once(url: str):
    start = time.monotonic()
    with pytest.raises(InvalidArgumentError, match="is not a server URL"):
        HttpTransport(url, "k", "s")
    assert time.monotonic() - start < 1
