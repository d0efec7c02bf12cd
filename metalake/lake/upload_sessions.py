"""Resumable uploads from remote clients: a session per upload, then an ordinary upload job.

A client opens a session with the upload's files and sizes and a fingerprint of the call. The
answer says, per file, which parts still have to be sent and where to: the server's own signed
part route (local storage) or presigned S3 URLs (bytes never pass through the server). Each part
carries a checksum that is verified before it counts. Opening a session again with the same
fingerprint returns the same session, so a repeated call after an interruption sends only the
parts that did not arrive. Files that already exist in the collection are never sent.
Completing the session starts the upload job over the bytes already in the store.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import IO, Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from metalake.blobs.store import BlobStore
from metalake.errors import (
    ChecksumMismatchError,
    InvalidArgumentError,
    NotSupportedError,
    PayloadTooLargeError,
    StorageFullError,
    UploadSessionNotFoundError,
)
from metalake.ids import new_id
from metalake.lake import collections
from metalake.lake.clock import utcnow
from metalake.lake.ingest import (
    STAGED,
    UPLOAD,
    UploadFile,
    UploadRequest,
    check_has_files,
    check_upload,
    create_upload_job,
    keeps_existing,
    request_from_json,
    request_to_json,
)
from metalake.lake.jobs import job_dict, new_job_row
from metalake.lake.limits import check_file_size
from metalake.lake.links import Links
from metalake.lake.metadata import MetadataChange
from metalake.lake.names import unique_name
from metalake.lake.staging import STAGING
from metalake.lake.staging import staging_key as _staging_key
from metalake.store.database import Database
from metalake.store.schema import items, jobs, upload_files, upload_parts, upload_sessions
from metalake.store.upsert import upsert

log = logging.getLogger(__name__)

AWAITING, RECEIVED, SKIP = "awaiting", "received", "skip"
OPEN, COMPLETED = "open", "completed"
DEFAULT_PART_SIZE = 16 << 20
MIN_PART_SIZE = {False: 64 << 10, True: 5 << 20}  # S3 refuses smaller multipart parts
MAX_PART_SIZE = 1 << 30
URL_EXPIRY_S = 24 * 3600
MAX_BUNDLE_FILES = 256
CHUNK_BYTES = 1 << 20
MAX_BUNDLE_BYTES = 4 << 20
"""A bundle's bytes: enough to make per-request costs small, little enough to keep memory low."""
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
UNKNOWN_SIZE = -1
"""The size of a file whose session learns sizes from the bytes (see `open_unsized`)."""
MAX_PARTS = 10_000
"""Parts of one file, as S3 allows."""
MAX_SESSION_PARTS = 100_000
"""Parts of all the files of one upload session: what one answer describes at most."""

# Built once, for the statements that run for every part and file: building one costs more
# than running it. Not the session's request column: it lists every file.
_SESSION_ROW = sa.select(
    upload_sessions.c.id, upload_sessions.c.status, upload_sessions.c.part_size
).where(upload_sessions.c.id == sa.bindparam("sid"))
_FILE_ROW = sa.select(upload_files).where(
    upload_files.c.session_id == sa.bindparam("sid"), upload_files.c.seq == sa.bindparam("seq")
)
_NAMED_FILE = sa.select(upload_files).where(
    upload_files.c.session_id == sa.bindparam("sid"),
    upload_files.c.file_name == sa.bindparam("name"),
)
_FILE_PARTS = sa.select(upload_parts).where(
    upload_parts.c.session_id == sa.bindparam("sid"), upload_parts.c.seq == sa.bindparam("seq")
)
_FILE_UPDATE = upload_files.update().where(
    upload_files.c.session_id == sa.bindparam("sid"), upload_files.c.seq == sa.bindparam("at_seq")
)
"""Sets the columns named in its parameters, beside `sid` and `at_seq` (which name the file)."""


def _split(chunks: Sequence[bytes], sizes: list[int]) -> list[list[memoryview]]:
    """Chunks of a body cut at the files' boundaries: each file's bytes as views of them."""
    files: list[list[memoryview]] = []
    views = iter([memoryview(chunk) for chunk in chunks if chunk])
    current = memoryview(b"")
    for size in sizes:
        pieces = []
        while size:
            if not current:
                current = next(views)
            piece, current = current[:size], current[size:]
            pieces.append(piece)
            size -= len(piece)
        files.append(pieces)
    return files


