"""Annotation uploads as durable jobs.

An upload by collection, job, storage path or unique name is checked whole when it is started:
the file's shape, which images it names, and each shape against its image's size (normalized
input is converted to pixels then). The placed shapes are kept with the job and written in
chunks, each in one transaction with the job's counts; the payload is dropped with the last
chunk, so a resumed job writes only what is left. Annotations that come with a file upload
(`annotation_data`) are placed and written by the upload job once its files are registered.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from metalake.errors import InvalidAnnotationFileError
from metalake.lake import answers, file_targets
from metalake.lake.annotations import fast
from metalake.lake.annotations.documents import AnnotationFile
from metalake.lake.annotations.shapes import PlacedShape, Shape, ShapeError, place, shape_name
from metalake.lake.annotations.store import ensure_operation, replace_annotations
from metalake.lake.file_targets import FileTarget
from metalake.lake.jobs import (
    MAX_ERRORS,
    Job,
    JobProgress,
    drop_payload,
    load_payload,
    new_job_row,
    save_payload,
)
from metalake.store.database import Database
from metalake.store.schema import items, job_files, jobs

ANNOTATIONS = "annotations"
CHUNK = 5000
"""Images written per transaction (about a tenth of a second): other writers get in between."""
BATCH = 500
DONE, SKIPPED = "done", "skipped"
SIZE_COLUMNS = (items.c.content_type, items.c.width, items.c.height)
Checked = tuple[dict[str, list[PlacedShape]], list[str], str]
"""Placed shapes by item id, the names that matched no item, and how names were looked up."""


def _placed(shapes: list[Shape], size: sa.Row, normalized: bool, image: str) -> list[PlacedShape]:
    """The shapes in pixels of the image whose content type and size `size` holds."""
    if size.content_type != "image" or not size.width or not size.height:
        raise ShapeError(
            "image", f"{image!r} is a {size.content_type} file; annotations apply to images"
        )
    width, height = size.width, size.height
    placed = []
    for number, shape in enumerate(shapes):
        try:
            placed.append(place(shape, width, height, normalized))
        except ShapeError as exc:
            named = shape_name(image, shape.type, shape.label)
            raise ShapeError(
                f"annotations[{number}].{exc.field}", f"{exc.problem} ({named})"
            ) from None
    return placed


class AnnotationJob:
    """Starts annotation uploads and writes their placed shapes, a chunk of images per
    transaction.

    The shapes a job writes are kept with it in the database (for a job resumed after a crash,
    or run by another process) and, until it runs, in memory, so that it need not read them back.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._ready: dict[str, list[tuple[str, list[PlacedShape]]]] = {}

    def start(self, target: FileTarget, annotation_file: AnnotationFile) -> dict[str, Any]:
        """Check an annotation file against the images it names and queue the job that writes it.

        Raises before anything is written if the file is malformed or a shape does not fit its
        image. Names that match no file are counted as skipped on the job and listed in its
        errors.
        """
        placed, unmatched, description = self._checked(target, annotation_file)
        params = {
            "operation_id": annotation_file.operation_id,
            "is_model_run": annotation_file.is_model_run,
            "target": description,
        }
        job = new_job_row(ANNOTATIONS, params, len(placed) + len(unmatched), None)
        job["skipped"] = len(unmatched)
        job["errors"] = [
            {"file": name, "reason": f"matches no file {description}"}
            for name in unmatched[:MAX_ERRORS]
        ]
        pairs = list(placed.items())
        with self._lock:
            self._ready[job["id"]] = pairs
        try:
            with self._db.write() as conn:
                ensure_operation(conn, annotation_file.operation_id, annotation_file.is_model_run)
                conn.execute(jobs.insert().values(**job))
                save_payload(conn, job["id"], orjson.dumps(pairs))
        except BaseException:
            with self._lock:
                self._ready.pop(job["id"], None)
            raise
        message = f"{len(placed)} images to annotate"
        message += file_targets.unmatched_note(unmatched, description)
        return answers.ANNOTATIONS.answer(True, job_id=job["id"], message=message)

    def _checked(self, target: FileTarget, annotation_file: AnnotationFile) -> Checked:
        """The file's shapes placed on the items they name, the names that match none, and how
        names were looked up; by the fast path where it is sure, else by the full checks."""
        fast_entries = annotation_file.fast_entries
        if fast_entries is not None:
            checked = self._checked_fast(target, fast_entries, annotation_file.is_normalized)
            if checked is not None:
                return checked
        entries = annotation_file.entries
        with self._db.read() as conn:
            names = [e.image for e in entries]
            resolved, description = file_targets.resolve_rows(conn, target, names, *SIZE_COLUMNS)
        placed: dict[str, list[PlacedShape]] = {}
        unmatched: list[str] = []
        normalized = annotation_file.is_normalized
        for index, entry in enumerate(entries):
            row = resolved.get(entry.image)
            if row is None:
                unmatched.append(entry.image)
                continue
            try:
                shapes = _placed(entry.shapes, row, normalized, entry.image)
            except ShapeError as exc:
                raise InvalidAnnotationFileError(
                    f"{annotation_file.source}: images[{index}].{exc.field}: {exc.problem}"
                ) from None
            placed.setdefault(row.id, []).extend(shapes)
        return placed, unmatched, description

    def _checked_fast(
        self, target: FileTarget, entries: fast.FastEntries, normalized: bool
    ) -> Checked | None:
        """What `_checked` gives, from the fast path's entries; None if a shape does not fit
        its image (the full checks then say which and why)."""
        with self._db.read() as conn:
            names = [image for image, _ in entries]
            resolved, description = file_targets.resolve_rows(conn, target, names, *SIZE_COLUMNS)
        placed: dict[str, list[PlacedShape]] = {}
        unmatched: list[str] = []
        for image, shapes in entries:
            row = resolved.get(image)
            if row is None:
                unmatched.append(image)
                continue
            if row.content_type != "image" or not row.width or not row.height:
                return None
            in_pixels = fast.placed(shapes, row.width, row.height, normalized)
            if in_pixels is None:
                return None
            placed.setdefault(row.id, []).extend(in_pixels)
        return placed, unmatched, description

    def __call__(self, job: Job, progress: JobProgress) -> None:
        with self._lock:
            pairs = self._ready.pop(job.id, None)
        if pairs is None:
            payload = load_payload(self._db, job.id)
            if payload is None:
                return
            pairs = orjson.loads(payload)
        with self._db.read() as conn:
            done = conn.execute(sa.select(jobs.c.done).where(jobs.c.id == job.id)).scalar_one()
        remaining = pairs[done:]
        operation, is_model_run = job.params["operation_id"], job.params["is_model_run"]
        if not remaining:
            with self._db.write() as conn:
                drop_payload(conn, job.id)
            return
        for start in range(0, len(remaining), CHUNK):
            chunk = remaining[start : start + CHUNK]
            with self._db.write() as conn:
                replace_annotations(conn, ensure_operation(conn, operation, is_model_run), chunk)
                if start + CHUNK >= len(remaining):
                    drop_payload(conn, job.id)
                progress.record(conn, done=len(chunk))


