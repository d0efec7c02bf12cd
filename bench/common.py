"""What the benchmarks share: child processes, peak RSS, and the FiftyOne venv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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
