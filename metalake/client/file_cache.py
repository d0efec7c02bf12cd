"""A bounded folder of fetched file bytes, keyed by sha256, shared by processes on one machine.

Entries are written to a temporary name and renamed into place, so a reader never sees half a
file and several DataLoader workers can fill the cache at once. A hit touches its entry's mtime;
when the folder grows past its budget the least recently touched entries are deleted. Each
process rescans the folder once it has added a twentieth of the budget since its last scan, so
with W writers the folder exceeds its budget by at most about W/20 of it, and only briefly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from pathlib import Path
from stat import S_ISREG

log = logging.getLogger(__name__)

TMP_DIR = ".tmp"
STALE_TMP_S = 3600
"""Temporary files older than this were left by a killed writer and are deleted by a scan."""
RESCAN_FRACTION = 20


class FileCache:
    """Bytes by sha256 under `root`, at most about `budget` bytes of them."""

    def __init__(self, root: Path, budget: int) -> None:
        self.root = root
        self.budget = budget
        self._since_scan: int | None = None
        """Bytes this process added since its last scan (None: no scan yet)."""

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def get(self, sha256: str) -> bytes | None:
        """The cached bytes of `sha256`, or None; a hit becomes the most recently used entry."""
        path = self.path_of(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        with contextlib.suppress(FileNotFoundError):
            os.utime(path)
        return data

    def put(self, sha256: str, data: bytes) -> None:
        """Keep `data` as `sha256` (nothing if it alone is over budget), then trim to budget."""
        if len(data) > self.budget:
            return
        path = self.path_of(sha256)
        tmp = self.root / TMP_DIR / f"{os.getpid()}-{uuid.uuid4().hex}"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.replace(path)
        if self._since_scan is not None:
            self._since_scan += len(data)
        if self._since_scan is None or self._since_scan * RESCAN_FRACTION >= self.budget:
            self.trim()

    def trim(self) -> int:
        """Delete the least recently used entries until the folder is within budget (and stale
        temporary files); returns the bytes it holds then."""
        entries: list[tuple[float, int, Path]] = []
        now = time.time()
        for path in self.root.rglob("*"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if not S_ISREG(stat.st_mode):
                continue
            if path.parent.name == TMP_DIR:
                if now - stat.st_mtime > STALE_TMP_S:
                    path.unlink(missing_ok=True)
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _mtime, size, _path in entries)
        for _mtime, size, path in sorted(entries):
            if total <= self.budget:
                break
            path.unlink(missing_ok=True)
            total -= size
        self._since_scan = 0
        log.debug("file cache %s holds %d bytes of %d", self.root, total, self.budget)
        return total
