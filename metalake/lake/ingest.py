"""Upload jobs: plan an upload, then store, probe and register its files in the background.

Per chunk of files the job stages bytes (copy + sha256) and probes them on a thread pool, then
in one transaction puts the staged bytes under their keys and registers the items, their metadata
and the job's counts. Bytes a client sent are copied, and their staged copy is deleted only after
the commit. A crash at any instant leaves the files pending with their bytes still staged, which
the resumed job registers; never a row without bytes, and never a second item for one name.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from metalake.blobs.keys import check_file_name, check_user_key
from metalake.blobs.store import BlobStore, StagedBlob
from metalake.crash_points import crash_point
from metalake.errors import InvalidArgumentError, StorageError
from metalake.ids import new_id
from metalake.lake import collections
from metalake.lake.annotations.documents import AnnotationFile
from metalake.lake.annotations.uploads import (
    apply_upload_annotations,
    queue_upload_annotations,
    upload_annotation_params,
)
from metalake.lake.clock import utcnow
from metalake.lake.content_types import check_content_type
from metalake.lake.datasets.holds import keep_held
from metalake.lake.item_metadata import apply_changes
from metalake.lake.jobs import MAX_ERRORS, Job, JobProgress, failure_reason, new_job_row
from metalake.lake.limits import check_file_count, check_file_size, max_object_size
from metalake.lake.metadata import (
    FileMetadataEntry,
    MetadataChange,
    changes_by_file,
    file_metadata_document,
    parse_file_metadata,
    parse_metadata_object,
)
from metalake.lake.names import DEFAULT_BUCKET, storage_key, unique_name
from metalake.lake.outages import is_transient
from metalake.lake.workers import WorkerPool
from metalake.media.probe import MediaFacts, jpeg_facts, probe
from metalake.store.database import Database
from metalake.store.item_changes import next_seqs
from metalake.store.schema import collection_items, items, job_files, jobs

log = logging.getLogger(__name__)

UPLOAD = "upload"
CHUNK = 64
PENDING, DONE, SKIPPED, FAILED = "pending", "done", "skipped", "failed"


FILE_STATE = (
    job_files.update()
    .where(job_files.c.job_id == sa.bindparam("job"), job_files.c.seq == sa.bindparam("file_seq"))
    .values(state=sa.bindparam("new_state"), item_id=sa.bindparam("new_item"))
)
"""What became of one file of a job: one statement, run for a whole chunk at once."""

STAGED = "blob:"
"""Prefix of a job file's source that names bytes already in the object store (a remote upload)."""


@dataclass(frozen=True)
class UploadFile:
    """One file of an upload: its name in the collection and where its bytes are now.

    `source` is a local path (embedded) or `blob:<key>` for bytes a client already sent, whose
    `sha256` the server then knows.
    """

    file_name: str
    source: str
    metadata: MetadataChange = field(default_factory=MetadataChange)
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class UploadRequest:
    collection_name: str
    content_type: str
    files: Sequence[UploadFile]
    metadata: MetadataChange = field(default_factory=MetadataChange)
    override_metadata: bool = False
    replace_files: bool = False
    storage_prefix: str | None = None
    annotations: AnnotationFile | None = None
    """Annotations of the uploaded images, applied by the job once its files are registered."""
    file_metadata: Sequence[FileMetadataEntry] = ()
    """Per-file metadata by file name (a metadata file's entries), not yet merged into `files`
    (see `with_file_metadata`)."""


def with_file_metadata(request: UploadRequest) -> UploadRequest:
    """The upload with its per-file metadata merged into the files it names: entries for one
    file add up (`changes_by_file`) onto that file's own change, and the job later puts the
    upload's metadata object under them. Names not in the upload are logged and left out."""
    if not request.file_metadata:
        return request
    changes = changes_by_file(request.file_metadata)
    # A name that is not a string is refused by `check_upload`, not here.
    unmatched = set(changes) - {f.file_name for f in request.files if isinstance(f.file_name, str)}
    if unmatched:
        log.warning(
            "the metadata file names %d files that are not in this upload, e.g. %s",
            len(unmatched),
            sorted(unmatched)[0],
        )
    files = [
        replace(f, metadata=f.metadata.merged(changes[f.file_name]))
        if isinstance(f.file_name, str) and f.file_name in changes
        else f
        for f in request.files
    ]
    return replace(request, files=files, file_metadata=())