def upload_annotation_params(annotation_file: AnnotationFile) -> dict[str, Any]:
    """What an upload job's params say of the annotations that come with it."""
    return {
        "operation_id": annotation_file.operation_id,
        "is_model_run": annotation_file.is_model_run,
        "is_normalized": annotation_file.is_normalized,
    }


def queue_upload_annotations(
    conn: Connection, job_id: str, annotation_file: AnnotationFile
) -> None:
    """Keep the annotations of a file upload with its (just created) job."""
    ensure_operation(conn, annotation_file.operation_id, annotation_file.is_model_run)
    shapes = [[e.image, [tuple(s) for s in e.shapes]] for e in annotation_file.entries]
    save_payload(conn, job_id, orjson.dumps(shapes))


def apply_upload_annotations(db: Database, job: Job, progress: JobProgress) -> None:
    """Write the annotations of a file upload onto its registered files, in one transaction.

    A file whose annotations do not fit it counts as failed (its bytes stay stored); names of
    files that are not in the upload are listed in the job's errors.
    """
    params = job.params.get("annotations")
    if not params:
        return
    payload = load_payload(db, job.id)
    if payload is None:
        return
    entries = [(name, [Shape(*s) for s in shapes]) for name, shapes in orjson.loads(payload)]
    with db.write() as conn:
        files = _job_files(conn, job.id, [name for name, _ in entries])
        placed: dict[str, list[PlacedShape]] = {}
        errors: list[dict[str, str]] = []
        moved: Counter[str] = Counter()
        for index, (name, shapes) in enumerate(entries):
            file = files.get(name)
            if file is None:
                errors.append({"file": name, "reason": "annotated, but not in this upload"})
                continue
            if file.item_id is None:
                continue  # the file itself failed; its error is on the job already
            try:
                placed_shapes = _placed(shapes, file, params["is_normalized"], name)
            except ShapeError as exc:
                reason = f"annotations not applied: images[{index}].{exc.field}: {exc.problem}"
                errors.append({"file": name, "reason": reason})
                moved[file.state] += 1
                continue
            placed.setdefault(file.item_id, []).extend(placed_shapes)
        operation_id = ensure_operation(conn, params["operation_id"], params["is_model_run"])
        replace_annotations(conn, operation_id, list(placed.items()))
        drop_payload(conn, job.id)
        progress.record(
            conn,
            done=-moved[DONE],
            skipped=-moved[SKIPPED],
            failed=sum(moved.values()),
            errors=errors,
        )


def _job_files(conn: Connection, job_id: str, names: list[str]) -> dict[str, sa.Row]:
    """The files of a job with these names: `state`, `item_id` and, for those registered, the
    item's `content_type`, `width` and `height`."""
    found: dict[str, sa.Row] = {}
    query = (
        sa.select(job_files.c.file_name, job_files.c.state, job_files.c.item_id, *SIZE_COLUMNS)
        .outerjoin(items, items.c.id == job_files.c.item_id)
        .where(job_files.c.job_id == job_id)
    )
    for start in range(0, len(names), BATCH):
        batch = query.where(job_files.c.file_name.in_(names[start : start + BATCH]))
        found.update({row.file_name: row for row in conn.execute(batch).all()})
    return found
