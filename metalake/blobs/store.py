"""What the lake asks of an object store, and how to open one from a storage URL.

Two stores satisfy `BlobStore`: `LocalBlobStore` (a folder, the default) and `S3BlobStore`
(any S3-compatible server). Keys are checked relative paths such as `Traffic/img_001.jpg`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from metalake.errors import InvalidArgumentError


@dataclass(frozen=True)
class StagedBlob:
    """Bytes written to the store's temp area and hashed, not yet visible under any key.

    `token` is the temp file (local) or temp key (S3).
    """

    token: str
    size: int
    sha256: str


@dataclass(frozen=True)
class StoredObject:
    """One object a listing found: its key, its size and when it was last written (UTC)."""

    key: str
    size: int
    modified: datetime


class BlobStore(Protocol):
    direct_uploads: bool
    """True if clients send upload parts to the store itself (presigned), not to the server."""

    def stage_file(self, source: Path, head: Callable[[bytes], object] | None = None) -> StagedBlob:
        """Copy a local file into a temp object while hashing it; `head`, if given, sees the
        first bytes read (up to 1 MiB), so a caller can inspect a file it is copying anyway."""
        ...

    def stage_bytes(self, pieces: Sequence[bytes | memoryview], sha256: str) -> StagedBlob:
        """Put bytes (`pieces`, in order) whose SHA-256 the caller checked already in a temp
        object."""
        ...

    def commit(self, staged: StagedBlob, key: str) -> None: ...
    def discard(self, staged: StagedBlob) -> None: ...
    def copy(self, source_key: str, key: str) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def read_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def open(self, key: str) -> AbstractContextManager[BinaryIO]: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def list_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every object under `prefix/` (the whole store for ""), the lake's own included."""
        ...

    def url(self, key: str, expires_in: float) -> str: ...
    def clear_stale_temp(self) -> None: ...


def open_blob_store(storage: str | None, home: Path) -> BlobStore:
    """The store a storage URL names: None for `<home>/blobs`, or `s3://bucket[/prefix]`."""
    from metalake.blobs.local import LocalBlobStore

    if not storage:
        return LocalBlobStore(home / "blobs")
    if storage.startswith("s3://"):
        from metalake.blobs.s3 import S3BlobStore

        bucket, _, prefix = storage.removeprefix("s3://").partition("/")
        if not bucket:
            raise InvalidArgumentError(
                f"storage URL {storage!r} names no bucket: s3://bucket/prefix"
            )
        return S3BlobStore(bucket, prefix.strip("/"))
    if storage.startswith("file://") or storage.startswith("/"):
        return LocalBlobStore(Path(storage.removeprefix("file://")))
    raise InvalidArgumentError(
        f"unknown storage {storage!r}: use s3://bucket/prefix or an absolute folder path"
    )
