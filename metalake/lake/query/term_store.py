"""Term bitmaps kept on disk beside the lake, so that a new server process starts with the
bitmaps earlier ones built instead of building each again (seconds per term at a million items).

Each value is saved with the change-log position it is exact at, when it is built whole; a
process that loads it patches it from the change log like any cached value (store/item_changes.py
keeps each item's last change, so any saved position can be caught up with, or the value rebuilt
past `PATCH_LIMIT` changes). The folder is named by the code that gives terms their meaning (a
new version never reads an old version's bitmaps) and by the lake's id (a database made again
never reads another's). Values are pickled: the folder is the lake's own, as trusted as its
database file and signing secret beside it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import pickle
import secrets
import shutil
from collections.abc import Hashable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FOLDER = "term-cache"
SEMANTIC_SOURCES = (
    "query/bitmaps.py",
    "query/compiler.py",
    "query/order_buckets.py",
    "query/parser.py",
    "facets.py",
    "listing.py",
    "selection.py",
)
"""The modules (under metalake/lake) whose code decides what a saved value holds."""


@functools.cache
def code_version() -> str:
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for name in SEMANTIC_SOURCES:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()[:16]


class TermStore:
    """Saved term values of one lake, one file per term."""

    def __init__(self, home: Path, lake_id: str) -> None:
        root = home / FOLDER
        self.folder = root / f"{code_version()}-{lake_id}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for other in root.iterdir():
                if other != self.folder and other.is_dir():
                    shutil.rmtree(other, ignore_errors=True)
        except OSError as exc:
            log.warning("term bitmaps will not be saved in %s: %s", root, exc)

    def _path(self, key: Hashable) -> Path:
        return self.folder / (hashlib.sha256(repr(key).encode()).hexdigest() + ".term")

    def load(self, key: Hashable) -> tuple[Any, int] | None:
        """The saved value of `key` and its position, None if none (or unreadable)."""
        path = self._path(key)
        try:
            saved_key, position, value = pickle.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
            log.warning("dropping the unreadable saved term %s: %s", path.name, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return (value, position) if saved_key == repr(key) else None

    def save(self, key: Hashable, value: Any, position: int) -> None:
        """Save `value` (exact at `position`), replacing any older one whole."""
        data = pickle.dumps((repr(key), position, value), protocol=pickle.HIGHEST_PROTOCOL)
        partial = self.folder / f"{secrets.token_hex(8)}.tmp"
        try:
            partial.write_bytes(data)
            partial.replace(self._path(key))
        except OSError as exc:
            log.warning("could not save a term bitmap in %s: %s", self.folder, exc)
            with contextlib.suppress(OSError):
                partial.unlink()
