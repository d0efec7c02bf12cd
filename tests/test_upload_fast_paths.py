"""The upload job's batched writes register exactly what statement-per-row writes do.

An executemany INSERT on SQLite goes as multi-row INSERTs (`use_insertmanyvalues_wo_returning`,
store/database.py). The same uploads (new files, files kept as they were with their metadata
overridden, a file that fails to probe, per-file metadata and tags, more files than one chunk) go
into two lakes, one writing row by row as before, and every table the uploads write must hold the
same rows, bar the ids and times each run makes anew.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from metalake import Client
from metalake.errors import MediaProbeError
from metalake.lake import ingest
from metalake.lake.jobs import failure_reason
from metalake.media.probe import probe
from metalake.store.schema import collection_items, item_metadata, item_tags, items, job_files, jobs
from tests.media_factory import make_exif_rotated_jpeg, make_folder, make_image

FRESH = {"id", "item_id", "job_id", "collection_id", "upload_job_id", "created", "modified"}
FRESH |= {"added", "heartbeat", "started", "finished", "seq", "storage_key", "unique_name"}


def _uploads(folder: Path, other: Path, metadata_file: Path) -> list[tuple[Any, ...]]:
    return [
        (str(folder), "image", "shots", None, None, {"Camera": "A"}),
        (str(folder), "image", "shots", None, None, None),
        (str(other), "image", "shots", None, str(metadata_file), {"Tags": ["#second"]}),
    ]


def _rows(client: Client, table: sa.Table, order: list[str]) -> list[dict[str, Any]]:
    lake = client._lake  # type: ignore[attr-defined]
    with lake.db.read() as conn:
        rows = conn.execute(sa.select(table).order_by(*[table.c[c] for c in order])).mappings()
        return [{k: v for k, v in row.items() if k not in FRESH} for row in rows]


def _run(home: Path, folders: tuple[Path, Path, Path], batched: bool) -> dict[str, Any]:
    with Client(home=home, show_progress=False) as client:
        lake = client._lake  # type: ignore[attr-defined]
        lake.db.engine.dialect.use_insertmanyvalues_wo_returning = batched
        answers = []
        for path, kind, name, _, metadata_file, meta in _uploads(*folders):
            result = client.upload_files_to_collection(
                path, kind, name, meta or {}, True, metadata_file
            )
            client.wait_for_job_complete(result["job_id"])
            job = client.get_job(result["job_id"])
            answers.append({k: job[k] for k in ("done", "skipped", "failed", "errors", "status")})
        names = ["file_name"]
        return {
            "answers": answers,
            "items": _rows(client, items, names),
            "collection_items": len(_rows(client, collection_items, ["item_id"])),
            "metadata": _rows(client, item_metadata, ["key", "value_text"]),
            "tags": _rows(client, item_tags, ["tag"]),
            "job_files": _rows(client, job_files, ["file_name", "state"]),
            "jobs": len(_rows(client, jobs, ["type"])),
        }


def test_batched_inserts_register_what_row_by_row_inserts_do(tmp_path: Path):
    folder = make_folder(tmp_path / "a", ingest.CHUNK + 7)
    other = tmp_path / "b"
    other.mkdir()
    for i in range(5):
        make_image(other / f"img_{i:03d}.jpg", color=100 + i)  # names a's files have: kept
    make_exif_rotated_jpeg(other / "rotated.jpg")
    (other / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    metadata_file = tmp_path / "meta.json"
    metadata_file.write_text(
        json.dumps({"files": [{"file": "rotated.jpg", "metadata": {"Lens": "wide"}}]})
    )
    folders = (folder, other, metadata_file)
    row_by_row = _run(tmp_path / "old", folders, batched=False)
    batched = _run(tmp_path / "new", folders, batched=True)
    assert batched == row_by_row
    counts = [(a["done"], a["skipped"], a["failed"]) for a in batched["answers"]]
    assert counts == [(ingest.CHUNK + 7, 0, 0), (0, ingest.CHUNK + 7, 0), (1, 5, 1)]


def test_files_probed_from_their_copy_read_as_a_probe_of_the_file_does(tmp_path: Path):
    """An image is probed from the first chunk its staged copy reads; the facts and the errors
    are those `probe` gives reading the file itself (the path before)."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    make_image(folder / "plain.jpg", (70, 30))
    make_exif_rotated_jpeg(folder / "rotated.jpg")
    make_image(folder / "picture.png", (20, 10))
    make_image(folder / "progressive.jpg", (33, 44), progressive=True)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 torn")
    (folder / "empty.jpg").write_bytes(b"")
    expected: dict[str, Any] = {}
    for path in sorted(folder.iterdir()):
        try:
            facts = probe(path, "image", path.name)
            expected[path.name] = (facts.mime, facts.width, facts.height)
        except MediaProbeError as exc:
            expected[path.name] = failure_reason(exc)
    with Client(home=tmp_path / "lake", show_progress=False) as client:
        result = client.upload_files_to_collection(str(folder), "image", "mixed")
        client.wait_for_job_complete(result["job_id"])
        job = client.get_job(result["job_id"])
        found: dict[str, Any] = {e["file"]: e["reason"] for e in job["errors"]}
        for name in expected:
            if name not in found:
                details = client.get_file_details(f"mixed_{name}")
                found[name] = (details["mime"], details["width"], details["height"])
    assert found == expected
    assert sum(isinstance(v, str) for v in expected.values()) == 2