def request_to_json(request: UploadRequest) -> dict[str, Any]:
    """The upload as JSON, without the files' sources (they are the sender's business); its
    per-file metadata entries, if not merged yet, under `file_metadata`."""
    data = {
        "collection_name": request.collection_name,
        "content_type": request.content_type,
        "files": [
            {"file_name": f.file_name, "size": f.size, "metadata": f.metadata.to_object()}
            for f in request.files
        ],
        "metadata": request.metadata.to_object(),
        "override_metadata": request.override_metadata,
        "replace_files": request.replace_files,
        "storage_prefix": request.storage_prefix,
        "annotations": request.annotations.to_json() if request.annotations else None,
    }
    if request.file_metadata:
        data["file_metadata"] = file_metadata_document(request.file_metadata)
    return data


def request_from_json(data: dict[str, Any]) -> UploadRequest:
    """An upload sent as JSON; its values are checked as they are (`check_upload`, metadata as
    the SDK checks it), never coerced, so a refusal reads as it does embedded. Its per-file
    metadata entries (`file_metadata`, as in a metadata file) are merged into its files."""
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise InvalidArgumentError("malformed upload request: it needs a list of files")
    check_file_count(len(data["files"]))
    flags: dict[str, bool] = {}
    for key in ("override_metadata", "replace_files"):
        value = data.get(key)
        flags[key] = value = False if value is None else value
        if not isinstance(value, bool):
            raise InvalidArgumentError(f"{key} must be true or false, not {value!r}")
    files = []
    for i, f in enumerate(data["files"]):
        if not isinstance(f, dict) or "file_name" not in f:
            raise InvalidArgumentError(f"malformed upload request: files[{i}] needs a file_name")
        metadata = parse_metadata_object(f.get("metadata"), f"files[{i}].metadata")
        files.append(UploadFile(f["file_name"], "", metadata, size=f.get("size")))
    annotations = data.get("annotations")
    file_metadata = data.get("file_metadata")
    entries = (
        []
        if file_metadata is None
        else parse_file_metadata({"files": file_metadata}, "file_metadata")
    )
    request = UploadRequest(
        collection_name=data.get("collection_name"),  # type: ignore[arg-type]
        content_type=data.get("content_type"),  # type: ignore[arg-type]
        files=files,
        metadata=parse_metadata_object(data.get("metadata"), "meta_data_object"),
        override_metadata=flags["override_metadata"],
        replace_files=flags["replace_files"],
        storage_prefix=data.get("storage_prefix"),
        annotations=AnnotationFile.from_json(annotations) if annotations else None,
        file_metadata=entries,
    )
    return with_file_metadata(request)


def check_upload(request: UploadRequest) -> tuple[str, str]:
    """Check an upload before anything is written: its content type and collection name."""
    content_type = check_content_type(request.content_type)
    name = collections.check_collection_name(request.collection_name)
    if request.storage_prefix is not None and not isinstance(request.storage_prefix, str):
        raise InvalidArgumentError(
            "storage_prefix_path must be a string of folder names, not "
            f"{type(request.storage_prefix).__name__}"
        )
    if request.storage_prefix and request.storage_prefix.strip("/"):
        check_user_key(request.storage_prefix.strip("/"))
    check_file_count(len(request.files))
    size_limit = max_object_size()
    seen: set[str] = set()
    for f in request.files:
        check_file_name(f.file_name)
        if f.size is not None:
            check_file_size(f.file_name, f.size, size_limit)
        if f.file_name in seen:
            raise InvalidArgumentError(f"file name {f.file_name!r} appears twice in one upload")
        seen.add(f.file_name)
    if request.annotations is not None:
        if content_type != "image":
            raise InvalidArgumentError(
                f"annotation_data applies to image uploads, not to {content_type} files"
            )
        request.annotations.entries  # noqa: B018 - parses and checks the whole document
    return content_type, name


def check_has_files(request: UploadRequest) -> None:
    """Refuse an upload of nothing (a protocol that may complete empty handles that itself)."""
    if not request.files:
        raise InvalidArgumentError("an upload needs at least one file")


