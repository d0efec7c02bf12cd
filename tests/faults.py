"""Faults for tests: a TCP proxy whose link can be cut, and a checker of a lake's promises.

The proxy stands between the lake and its database or object store on 127.0.0.1. `down()`
resets every open connection and refuses new ones, as a restarting server or a dropped network
does; `up()` brings the link back. The checker reads the database and the blob store directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from metalake.blobs.store import open_blob_store
from metalake.lake.staging import LEGACY_DONE
from metalake.store.database import Database
from metalake.store.schema import items

RESET_ON_CLOSE = struct.pack("ii", 1, 0)
"""SO_LINGER on with a zero timeout: close() sends a reset, as a dead peer's host does."""


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `target` until `down()`; counts the connections it cut."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.port = 0
        self.cut = 0
        self.up()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Reset every connection through the proxy and refuse new ones until `up()`."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            listener.close()
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                # close() alone leaves the socket open while a pipe thread is blocked in its
                # recv (the kernel holds it until that returns): a lake that sent a query on it
                # then waited forever. shutdown() wakes the thread and tells the peer at once.
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        self.cut += len(sockets) // 2

    def close(self) -> None:
        self.down()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if listener is not self._listener:
                client.close()
                return
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
            with self._lock:
                gone = source in self._open and sink not in self._open
                self._open.discard(source)
            if gone:
                with contextlib.suppress(OSError):
                    source.close()
                    sink.close()


@contextlib.contextmanager
def proxy_to(host: str, port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(host, port)
    try:
        yield proxy
    finally:
        proxy.close()


def stored_keys(home: Path, storage: str | None) -> set[str]:
    """Every key in a lake's blob store (staging and temp files too), but its thumbnails and
    the marker of its staging's upgrade."""
    if storage and storage.startswith("s3://"):
        import boto3

        bucket, _, prefix = storage.removeprefix("s3://").partition("/")
        prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        pages = boto3.client("s3").get_paginator("list_objects_v2")
        found = {
            entry["Key"].removeprefix(prefix)
            for page in pages.paginate(Bucket=bucket, Prefix=prefix)
            for entry in page.get("Contents", [])
        }
    else:
        root = Path(storage.removeprefix("file://")) if storage else home / "blobs"
        found = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    return {key for key in found if not key.startswith(".thumbnails/") and key != LEGACY_DONE}


def check_lake(home: Path, database_url: str | None, storage: str | None = None) -> int:
    """Assert that every item has its bytes (equal sha256) and no other bytes are stored:
    no orphans and no stray staging. Returns the number of items."""
    from metalake.lake.lake import lake_database

    with lake_database(home, database_url) as db:
        rows = _items(db)
    blobs = open_blob_store(storage, home)
    for row in rows:
        with blobs.open(row.storage_key) as stream:
            digest = hashlib.file_digest(stream, "sha256").hexdigest()  # type: ignore[arg-type]
        assert digest == row.sha256, f"{row.storage_key} holds other bytes than its item says"
    keys = stored_keys(home, storage)
    strays = keys - {row.storage_key for row in rows}
    assert not strays, f"{len(strays)} stored objects belong to no item: {sorted(strays)[:5]}"
    return len(rows)


def _items(db: Database) -> list[sa.Row]:
    with db.read() as conn:
        return list(conn.execute(sa.select(items.c.storage_key, items.c.sha256)))
