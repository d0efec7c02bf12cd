"""Bench-only hooks for `bench/soak.py --tracemalloc` and `--memstats` inside the server.

`bench/soak.py` puts this folder on the server's PYTHONPATH, so the interpreter imports it at
start-up; without the variables below it does nothing, and the product never loads it.

- `SOAK_TRACEMALLOC_DIR`: once the harness creates the file `start` there (when the server is
  up: tracing imports and migrations slows the start tenfold, and a soak looks for growth under
  load), start tracemalloc and write a snapshot there every `SOAK_TRACEMALLOC_SECONDS` (60).
- `SOAK_MEMSTATS_FILE`: every `SOAK_MEMSTATS_SECONDS` (10) append a JSON line of where the
  memory is: glibc's heap in use and free (mallinfo2), SQLite's own allocations
  (sqlite3_memory_used), Python objects tracked by the garbage collector, traced bytes.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import threading
import time
import tracemalloc
from pathlib import Path


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            [
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            ]
        )
    ]


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


def _memstats(path: Path, every: float) -> None:
    """Append one JSON line of memory figures every `every` seconds, stamped with the
    system-wide monotonic clock."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    sqlite = ctypes.CDLL("libsqlite3.so.0")
    sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    while True:
        info = libc.mallinfo2()
        line = {
            "t": time.monotonic(),  # system-wide: the harness subtracts its own start
            "malloc_in_use": info.uordblks + info.hblkhd,
            "malloc_free": info.fordblks,
            "sqlite_used": sqlite.sqlite3_memory_used(),
            "gc_objects": len(gc.get_objects()),
            "traced": tracemalloc.get_traced_memory()[0],
        }
        with path.open("a") as out:
            out.write(json.dumps(line) + "\n")
        time.sleep(every)


def _start() -> None:
    if folder := os.environ.get("SOAK_TRACEMALLOC_DIR"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        every = float(os.environ.get("SOAK_TRACEMALLOC_SECONDS", "60"))
        frames = int(os.environ.get("SOAK_TRACEMALLOC_FRAMES", "12"))
        threading.Thread(
            target=_trace, args=(Path(folder), every, frames), name="soak-trace", daemon=True
        ).start()
    if stats := os.environ.get("SOAK_MEMSTATS_FILE"):
        every = float(os.environ.get("SOAK_MEMSTATS_SECONDS", "10"))
        threading.Thread(
            target=_memstats, args=(Path(stats), every), name="soak-memstats", daemon=True
        ).start()


_start()
