"""Term bitmaps saved on disk: a new process loads them, catches up from the change log, and
answers exactly as plain SQL would; unreadable or foreign saved values are never used."""

from __future__ import annotations

from pathlib import Path

import pytest

from metalake import Client
from metalake.lake.lake import Lake
from metalake.lake.query.term_store import FOLDER, code_version
from metalake.lake.selection import ItemSelection
from tests.conftest import upload_and_wait
from tests.media_factory import make_folder

QUERY = 'name ~ "img_00*"'


def saved_terms(home: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in (home / FOLDER).rglob("*.term")}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "lake"
    with Client(home=str(home), show_progress=False) as client:
        upload_and_wait(client, str(make_folder(tmp_path / "a", 6)), "image", "a")
    return home


def count(lake: Lake, query: str = QUERY) -> int:
    return lake.count_items(ItemSelection.of("image", query=query))


def test_a_new_process_loads_saved_terms_and_catches_up_with_later_writes(
    home: Path, tmp_path: Path
):
    with_saved = Lake(home)
    assert count(with_saved) == 6
    with_saved.close()
    saved = saved_terms(home)
    assert saved and all(p.parent.name.startswith(code_version()) for p in saved)

    with Client(home=str(home), show_progress=False) as writer:
        upload_and_wait(writer, str(make_folder(tmp_path / "b", 3)), "image", "b")
    later = Lake(home)
    try:
        later.trash(ItemSelection.of("image", query="collection = a AND name = img_001.jpg"))
        assert count(later) == 6 + 3 - 1
        assert saved_terms(home) == saved  # caught up from the log, not built again
    finally:
        later.close()


def test_an_unreadable_saved_term_is_dropped_and_built_again(home: Path):
    first = Lake(home)
    assert count(first) == 6
    first.close()
    for path in saved_terms(home):
        path.write_bytes(b"not a pickle")
    again = Lake(home)
    try:
        assert count(again) == 6
        assert all(p.read_bytes() != b"not a pickle" for p in saved_terms(home))
    finally:
        again.close()


def test_saved_terms_of_other_code_or_another_database_are_removed(home: Path):
    stale = home / FOLDER / "0123456789abcdef-otherlake"
    stale.mkdir(parents=True)
    (stale / "x.term").write_bytes(b"old")
    lake = Lake(home)
    try:
        assert not stale.exists()
        assert count(lake) == 6
    finally:
        lake.close()


def test_a_saved_term_from_ahead_of_the_log_is_built_again(home: Path, tmp_path: Path):
    backup = (home / "lake.db").read_bytes()
    first = Lake(home)
    first.close()
    with Client(home=str(home), show_progress=False) as writer:
        upload_and_wait(writer, str(make_folder(tmp_path / "b", 3)), "image", "b")
    ahead = Lake(home)
    assert count(ahead) == 9  # saved at a position past the backup's log
    ahead.close()
    for suffix in ("-wal", "-shm"):
        (home / f"lake.db{suffix}").unlink(missing_ok=True)
    (home / "lake.db").write_bytes(backup)
    restored = Lake(home)
    try:
        assert count(restored) == 6
    finally:
        restored.close()
