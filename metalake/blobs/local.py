"""A local-folder object store: one file per key under a root folder, written atomically.

A write that fails for lack of space raises `StorageFullError` (see `_space_checked`), never the
bare OSError, whose file name would blame the wrong file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from metalake.blobs.keys import check_key
from metalake.blobs.store import StagedBlob, StoredObject
from metalake.errors import StorageError, StorageFullError
from metalake.processes import owner_tag, tag_is_dead

CHUNK = 1 << 20
TMP_DIR = ".tmp"
MAX_WRITE_PIECES = 512
"""Pieces one writev takes at most here (the system's limit is 1,024)."""
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
"""What a write answers when its disk (or the writer's quota) has no space left."""


@contextlib.contextmanager
def _space_checked(where: str) -> Iterator[None]:
    """Raise StorageFullError for a write in `where` that failed because the disk is full.

    Reading never fails this way, so a block that also reads its source stays correct: a read
    error passes through unchanged.
    """
    try:
        yield
    except OSError as exc:
        if exc.errno in FULL_ERRNOS:
            raise StorageFullError.of(where) from exc
        raise


def _pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of `data` at `offset`: a nearly full disk takes only part of a write, and the
    write of the rest then fails with ENOSPC (ignoring the count would leave a hole)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


class LocalBlobStore:
    """Blobs as files under `root`; writes go to a temp file and are renamed into place.

    Clients of a server send upload parts to the server itself (`direct_uploads` is False).
    """

    direct_uploads = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / TMP_DIR
        self._tmp.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _prefix() -> str:
        return f"{owner_tag()}~"

    def path_of(self, key: str) -> Path:
        """The file that holds `key` (checked to stay inside the root)."""
        return self.root / check_key(key)

    def stage(
        self, source: BinaryIO, suffix: str = "", head: Callable[[bytes], object] | None = None
    ) -> StagedBlob:
        """Copy `source` into a temp file while hashing it; `commit` or `discard` it next.
        `head`, if given, sees the first chunk read."""
        with _space_checked(StorageFullError.BLOBS):
            fd, name = tempfile.mkstemp(dir=self._tmp, prefix=self._prefix(), suffix=suffix)
        digest = hashlib.sha256()
        size = 0
        try:
            with _space_checked(StorageFullError.BLOBS), os.fdopen(fd, "wb") as out:
                while chunk := source.read(CHUNK):
                    if head is not None and not size:
                        head(chunk)
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return StagedBlob(name, size, digest.hexdigest())

    def stage_file(self, source: Path, head: Callable[[bytes], object] | None = None) -> StagedBlob:
        """Stage the bytes of a local file (`head` sees its first chunk)."""
        try:
            with source.open("rb") as f:
                return self.stage(f, suffix=source.suffix, head=head)
        except StorageError:
            raise
        except OSError as exc:
            raise StorageError(f"cannot read {source}: {exc.strerror or exc}") from exc

    def stage_bytes(self, pieces: Sequence[bytes | memoryview], sha256: str) -> StagedBlob:
        """Write bytes already hashed (a received file, in pieces) to a temp file, in one
        call where the disk takes them whole; `commit` it next."""
        size = sum(len(piece) for piece in pieces)
        if len(pieces) > MAX_WRITE_PIECES:
            pieces = [b"".join(pieces)]
        with _space_checked(StorageFullError.STAGING):
            fd, name = tempfile.mkstemp(dir=self._tmp, prefix=self._prefix())
            try:
                written = os.writev(fd, pieces) if pieces else 0
                if written < size:
                    _pwrite_all(fd, memoryview(b"".join(pieces))[written:], written)
            except BaseException:
                Path(name).unlink(missing_ok=True)
                raise
            finally:
                os.close(fd)
        return StagedBlob(name, size, sha256)

    def commit(self, staged: StagedBlob, key: str) -> None:
        """Make staged bytes visible under `key`, atomically replacing any previous bytes."""
        target = self.path_of(key)
        with _space_checked(StorageFullError.BLOBS):
            target.parent.mkdir(parents=True, exist_ok=True)
            Path(staged.token).replace(target)

    def discard(self, staged: StagedBlob) -> None:
        Path(staged.token).unlink(missing_ok=True)

    def copy(self, source_key: str, key: str) -> None:
        """Make the bytes of `source_key` visible under `key` too (a hard link where the file
        system allows it, so no bytes are copied); the source stays until deleted."""
        source = self.path_of(source_key)
        target = self.path_of(key)
        temp = self._tmp / f"{self._prefix()}{uuid.uuid4().hex}"
        with _space_checked(StorageFullError.BLOBS):
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):  # a new key: one link, already atomic
                os.link(source, target)
                return
            try:
                os.link(source, temp)
            except FileNotFoundError as exc:
                raise StorageError(f"no bytes stored under {source_key!r}") from exc
            except OSError as exc:
                if exc.errno in FULL_ERRNOS:
                    raise
                shutil.copyfile(source, temp)  # a file system without hard links
            temp.replace(target)
            temp.unlink(missing_ok=True)  # rename does nothing if both were links to one file

    def write_part(self, key: str, offset: int, data: bytes | memoryview) -> None:
        """Write one part of an upload in place at `offset` (parts may arrive in any order)."""
        path = self.path_of(key)
        with _space_checked(StorageFullError.STAGING):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                _pwrite_all(fd, data, offset)
            finally:
                os.close(fd)

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.path_of(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"no bytes stored under {key!r}") from exc

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store `data` under `key` atomically."""
        target = self.path_of(key)
        with _space_checked(StorageFullError.BLOBS):
            fd, name = tempfile.mkstemp(dir=self._tmp, prefix=self._prefix())
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                target.parent.mkdir(parents=True, exist_ok=True)
                Path(name).replace(target)
            except BaseException:
                Path(name).unlink(missing_ok=True)
                raise

    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Open the bytes of `key` for reading."""
        try:
            f = self.path_of(key).open("rb")
        except FileNotFoundError as exc:
            raise StorageError(f"no bytes stored under {key!r}") from exc
        with f:
            yield f

    def delete(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        """Remove every key under `prefix/`."""
        shutil.rmtree(self.path_of(prefix), ignore_errors=True)

    def list_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every file under `prefix/` (the whole folder for ""), as keys relative to the root."""
        top = self.path_of(prefix) if prefix else self.root
        for folder, _, names in os.walk(top):
            for name in names:
                path = Path(folder, name)
                try:
                    stat = path.stat()
                except FileNotFoundError:  # removed since the folder was read
                    continue
                modified = datetime.fromtimestamp(stat.st_mtime, UTC)
                yield StoredObject(path.relative_to(self.root).as_posix(), stat.st_size, modified)

    def url(self, key: str, expires_in: float) -> str:
        """A `file://` URL of the stored bytes: the embedded lake's download URL (no expiry)."""
        return self.path_of(key).resolve().as_uri()

    def clear_stale_temp(self, older_than_s: float = 24 * 3600) -> None:
        """Remove temp files left by writers that died (on this host, or long ago elsewhere)."""
        cutoff = time.time() - older_than_s
        for entry in self._tmp.iterdir():
            with contextlib.suppress(OSError):
                if tag_is_dead(entry.name) or entry.stat().st_mtime < cutoff:
                    entry.unlink()
