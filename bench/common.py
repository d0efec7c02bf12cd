"""What the benchmarks share: child processes, peak RSS, and the FiftyOne venv."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
BENCH_PYTHON = ROOT.parent / ".venv-bench" / "bin" / "python"


def run_child(python: str, code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run `code` in a fresh interpreter; its last line of output is a JSON result."""
    done = subprocess.run(
        [python, "-c", code, *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def fresh_postgres(admin_url: str, prefix: str = "metalake_bench") -> Iterator[str]:
    """A new PostgreSQL database on the server of `admin_url`, dropped on exit."""
    if admin_url.startswith("postgresql://"):
        admin_url = "postgresql+psycopg://" + admin_url.removeprefix("postgresql://")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def peak_rss(pid: int) -> int:
    """A running process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def run_fiftyone(code: str, *args: str) -> dict | None:
    """Run `code` with FiftyOne (from `make bench-deps`) and a throwaway database."""
    if not BENCH_PYTHON.exists():
        print("FiftyOne skipped: run `make bench-deps` first", file=sys.stderr)
        return None
    db_dir = tempfile.mkdtemp(prefix="fo_db_")
    env = {
        **os.environ,
        "FIFTYONE_DO_NOT_TRACK": "true",
        "FIFTYONE_DATABASE_VALIDATION": "false",
        "FIFTYONE_DATABASE_DIR": db_dir,
    }
    try:
        return run_child(str(BENCH_PYTHON), code, *args, env=env)
    finally:
        shutil.rmtree(db_dir, ignore_errors=True)


class FiftyOneChild:
    """A FiftyOne process (from `make bench-deps`, with a throwaway database) that a bench
    talks to line by line, so its rounds can be interleaved with MetaLake's.

    `process` is None if the FiftyOne venv is missing. `send` writes one line to the child;
    `read` returns the next JSON object it prints (other lines, such as FiftyOne's notices, are
    skipped). With `database_dir`, the database lives there and is kept (for a child that keeps
    its dataset between runs)."""

    def __init__(self, code: str, *args: str, database_dir: Path | None = None) -> None:
        self.code, self.args = code, args
        self.process: subprocess.Popen[str] | None = None
        self.db_dir = ""
        self.keep_dir = database_dir

    def __enter__(self) -> FiftyOneChild:
        if not BENCH_PYTHON.exists():
            print("FiftyOne skipped: run `make bench-deps` first", file=sys.stderr)
            return self
        if self.keep_dir is not None:
            self.keep_dir.mkdir(parents=True, exist_ok=True)
        database = str(self.keep_dir) if self.keep_dir else tempfile.mkdtemp(prefix="fo_db_")
        self.db_dir = "" if self.keep_dir else database
        env = {
            **os.environ,
            "FIFTYONE_DO_NOT_TRACK": "true",
            "FIFTYONE_DATABASE_VALIDATION": "false",
            "FIFTYONE_DATABASE_DIR": database,
        }
        self.process = subprocess.Popen(
            [str(BENCH_PYTHON), "-c", self.code, *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        return self

    def send(self, line: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def read(self) -> dict:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"FiftyOne child ended (exit {self.process.wait()})")

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # the child's command loop ends, and FiftyOne stops mongod
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.db_dir:
            shutil.rmtree(self.db_dir, ignore_errors=True)