def start_upload(db: Database, request: UploadRequest) -> dict[str, Any]:
    """Validate an upload, create its collection and durable job, and return their ids."""
    request = with_file_metadata(request)
    check_has_files(request)
    check_upload(request)
    with db.write() as conn:
        return create_upload_job(conn, request)


def create_upload_job(
    conn: Connection, request: UploadRequest, job_id: str | None = None
) -> dict[str, Any]:
    """Create the collection (if new) and the durable job of a checked upload, in `conn`
    (with id `job_id` if one was promised already)."""
    content_type, name = check_upload(request)
    params = {
        "content_type": content_type,
        "metadata": request.metadata.to_json(),
        "override_metadata": bool(request.override_metadata),
        "replace_files": bool(request.replace_files),
        "storage_prefix": (request.storage_prefix or "").strip("/") or None,
    }
    if request.annotations is not None:
        params["annotations"] = upload_annotation_params(request.annotations)
    collection = collections.get_or_create(conn, name, content_type)
    row = new_job_row(UPLOAD, params, len(request.files), collection["id"])
    row["id"] = job_id or row["id"]
    conn.execute(jobs.insert().values(**row))
    if request.annotations is not None:
        queue_upload_annotations(conn, row["id"], request.annotations)
    for start in range(0, len(request.files), 5000):
        batch = request.files[start : start + 5000]
        conn.execute(
            job_files.insert(),
            [
                {
                    "job_id": row["id"],
                    "seq": start + offset,
                    "file_name": f.file_name,
                    "source": f.source,
                    "metadata": f.metadata.to_json() if not f.metadata.is_empty() else None,
                    "state": PENDING,
                    "sha256": f.sha256,
                }
                for offset, f in enumerate(batch)
            ],
        )
    result = {"job_id": row["id"], "collection_id": collection["id"]}
    if len(request.files) == 1:
        result["unique_name"] = unique_name(collection["storage_name"], request.files[0].file_name)
    return result


@dataclass
class _Task:
    """One pending file of a chunk and what the job decided to do with it."""

    seq: int
    file_name: str
    source: str
    sha256: str | None
    change: MetadataChange
    existing: RowMapping | None = None
    staged: Future | None = None


def _hash_from_start(stream: BinaryIO) -> str:
    """The SHA-256 of bytes a client sent straight to the object store without naming it."""
    stream.seek(0)
    return hashlib.file_digest(stream, "sha256").hexdigest()  # type: ignore[arg-type]


def keeps_existing(existing: RowMapping | None, replace_files: bool) -> bool:
    """Whether an upload leaves an existing item's file as it is (and skips the new one).

    A name whose item is in the trash is uploaded again: the item comes back with the new file.
    """
    return existing is not None and not replace_files and existing["trashed_at"] is None


def _outcome(staged: Future) -> _Stored | Exception:
    """What staging a file gave: its stored bytes, or the error that stopped it."""
    try:
        return staged.result()
    except Exception as exc:
        return exc


def _local_copies(chunk: list[_Task]) -> list[_Stored]:
    """The staged copies a chunk made of local files (sent bytes stay: they are the source)."""
    outcomes = (_outcome(t.staged) for t in chunk if t.staged is not None)
    return [o for o in outcomes if isinstance(o, _Stored) and not o.in_place]


@dataclass(frozen=True)
class _Stored:
    blob: StagedBlob
    facts: MediaFacts
    in_place: bool = False
    """True if `blob.token` is a key already in the store (a remote upload), moved on commit."""