def _bundles(files: list[RowMapping], part_size: int) -> list[list[int]]:
    """Awaited small files grouped in seq order, each group at most MAX_BUNDLE_BYTES."""
    limit = min(part_size, MAX_BUNDLE_BYTES)
    bundles: list[list[int]] = []
    current: list[int] = []
    total = 0
    for f in files:
        if f["state"] != AWAITING or f["size"] > limit // 4:
            continue
        if current and (total + f["size"] > limit or len(current) >= MAX_BUNDLE_FILES):
            bundles.append(current)
            current, total = [], 0
        current.append(f["seq"])
        total += f["size"]
    if current:
        bundles.append(current)
    return bundles


def part_count(size: int, part_size: int) -> int:
    return max(1, -(-size // part_size))


def min_part_size(size: int) -> int:
    """The smallest part size, in whole MiB, that sends `size` bytes in at most MAX_PARTS."""
    return -(-size // (MAX_PARTS << 20)) << 20


P = ParamSpec("P")
R = TypeVar("R")


def _frees_staging_when_full(
    receive: Callable[Concatenate[UploadSessions, str, P], R],
) -> Callable[Concatenate[UploadSessions, str, P], R]:
    """A receiver of a session's bytes that, when space runs out, frees what the session staged
    before it raises: a session must not keep a full disk full until someone cleans up."""

    @functools.wraps(receive)
    def receiving(self: UploadSessions, session_id: str, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return receive(self, session_id, *args, **kwargs)
        except StorageFullError as exc:
            freed = self._release_staging(session_id)
            raise StorageFullError(
                f"{exc}; the {freed} files of this upload that had arrived were removed to give "
                "the space back, and are sent again when the upload is called again"
            ) from exc

    return receiving


class UploadSessions:
    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self._db = db
        self._blobs = blobs

    # Opening ------------------------------------------------------------------------------

    def open(
        self,
        request: UploadRequest,
        fingerprint: str,
        owner_key: str | None,
        part_size: int = DEFAULT_PART_SIZE,
        links: Links | None = None,
    ) -> dict[str, Any]:
        """The open session with this fingerprint, or a new one: what to send, and where
        (URLs from the store, or from `links` for a store that receives no parts itself)."""
        check_has_files(request)
        content_type, name = check_upload(request)
        self._check_part_size(part_size)
        if not fingerprint or len(fingerprint) > 64:
            raise InvalidArgumentError("an upload session needs a fingerprint of 1 to 64 chars")
        total = 0
        for f in request.files:
            size = check_file_size(f.file_name, f.size)
            parts = part_count(size, part_size)
            if parts > MAX_PARTS:
                raise PayloadTooLargeError(
                    f"file {f.file_name!r} of {size} bytes needs {parts} parts of "
                    f"{part_size} bytes; a file has at most {MAX_PARTS} parts, so send it in "
                    f"parts of at least {min_part_size(size)} bytes"
                )
            total += parts
        if total > MAX_SESSION_PARTS:
            raise PayloadTooLargeError(
                f"this upload needs {total} parts of {part_size} bytes; one upload has at most "
                f"{MAX_SESSION_PARTS}: split it, or use larger parts"
            )
        with self._db.write() as conn:
            session = self._find_open(conn, fingerprint, owner_key)
            if session is None:
                session = self._create(
                    conn, request, fingerprint, owner_key, part_size, (name, content_type)
                )
        self._start_multiparts(session)
        return self._describe(session, links)

    def open_unsized(
        self, request: UploadRequest, owner_key: str | None, part_size: int
    ) -> dict[str, Any]:
        """A new session whose files' sizes arrive with their bytes, in parts of `part_size`
        (the last one shorter, possibly empty), for protocols that never declare sizes.

        The collection exists from now on, and the id of the upload job is fixed now
        (`job_id`), so that a caller can name the job before its files have arrived. Files that
        already exist in the collection are in state `skip`; the others are sent one by one
        (`part_urls`, the part route, `finish_parts`).
        """
        content_type, name = check_upload(request)
        self._check_part_size(part_size)
        unsized = replace(request, files=[replace(f, size=UNKNOWN_SIZE) for f in request.files])
        with self._db.write() as conn:
            collection = collections.get_or_create(conn, name, content_type)
            session = self._create(
                conn, unsized, new_id(), owner_key, part_size, (name, content_type), new_id()
            )
        return {
            "session_id": session["id"],
            "job_id": session["job_id"],
            "collection_id": collection["id"],
        }

    def _check_part_size(self, part_size: int) -> None:
        low, high = MIN_PART_SIZE[self._blobs.direct_uploads], MAX_PART_SIZE
        if type(part_size) is not int or not low <= part_size <= high:
            raise InvalidArgumentError(f"part_size must be between {low} and {high} bytes")

    @staticmethod
    def _find_open(conn: Connection, fingerprint: str, owner_key: str | None) -> RowMapping | None:
        owner = (
            upload_sessions.c.owner_key.is_(None)
            if owner_key is None
            else upload_sessions.c.owner_key == owner_key
        )
        query = sa.select(upload_sessions).where(
            upload_sessions.c.fingerprint == fingerprint, upload_sessions.c.status == OPEN, owner
        )
        return conn.execute(query).mappings().first()

    @staticmethod
    def _create(
        conn: Connection,
        request: UploadRequest,
        fingerprint: str,
        owner_key: str | None,
        part_size: int,
        collection_key: tuple[str, str],
        job_id: str | None = None,
    ) -> RowMapping:
        existing: set[str] = set()
        collection = collections.find_by_name(conn, *collection_key)
        if collection is not None and not request.replace_files:
            names = [unique_name(collection["storage_name"], f.file_name) for f in request.files]
            for start in range(0, len(names), 500):
                found = sa.select(items.c.unique_name, items.c.trashed_at).where(
                    items.c.unique_name.in_(names[start : start + 500])
                )
                existing.update(
                    row["unique_name"]
                    for row in conn.execute(found).mappings()
                    if keeps_existing(row, request.replace_files)
                )
        row = {
            "id": new_id(),
            "fingerprint": fingerprint,
            "owner_key": owner_key,
            "request": request_to_json(request),
            "part_size": part_size,
            "status": OPEN,
            "job_id": job_id,
            "created": utcnow(),
        }
        conn.execute(upload_sessions.insert().values(**row))
        rows = []
        for seq, f in enumerate(request.files):
            skip = collection is not None and (
                unique_name(collection["storage_name"], f.file_name) in existing
            )
            rows.append(
                {
                    "session_id": row["id"],
                    "seq": seq,
                    "file_name": f.file_name,
                    "size": f.size,
                    "metadata": None if f.metadata.is_empty() else f.metadata.to_json(),
                    "state": SKIP if skip else AWAITING,
                }
            )
        for start in range(0, len(rows), 5000):
            conn.execute(upload_files.insert(), rows[start : start + 5000])
        return (
            conn.execute(sa.select(upload_sessions).where(upload_sessions.c.id == row["id"]))
            .mappings()
            .one()
        )

    def _start_multiparts(self, session: RowMapping) -> None:
        """Start an S3 multipart upload for every awaited file of more than one part."""
        if not self._blobs.direct_uploads:
            return
        query = sa.select(upload_files).where(
            upload_files.c.session_id == session["id"],
            upload_files.c.state == AWAITING,
            upload_files.c.multipart_id.is_(None),
            upload_files.c.size > session["part_size"],
        )
        with self._db.read() as conn:
            pending = conn.execute(query).mappings().all()
        for f in pending:
            upload_id = self._blobs.start_multipart(_staging_key(session["id"], f["seq"]))
            with self._db.write() as conn:
                conn.execute(
                    upload_files.update()
                    .where(
                        upload_files.c.session_id == session["id"],
                        upload_files.c.seq == f["seq"],
                        upload_files.c.multipart_id.is_(None),
                    )
                    .values(multipart_id=upload_id)
                )

    def _describe(self, session: RowMapping, links: Links | None) -> dict[str, Any]:
        sid, part_size = session["id"], session["part_size"]
        with self._db.read() as conn:
            files = _session_files(conn, sid)
            received = conn.execute(
                sa.select(upload_parts.c.seq, upload_parts.c.part, upload_parts.c.etag).where(
                    upload_parts.c.session_id == sid
                )
            ).all()
        etags = {(r.seq, r.part): r.etag for r in received}
        bundles = [] if self._blobs.direct_uploads else _bundles(files, part_size)
        bundled = {seq for bundle in bundles for seq in bundle}
        described = []
        for f in files:
            entry: dict[str, Any] = {
                "seq": f["seq"],
                "file_name": f["file_name"],
                "state": f["state"],
            }
            if f["state"] == AWAITING and f["seq"] not in bundled:
                entry["parts"] = [
                    {
                        "part": n,
                        "offset": (n - 1) * part_size,
                        "size": min(part_size, f["size"] - (n - 1) * part_size),
                        "etag": etags.get((f["seq"], n)),
                        "url": None if (f["seq"], n) in etags else self._part_url(f, n, sid, links),
                    }
                    for n in range(1, part_count(f["size"], part_size) + 1)
                ]
            described.append(entry)
        checksum = self.part_checksum()
        return {
            "session_id": sid,
            "part_size": part_size,
            "checksum": checksum,
            "files": described,
            "bundles": [
                {"url": _needed(links).bundle(sid, b[0], b[-1], URL_EXPIRY_S), "seqs": b}
                for b in bundles
            ],
        }

    def part_checksum(self) -> str:
        """What each part is sent with: `md5` for parts sent straight to S3 (Content-MD5),
        `sha256` for parts the server receives (x-amz-checksum-sha256)."""
        return "md5" if self._blobs.direct_uploads else "sha256"

    def _part_url(self, f: RowMapping, part: int, session_id: str, links: Links | None) -> str:
        key = _staging_key(session_id, f["seq"])
        if not self._blobs.direct_uploads:
            return _needed(links).part(session_id, f["seq"], part, URL_EXPIRY_S)
        if f["multipart_id"]:
            return self._blobs.presign_part(key, f["multipart_id"], part, URL_EXPIRY_S)
        return self._blobs.presign_put(key, URL_EXPIRY_S)

    # Receiving ----------------------------------------------------------------------------

    def _file(self, conn: Connection, session_id: str, seq: int) -> tuple[RowMapping, RowMapping]:
        session = conn.execute(_SESSION_ROW, {"sid": session_id}).mappings().first()
        f = conn.execute(_FILE_ROW, {"sid": session_id, "seq": seq}).mappings().first()
        if session is None or f is None:
            raise UploadSessionNotFoundError(
                f"no upload session {session_id!r} with file {seq}; open the upload again"
            )
        if session["status"] != OPEN:
            raise InvalidArgumentError(f"upload session {session_id} is already complete")
        return session, f

    def part_size(self, session_id: str) -> int | None:
        """A session's part size, None if there is no such session: fixed when it opens, and
        no part of it may be larger (an upper bound of every `part_limit`)."""
        with self._db.read() as conn:
            row = conn.execute(_SESSION_ROW, {"sid": session_id}).mappings().first()
        return None if row is None else row["part_size"]

    def part_limit(self, session_id: str, seq: int, part: int) -> int:
        """The most bytes part `part` of file `seq` may have: what a receiver reads at most."""
        with self._db.read() as conn:
            session, f = self._file(conn, session_id, seq)
        part_size = session["part_size"]
        if f["size"] == UNKNOWN_SIZE:
            return part_size
        if not 1 <= part <= part_count(f["size"], part_size):
            raise InvalidArgumentError(
                f"file {seq} has parts 1 to {part_count(f['size'], part_size)}, not {part}"
            )
        return min(part_size, f["size"] - (part - 1) * part_size)

    @_frees_staging_when_full
    def receive_part(
        self,
        session_id: str,
        seq: int,
        part: int,
        source: IO[bytes],
        checksum: str | None,
        checksum_name: str = "checksum",
    ) -> dict[str, Any]:
        """Check one part against its SHA-256 checksum and write it in place (local storage).

        `source` holds the part's bytes (read in chunks: a part may be large); `checksum` is the
        base64 SHA-256 the client sent (header `x-amz-checksum-sha256`, as S3 names it); the
        same hash is the file's own when the file has one part.
        """
        digest, size = _digest_of(source)
        with self._db.write() as conn:
            session, f = self._file(conn, session_id, seq)
            if f["state"] != AWAITING:
                return {"etag": digest.hexdigest(), "state": f["state"]}
            part_size = session["part_size"]
            unsized = f["size"] == UNKNOWN_SIZE
            if unsized:
                parts = MAX_PARTS
                if size > part_size:
                    raise PayloadTooLargeError(
                        f"part {part} of {f['file_name']!r} has {size} bytes; parts of "
                        f"this upload have at most {part_size}"
                    )
            else:
                parts = part_count(f["size"], part_size)
                expected = min(part_size, f["size"] - (part - 1) * part_size)
                if size != expected:
                    raise InvalidArgumentError(
                        f"part {part} of {f['file_name']!r} must be {expected} bytes, not {size}"
                    )
            if not 1 <= part <= parts:
                raise InvalidArgumentError(f"file {seq} has parts 1 to {parts}, not {part}")
            if checksum or not unsized:
                _check_checksum(digest.digest(), checksum, f["file_name"], part, checksum_name)
            key, offset = _staging_key(session_id, seq), (part - 1) * part_size
            source.seek(0)
            if size == 0:  # an empty part still makes its file exist
                self._blobs.write_part(key, offset, b"")
            while chunk := source.read(CHUNK_BYTES):
                self._blobs.write_part(key, offset, chunk)
                offset += len(chunk)
            if parts == 1:
                self._mark_received(conn, session_id, seq, digest.hexdigest())
                return {"etag": digest.hexdigest(), "state": RECEIVED}
            row = {
                "session_id": session_id,
                "seq": seq,
                "part": part,
                "size": size,
                "etag": digest.hexdigest(),
                "sha256": digest.hexdigest(),
            }
            upsert(conn, upload_parts, [row], ["session_id", "seq", "part"])
        return {"etag": digest.hexdigest(), "state": AWAITING}

    @_frees_staging_when_full
    def receive_bundle(
        self,
        session_id: str,
        seq_range: tuple[int, int],
        seqs: list[int],
        checksums: list[str],
        data: Sequence[bytes],
        checksum_name: str = "checksum",
    ) -> dict[str, Any]:
        """Several whole small files in one body (`data`, the chunks it arrived in), in `seqs`
        order, each with its checksum.

        One request and one transaction for up to a part's worth of small files: per-request
        costs would otherwise dominate uploads of many small images.
        """
        if not seqs or len(seqs) != len(checksums) or len(set(seqs)) != len(seqs):
            raise InvalidArgumentError("a bundle needs distinct file numbers, one checksum each")
        if not all(seq_range[0] <= seq <= seq_range[1] for seq in seqs):
            raise InvalidArgumentError(f"a bundle's files must lie in {seq_range}")
        with self._db.read() as conn:
            rows = self._bundle_files(conn, session_id, seqs)
        sizes = [rows[seq]["size"] for seq in seqs]
        if sum(sizes) != sum(len(chunk) for chunk in data):
            raise InvalidArgumentError("a bundle's length is not the sum of its files' sizes")
        checked = []
        for seq, checksum, pieces in zip(seqs, checksums, _split(data, sizes), strict=True):
            f = rows[seq]
            if f["state"] == AWAITING:
                digest = hashlib.sha256()
                for piece in pieces:
                    digest.update(piece)
                _check_checksum(digest.digest(), checksum, f["file_name"], 1, checksum_name)
                checked.append((seq, pieces, digest.hexdigest()))
        # Every file checked: only now write any of them. The bytes go to temp files first,
        # outside the write lock, so that bundles sent side by side are written side by side;
        # under the lock each one still waiting is renamed into place and marked received.
        staged = [(seq, self._blobs.stage_bytes(pieces, sha)) for seq, pieces, sha in checked]
        try:
            with self._db.write() as conn:
                states = {
                    seq: row["state"]
                    for seq, row in self._bundle_files(conn, session_id, seqs).items()
                }
                received = []
                for seq, blob in staged:
                    if states[seq] == AWAITING:
                        self._blobs.commit(blob, _staging_key(session_id, seq))
                        received.append((seq, blob.sha256))
                        states[seq] = RECEIVED
                self._mark_all_received(conn, session_id, received)
        finally:
            for _, blob in staged:
                self._blobs.discard(blob)  # nothing left after a commit
        return {"states": {seq: states[seq] for seq in seqs}}

    @staticmethod
    def _bundle_files(conn: Connection, session_id: str, seqs: list[int]) -> dict[int, RowMapping]:
        """The files of a bundle by number; UploadSessionNotFoundError if one is missing."""
        rows = {
            r["seq"]: r
            for r in conn.execute(
                sa.select(upload_files).where(
                    upload_files.c.session_id == session_id, upload_files.c.seq.in_(seqs)
                )
            ).mappings()
        }
        if len(rows) != len(seqs):
            raise UploadSessionNotFoundError(f"upload session {session_id!r} lacks a file")
        return rows

    def _release_staging(self, session_id: str) -> int:
        """Delete every byte a session staged and mark its files as not sent (the bytes go
        first: they free the space this write may need); how many files had arrived."""
        with self._db.write() as conn:
            self._blobs.delete_prefix(f"{STAGING}/{session_id}")
            arrived = conn.execute(
                upload_files.update()
                .where(upload_files.c.session_id == session_id, upload_files.c.state == RECEIVED)
                .values(state=AWAITING, sha256=None)
            ).rowcount
            conn.execute(upload_parts.delete().where(upload_parts.c.session_id == session_id))
        log.warning(
            "upload session %s ran out of space; its staged bytes (%d files) were removed",
            session_id,
            arrived,
        )
        return arrived

    @staticmethod
    def _mark_received(conn: Connection, session_id: str, seq: int, sha256: str) -> None:
        UploadSessions._mark_all_received(conn, session_id, [(seq, sha256)])

    @staticmethod
    def _mark_all_received(
        conn: Connection, session_id: str, received: list[tuple[int, str]]
    ) -> None:
        """Mark files (number, SHA-256) as received, in one statement run for them all."""
        if received:
            conn.execute(
                _FILE_UPDATE,
                [
                    {"sid": session_id, "at_seq": seq, "state": RECEIVED, "sha256": sha}
                    for seq, sha in received
                ],
            )

    def finish_file(
        self, session_id: str, seq: int, etags: list[str], sha256: str
    ) -> dict[str, Any]:
        """Mark a file whose parts were all sent as received, after checking them."""
        if not SHA256_HEX.fullmatch(sha256 or ""):
            raise InvalidArgumentError("sha256 must be 64 lowercase hex digits")
        with self._db.read() as conn:
            session, f = self._file(conn, session_id, seq)
            parts = (
                conn.execute(
                    sa.select(upload_parts)
                    .where(upload_parts.c.session_id == session_id, upload_parts.c.seq == seq)
                    .order_by(upload_parts.c.part)
                )
                .mappings()
                .all()
            )
        if f["state"] != AWAITING:
            return {"state": f["state"]}
        count = part_count(f["size"], session["part_size"])
        key = _staging_key(session_id, seq)
        if self._blobs.direct_uploads:
            if f["multipart_id"]:
                if len(etags) != count:
                    raise InvalidArgumentError(f"file {seq} needs {count} part ETags")
                self._blobs.complete_multipart(key, f["multipart_id"], etags)
            actual = self._blobs.size_of(key)
            if actual != f["size"]:
                raise ChecksumMismatchError(
                    f"{f['file_name']!r} arrived with {actual} bytes, not {f['size']}; "
                    "send it again"
                )
        else:
            missing = sorted(set(range(1, count + 1)) - {p["part"] for p in parts})
            if missing:
                raise InvalidArgumentError(f"{f['file_name']!r} still lacks parts {missing}")
            with self._blobs.open(key) as stream:
                digest = hashlib.file_digest(stream, "sha256").hexdigest()  # type: ignore[arg-type]
            if digest != sha256:
                raise ChecksumMismatchError(
                    f"{f['file_name']!r} arrived with sha256 {digest}, not {sha256}; send it again"
                )
        with self._db.write() as conn:
            self._mark_received(conn, session_id, seq, sha256)
        return {"state": RECEIVED}

    # Files of unsized sessions, one at a time ---------------------------------------------

    def file_by_name(self, session_id: str, file_name: str) -> RowMapping:
        """The file of an unsized session with this name (its `seq` and `state`)."""
        with self._db.read() as conn:
            f = conn.execute(_NAMED_FILE, {"sid": session_id, "name": file_name}).mappings().first()
        if f is None:
            raise UploadSessionNotFoundError(
                f"upload session {session_id!r} has no file {file_name!r}: name every file "
                "when the upload starts"
            )
        return f

    def part_urls(self, session_id: str, seq: int, count: object, links: Links | None) -> list[str]:
        """Signed URLs of parts 1..`count` of a file of an unsized session (again on a retry)."""
        if type(count) is not int or not 1 <= count <= MAX_PARTS:
            raise InvalidArgumentError(f"a file has 1 to {MAX_PARTS} parts, not {count!r}")
        with self._db.read() as conn:
            _, f = self._file(conn, session_id, seq)
        if self._blobs.direct_uploads and count > 1 and not f["multipart_id"]:
            upload_id = self._blobs.start_multipart(_staging_key(session_id, seq))
            with self._db.write() as conn:
                conn.execute(
                    upload_files.update()
                    .where(upload_files.c.session_id == session_id, upload_files.c.seq == seq)
                    .values(multipart_id=upload_id)
                )
                _, f = self._file(conn, session_id, seq)
        return [self._part_url(f, n, session_id, links) for n in range(1, count + 1)]

    def finish_parts(self, session_id: str, seq: int, etags: dict[int, str]) -> dict[str, Any]:
        """Assemble a file of an unsized session from its parts 1..n (`etags` by part number,
        as the part uploads answered them), learn its size, and mark it received."""
        if not etags or sorted(etags) != list(range(1, len(etags) + 1)):
            raise InvalidArgumentError(f"parts must be numbered 1 to n, not {sorted(etags)}")
        with self._db.read() as conn:
            session, f = self._file(conn, session_id, seq)
            received = {
                p["part"]: p
                for p in conn.execute(_FILE_PARTS, {"sid": session_id, "seq": seq}).mappings()
            }
        if f["state"] != AWAITING:
            return {"state": f["state"]}
        key = _staging_key(session_id, seq)
        if self._blobs.direct_uploads:
            if f["multipart_id"]:
                self._blobs.complete_multipart(
                    key, f["multipart_id"], [etags[n] for n in sorted(etags)]
                )
            size, sha256 = self._blobs.size_of(key), None
        else:
            size = _assembled_size(received, etags, session["part_size"], f["file_name"])
            with self._blobs.open(key) as stream:
                sha256 = hashlib.file_digest(stream, "sha256").hexdigest()  # type: ignore[arg-type]
        with self._db.write() as conn:
            values = {"state": RECEIVED, "size": size, "sha256": sha256}
            conn.execute(_FILE_UPDATE, {"sid": session_id, "at_seq": seq, **values})
        return {"state": RECEIVED, "size": size}

    def promised_job(self, job_id: str) -> dict[str, Any] | None:
        """The job an open unsized session promised (queued until its files are in), or None."""
        query = sa.select(upload_sessions).where(
            upload_sessions.c.job_id == job_id, upload_sessions.c.status == OPEN
        )
        with self._db.read() as conn:
            session = conn.execute(query).mappings().first()
            if session is None:
                return None
            sent = session["request"]
            collection = collections.find_by_name(
                conn, sent["collection_name"], sent["content_type"]
            )
        row = new_job_row(UPLOAD, {}, len(sent["files"]), collection["id"] if collection else None)
        row.update(
            id=job_id,
            message=f"waiting for the files of upload session {session['id']}",
            created=session["created"],
            started=None,
            finished=None,
        )
        return job_dict(row)

    # Completing ---------------------------------------------------------------------------

    def complete(self, session_id: str, drop_unsent: bool = False) -> dict[str, Any]:
        """Start the upload job over the received bytes (once; a repeat returns the same job).

        Files not sent yet make it fail, unless `drop_unsent`: then they are left out of the
        upload (and listed in the log), for protocols whose clients complete regardless.
        """
        with self._db.write() as conn:
            session = (
                conn.execute(sa.select(upload_sessions).where(upload_sessions.c.id == session_id))
                .mappings()
                .first()
            )
            if session is None:
                raise UploadSessionNotFoundError(f"no upload session {session_id!r}")
            if session["status"] == COMPLETED:
                return _job_result(conn, session)
            files = _session_files(conn, session_id)
            waiting = [f["file_name"] for f in files if f["state"] == AWAITING]
            if waiting and drop_unsent:
                log.warning(
                    "upload session %s completed without %d files that never arrived: %s",
                    session_id,
                    len(waiting),
                    ", ".join(waiting[:10]),
                )
                files = [f for f in files if f["state"] != AWAITING]
            elif waiting:
                raise InvalidArgumentError(
                    f"{len(waiting)} files of the upload were not sent yet, e.g. {waiting[0]!r}"
                )
            sent = request_from_json(session["request"])
            request = UploadRequest(
                collection_name=sent.collection_name,
                content_type=sent.content_type,
                files=[
                    UploadFile(
                        f["file_name"],
                        STAGED + _staging_key(session_id, f["seq"])
                        if f["state"] == RECEIVED
                        else "",
                        MetadataChange.from_json(f["metadata"]),
                        size=None if f["size"] == UNKNOWN_SIZE else f["size"],
                        sha256=f["sha256"],
                    )
                    for f in files
                ],
                metadata=sent.metadata,
                override_metadata=sent.override_metadata,
                replace_files=sent.replace_files,
                storage_prefix=sent.storage_prefix,
                annotations=sent.annotations,
            )
            result = create_upload_job(conn, request, session["job_id"])
            conn.execute(
                upload_sessions.update()
                .where(upload_sessions.c.id == session_id)
                .values(status=COMPLETED, job_id=result["job_id"])
            )
            conn.execute(upload_parts.delete().where(upload_parts.c.session_id == session_id))
        return result


def _assembled_size(
    received: dict[int, RowMapping], etags: dict[int, str], part_size: int, file_name: str
) -> int:
    """The size of a file from its received parts, after checking they are the ones the client
    sent (same ETags) and that every part but the last is whole."""
    last = max(etags)
    for n, etag in etags.items():
        part = received.get(n)
        if part is None or part["etag"] != etag.strip('"'):
            raise ChecksumMismatchError(
                f"part {n} of {file_name!r} did not arrive as sent; send it again"
            )
        if n < last and part["size"] != part_size:
            raise InvalidArgumentError(
                f"part {n} of {file_name!r} has {part['size']} bytes; every part but the last "
                f"must have {part_size}"
            )
    return sum(received[n]["size"] for n in etags)


def _digest_of(source: IO[bytes]) -> tuple[Any, int]:
    """The SHA-256 and length of what `source` holds, read from its start in chunks."""
    source.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
    return digest, size


def _session_files(conn: Connection, session_id: str) -> list[RowMapping]:
    query = (
        sa.select(upload_files)
        .where(upload_files.c.session_id == session_id)
        .order_by(upload_files.c.seq)
    )
    return list(conn.execute(query).mappings())


def _needed(links: Links | None) -> Links:
    """The links of a way in that receives parts (a server); an embedded lake has none."""
    if links is None:
        raise NotSupportedError(
            "upload parts are sent to a server; an embedded lake reads files from their paths"
        )
    return links


def _check_checksum(
    digest: bytes, checksum: str | None, file_name: str, part: int, name: str
) -> None:
    """Refuse a part without its checksum or whose bytes differ from it; `name` is what the
    way in calls the checksum (the server's header), so the message names what to send."""
    if not checksum:
        raise InvalidArgumentError(f"every part needs a {name} (base64 of its SHA-256)")
    try:
        claimed = base64.b64decode(checksum, validate=True)
    except binascii.Error as exc:
        raise InvalidArgumentError(f"{name} must be base64") from exc
    if claimed != digest:
        raise ChecksumMismatchError(
            f"part {part} of {file_name!r} does not match its {name}; send it again"
        )


def _job_result(conn: Connection, session: RowMapping) -> dict[str, Any]:
    """What completing the session returned the first time."""
    job_id = session["job_id"]
    collection_id = conn.execute(
        sa.select(jobs.c.collection_id).where(jobs.c.id == job_id)
    ).scalar_one()
    result = {"job_id": job_id, "collection_id": collection_id}
    files = session["request"]["files"]
    if len(files) == 1:
        collection = collections.get_by_id(conn, collection_id)
        result["unique_name"] = unique_name(collection["storage_name"], files[0]["file_name"])
    return result
