"""Running a script under FiftyOne, which lives in its own virtualenv (`.venv-bench`, made by
`make test` and `make bench-deps`) so that its pins never touch the lake's."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv-bench" / "bin" / "python"
TIMEOUT_S = 300


def need_fiftyone() -> None:
    """Skip (fail under CI) where FiftyOne's virtualenv is missing."""
    if PYTHON.exists():
        return
    message = f"FiftyOne's virtualenv {PYTHON.parent.parent} is missing: run `make bench-deps`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run_fiftyone(script: Path, *args: str, database: Path) -> Any:
    """Run `script` with FiftyOne's Python (its database under `database`) and return the JSON it
    prints last."""
    need_fiftyone()
    env = {
        **os.environ,
        "FIFTYONE_DO_NOT_TRACK": "true",
        "FIFTYONE_DATABASE_VALIDATION": "false",
        "FIFTYONE_DATABASE_DIR": str(database),
    }
    done = subprocess.run(
        [str(PYTHON), str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"{script.name} failed under FiftyOne:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