class UploadJob:
    """Runs one upload job (also when resumed after a crash)."""

    def __init__(self, db: Database, blobs: BlobStore, workers: int | None = None) -> None:
        self._db = db
        self._blobs = blobs
        self._workers = workers or max(2, os.cpu_count() or 2)

    def __call__(self, job: Job, progress: JobProgress) -> None:
        params = job.params
        job_change = MetadataChange.from_json(params["metadata"])
        with self._db.read() as conn:
            collection = collections.get_by_id(conn, job.collection_id or "")
        unfreed: list[_Stored] = []
        ahead: list[_Task] = []
        try:
            with WorkerPool(self._workers, "metalake-ingest") as pool:
                previous: list[_Task] | None = None
                for chunk in self._pending_chunks(job.id, job_change):
                    self._plan(chunk, collection)
                    for task in chunk:
                        if not keeps_existing(task.existing, params["replace_files"]):
                            task.staged = pool.submit(self._stage, task, params["content_type"])
                    ahead = chunk
                    if previous is not None:
                        self._commit(job, collection, previous, progress, unfreed)
                    previous = chunk
                ahead = []
                if previous is not None:
                    self._commit(job, collection, previous, progress, unfreed)
        except BaseException:
            # The chunk staged ahead of a commit that failed is staged again on a retry.
            self._free(_local_copies(ahead), unfreed)
            raise
        finally:
            self._free(list(unfreed), None)
        apply_upload_annotations(self._db, job, progress)

    def give_up(self, job: Job, progress: JobProgress, reason: str) -> None:
        """Count the job's pending files as failed with `reason` (their sent bytes go when the
        job ends, with the rest of its staging)."""
        pending = (job_files.c.job_id == job.id, job_files.c.state == PENDING)
        with self._db.write() as conn:
            rows = conn.execute(
                sa.select(job_files.c.file_name, job_files.c.source).where(*pending)
            ).all()
            if not rows:
                return
            conn.execute(job_files.update().where(*pending).values(state=FAILED))
            errors = [{"file": r.file_name, "reason": reason} for r in rows[:MAX_ERRORS]]
            progress.record(conn, failed=len(rows), errors=errors)

    def _free_sources(self, sources: Iterable[str]) -> None:
        """Delete the sent bytes of files that will not be registered (or were kept as is)."""
        for source in sources:
            if source.startswith(STAGED):
                with contextlib.suppress(Exception):
                    self._blobs.delete(source.removeprefix(STAGED))

    def _pending_chunks(self, job_id: str, job_change: MetadataChange) -> Iterator[list[_Task]]:
        last = -1
        while True:
            query = (
                sa.select(
                    job_files.c.seq,
                    job_files.c.file_name,
                    job_files.c.source,
                    job_files.c.sha256,
                    job_files.c.metadata,
                )
                .where(
                    job_files.c.job_id == job_id,
                    job_files.c.state == PENDING,
                    job_files.c.seq > last,
                )
                .order_by(job_files.c.seq)
                .limit(CHUNK)
            )
            with self._db.read() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            last = rows[-1].seq
            yield [
                _Task(
                    r.seq,
                    r.file_name,
                    r.source,
                    r.sha256,
                    job_change.merged(MetadataChange.from_json(r.metadata)),
                )
                for r in rows
            ]

    def _plan(self, chunk: list[_Task], collection: RowMapping) -> None:
        names = {unique_name(collection["storage_name"], t.file_name): t for t in chunk}
        with self._db.read() as conn:
            found = conn.execute(sa.select(items).where(items.c.unique_name.in_(names))).mappings()
            for row in found:
                names[row["unique_name"]].existing = row

    def _stage(self, task: _Task, content_type: str) -> _Stored:
        """Probe a file and put its bytes in the store's temp area (or find them there)."""
        if task.source.startswith(STAGED):
            key = task.source.removeprefix(STAGED)
            try:
                with self._blobs.open(key) as stream:
                    facts = probe(stream, content_type, task.file_name)
                    size = stream.seek(0, os.SEEK_END)
                    sha256 = task.sha256 or _hash_from_start(stream)
            except Exception as exc:
                if not is_transient(exc):  # bytes that cannot be registered are freed now
                    self._blobs.delete(key)
                raise
            return _Stored(StagedBlob(key, size, sha256), facts, in_place=True)
        if not task.source:
            raise InvalidArgumentError("its bytes were not sent (the file was expected to exist)")
        source = Path(task.source)
        if content_type != "image":
            facts = probe(source, content_type, task.file_name)
            return _Stored(self._blobs.stage_file(source), facts)
        # An ordinary JPEG is probed from the first chunk its copy reads: one open, one read.
        first: list[bytes] = []
        try:
            blob = self._blobs.stage_file(source, first.append)
        except StorageError:
            probe(source, content_type, task.file_name)  # an unreadable file fails as it did
            raise
        try:
            facts = jpeg_facts(first[0] if first else b"") or probe(
                source, content_type, task.file_name
            )
        except BaseException:
            self._blobs.discard(blob)
            raise
        return _Stored(blob, facts)

    def _store(self, stored: _Stored, key: str) -> None:
        """Put stored bytes under `key`. Bytes a client sent are copied, and their staged copy
        is deleted only after the commit: a crash before it leaves them to the resumed job."""
        if stored.in_place:
            self._blobs.copy(stored.blob.token, key)
        else:
            self._blobs.commit(stored.blob, key)

    def _commit(
        self,
        job: Job,
        collection: RowMapping,
        chunk: list[_Task],
        progress: JobProgress,
        unfreed: list[_Stored],
    ) -> None:
        """Register a chunk in one transaction that holds the collection's lock.

        Names are checked again under the lock and bytes are put under their keys only by the
        upload that registers them, so concurrent uploads of one name neither duplicate an
        item nor leave it with another upload's bytes. A transient error (store or database
        down) fails no file: it rolls the chunk back, removes the keys it wrote, and goes up
        to the job runner, which retries the job from its pending files.
        """
        outcomes = {t.seq: _outcome(t.staged) for t in chunk if t.staged is not None}
        stored = [o for o in outcomes.values() if isinstance(o, _Stored)]
        passing = next(
            (o for o in outcomes.values() if isinstance(o, Exception) and is_transient(o)), None
        )
        if passing is not None:
            self._free([s for s in stored if not s.in_place], unfreed)
            raise passing
        written: list[str] = []
        try:
            spare = self._register_chunk(job, collection, chunk, outcomes, progress, written)
        except BaseException:
            for key in written:
                with contextlib.suppress(Exception):
                    self._blobs.delete(key)
            self._free([s for s in stored if not s.in_place], unfreed)
            raise
        crash_point("upload.after_commit")
        self._free([s for s in stored if s.in_place] + spare, unfreed)
        self._free_sources(t.source for t in chunk if t.staged is None)  # names kept as they were

    def _register_chunk(
        self,
        job: Job,
        collection: RowMapping,
        chunk: list[_Task],
        outcomes: dict[int, _Stored | Exception],
        progress: JobProgress,
        written: list[str],
    ) -> list[_Stored]:
        """The transaction of `_commit`; `written` collects the new keys it put bytes under.
        Returns the staged copies the chunk did not use (names another upload registered)."""
        params = job.params
        now = utcnow()
        new_items: list[dict[str, Any]] = []
        replaced: list[tuple[str, _Stored]] = []
        changes: list[tuple[str, MetadataChange]] = []
        states: dict[int, tuple[str, str | None]] = {}
        errors: list[dict[str, str]] = []
        spare: list[_Stored] = []
        with self._db.write() as conn:
            collections.lock(conn, collection["id"])
            taken = self._registered(conn, collection, [t for t in chunk if t.seq in outcomes])
            for task in chunk:
                existing = task.existing or taken.get(task.file_name)
                if task.seq not in outcomes:
                    assert existing is not None
                    states[task.seq] = (SKIPPED, existing["id"])
                    if params["override_metadata"]:
                        changes.append((existing["id"], task.change))
                    continue
                stored = outcomes[task.seq]
                if isinstance(stored, Exception):  # one bad file must not stop the others
                    states[task.seq] = (FAILED, None)
                    errors.append({"file": task.file_name, "reason": failure_reason(stored)})
                    continue
                if existing is not None and keeps_existing(existing, params["replace_files"]):
                    # Another upload registered this name after we planned: its file stands.
                    if not stored.in_place:
                        spare.append(stored)
                    states[task.seq] = (SKIPPED, existing["id"])
                    if params["override_metadata"]:
                        changes.append((existing["id"], task.change))
                    continue
                if existing is not None:
                    # locked first, so that a dataset version being made now holds either the
                    # old bytes (and keep_held sees it) or the new ones
                    conn.execute(
                        sa.select(items.c.id).where(items.c.id == existing["id"]).with_for_update()
                    )
                    keep_held(conn, self._blobs, [existing["storage_key"]])
                    self._store(stored, existing["storage_key"])
                    replaced.append((existing["id"], stored))
                    changes.append((existing["id"], task.change))
                    states[task.seq] = (DONE, existing["id"])
                    continue
                item_id = new_id()
                key = storage_key(
                    params["storage_prefix"], collection["storage_name"], task.file_name
                )
                written.append(key)
                self._store(stored, key)
                new_items.append(
                    self._item_row(item_id, key, task, stored, collection, job.id, now)
                )
                if not task.change.is_empty():  # a new item's `modified` is `now` already
                    changes.append((item_id, task.change))
                states[task.seq] = (DONE, item_id)
            self._register(conn, collection, new_items, replaced, now)
            apply_changes(conn, changes)
            if states:
                conn.execute(
                    FILE_STATE,
                    [
                        {"job": job.id, "file_seq": seq, "new_state": state, "new_item": item}
                        for seq, (state, item) in states.items()
                    ],
                )
            counts = [s for s, _ in states.values()]
            progress.record(
                conn,
                done=counts.count(DONE),
                skipped=counts.count(SKIPPED),
                failed=counts.count(FAILED),
                errors=errors,
            )
            crash_point("upload.before_commit")
        return spare

    @staticmethod
    def _registered(
        conn: Connection, collection: RowMapping, chunk: list[_Task]
    ) -> dict[str, RowMapping]:
        """The items that exist now under the chunk's names, by file name."""
        names = {unique_name(collection["storage_name"], t.file_name): t.file_name for t in chunk}
        if not names:
            return {}
        found = conn.execute(sa.select(items).where(items.c.unique_name.in_(names))).mappings()
        return {names[row["unique_name"]]: row for row in found}

    def _free(self, staged: Iterable[_Stored], unfreed: list[_Stored] | None) -> None:
        """Delete staged copies whose bytes are under their keys now, or are not needed.
        Those the store refuses now (an outage) go to `unfreed`, to be tried again at the
        end of the job; after that the temp-file and staging sweeps find them."""
        for stored in staged:
            try:
                if stored.in_place:
                    self._blobs.delete(stored.blob.token)
                else:
                    self._blobs.discard(stored.blob)
            except Exception as exc:
                if unfreed is not None:
                    unfreed.append(stored)
                else:
                    log.warning("could not free staged bytes %s: %s", stored.blob.token, exc)

    @staticmethod
    def _item_row(
        item_id: str,
        key: str,
        task: _Task,
        stored: _Stored,
        collection: RowMapping,
        job_id: str,
        now: Any,
    ) -> dict[str, Any]:
        facts = stored.facts
        return {
            "id": item_id,
            "unique_name": unique_name(collection["storage_name"], task.file_name),
            "file_name": task.file_name,
            "content_type": collection["content_type"],
            "collection_id": collection["id"],
            "bucket": DEFAULT_BUCKET,
            "storage_key": key,
            "size": stored.blob.size,
            "sha256": stored.blob.sha256,
            "mime": facts.mime,
            "width": facts.width,
            "height": facts.height,
            "frame_count": facts.frame_count,
            "fps": facts.fps,
            "duration": facts.duration,
            "upload_job_id": job_id,
            "created": now,
            "modified": now,
        }

    @staticmethod
    def _register(
        conn: Connection,
        collection: RowMapping,
        new_items: list[dict[str, Any]],
        replaced: list[tuple[str, _Stored]],
        now: Any,
    ) -> None:
        if new_items:
            for row, seq in zip(new_items, next_seqs(conn, len(new_items)), strict=True):
                row["seq"] = seq
            conn.execute(items.insert(), new_items)
            conn.execute(  # new ids: nothing to collide with
                collection_items.insert(),
                [
                    {"collection_id": collection["id"], "item_id": r["id"], "added": now}
                    for r in new_items
                ],
            )
        for item_id, stored in replaced:
            conn.execute(
                items.update()
                .where(items.c.id == item_id)
                .values(
                    size=stored.blob.size,
                    sha256=stored.blob.sha256,
                    mime=stored.facts.mime,
                    width=stored.facts.width,
                    height=stored.facts.height,
                    frame_count=stored.facts.frame_count,
                    fps=stored.facts.fps,
                    duration=stored.facts.duration,
                    modified=now,
                    trashed_at=None,
                )
            )
