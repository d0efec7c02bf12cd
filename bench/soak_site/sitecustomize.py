"""Bench-only hook for `bench/soak.py --tracemalloc`: snapshots of a server's Python heap.

`bench/soak.py` puts this folder on the server's PYTHONPATH, so the interpreter imports it at
start-up. With `SOAK_TRACEMALLOC_DIR` set, it starts tracemalloc once the harness creates the
file `start` in that folder (when the server is up: tracing imports and migrations slows the
start tenfold, and a soak looks for growth under load), then writes a snapshot there every
`SOAK_TRACEMALLOC_SECONDS` (default 60). Without the variable it does nothing. The product never
loads this file.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from pathlib import Path


def _trace(folder: Path, every: float, frames: int) -> None:
    """Wait for `start`, trace, and write `snap_<seconds traced>.tm` every `every` seconds."""
    while not (folder / "start").exists():
        time.sleep(0.2)
    tracemalloc.start(frames)
    start = time.monotonic()
    while True:
        time.sleep(every)
        path = folder / f"snap_{int(time.monotonic() - start):06d}.tm"
        part = path.with_suffix(".part")
        tracemalloc.take_snapshot().dump(str(part))
        part.replace(path)


def _start() -> None:
    folder = os.environ.get("SOAK_TRACEMALLOC_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    every = float(os.environ.get("SOAK_TRACEMALLOC_SECONDS", "60"))
    frames = int(os.environ.get("SOAK_TRACEMALLOC_FRAMES", "12"))
    threading.Thread(
        target=_trace, args=(Path(folder), every, frames), name="soak-tracemalloc", daemon=True
    ).start()


_start()
