"""An S3-compatible object store (AWS, SeaweedFS, MinIO, ...) through boto3.

Credentials and the endpoint come from the usual AWS settings (`AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`, ...). Clients of a server upload and download bytes
straight from the store through presigned URLs, so bytes never pass through the server.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from metalake.blobs.keys import check_key
from metalake.blobs.store import StagedBlob, StoredObject
from metalake.errors import StorageError, StorageUnavailableError
from metalake.processes import owner_tag, tag_is_dead

TMP_PREFIX = ".tmp"
UNAVAILABLE_CODES = ("SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError")
READ_BLOCK = 256 << 10


class _HashingReader(io.RawIOBase):
    """Reads a file and hashes what was read, so one pass both uploads and hashes it."""

    def __init__(self, source: BinaryIO, head: Callable[[bytes], object] | None = None) -> None:
        self._source = source
        self._head = head
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        if self._head is not None and not self.size and data:
            self._head(data)
        buffer[: len(data)] = data
        self.sha256.update(data)
        self.size += len(data)
        return len(data)


class _RangeReader(io.RawIOBase):
    """A seekable read-only view of one object, fetching only the byte ranges that are read."""

    def __init__(self, client: Any, bucket: str, key: str, size: int) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._size or not len(buffer):
            return 0
        end = min(self._size, self._pos + len(buffer)) - 1
        response = self._client.get_object(
            Bucket=self._bucket, Key=self._key, Range=f"bytes={self._pos}-{end}"
        )
        data = response["Body"].read()
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


class S3BlobStore:
    """Blobs as objects under `prefix/` in one bucket (created if missing)."""

    direct_uploads = True

    def __init__(self, bucket: str, prefix: str = "") -> None:
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},  # then jobs retry (outages.py)
            max_pool_connections=32,
        )
        self._client = boto3.session.Session().client(
            "s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None, config=config
        )
        with self._errors(f"bucket {bucket!r}"):
            try:
                self._client.head_bucket(Bucket=bucket)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                    raise
                self._client.create_bucket(Bucket=bucket)

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise StorageError(f"no bytes stored under {what}") from exc
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if status >= 500 or error.get("Code") in UNAVAILABLE_CODES:
                raise StorageUnavailableError(
                    f"the object store failed on {what} ({error.get('Code') or status}); "
                    "it may be down or overloaded"
                ) from exc
            raise StorageError(f"S3 refused {what}: {error.get('Message') or exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(
                f"the object store could not be reached for {what} ({type(exc).__name__}); "
                "check that it is running and reachable"
            ) from exc

    def stage_file(self, source: Path, head: Callable[[bytes], object] | None = None) -> StagedBlob:
        """Upload a local file to a temp key while hashing it (`head` sees its first bytes)."""
        token = f"{TMP_PREFIX}/{owner_tag()}~{uuid.uuid4().hex}"
        try:
            f = source.open("rb")
        except OSError as exc:
            raise StorageError(f"cannot read {source}: {exc.strerror or exc}") from exc
        with f, self._errors(token):
            reader = _HashingReader(f, head)
            self._client.upload_fileobj(
                io.BufferedReader(reader, READ_BLOCK), self.bucket, self._key(token)
            )
        return StagedBlob(token, reader.size, reader.sha256.hexdigest())

    def stage_bytes(self, pieces: Sequence[bytes | memoryview], sha256: str) -> StagedBlob:
        """Upload bytes already hashed to a temp key."""
        token = f"{TMP_PREFIX}/{owner_tag()}~{uuid.uuid4().hex}"
        data = b"".join(pieces)
        self.put_bytes(token, data)
        return StagedBlob(token, len(data), sha256)

    def commit(self, staged: StagedBlob, key: str) -> None:
        self.copy(staged.token, key)
        self.delete(staged.token)

    def discard(self, staged: StagedBlob) -> None:
        self.delete(staged.token)

    def copy(self, source_key: str, key: str) -> None:
        """Server-side copy to `key` (no bytes pass through here); the source stays."""
        with self._errors(source_key):
            self._client.copy(
                {"Bucket": self.bucket, "Key": self._key(source_key)}, self.bucket, self._key(key)
            )

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._errors(key):
            self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def read_bytes(self, key: str) -> bytes:
        with self._errors(key):
            return self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def size_of(self, key: str) -> int:
        with self._errors(key):
            return self._client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]

    def exists(self, key: str) -> bool:
        with self._errors(key):
            try:
                self._client.head_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
        return True

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """A seekable stream over the object that reads only the ranges asked for."""
        reader = _RangeReader(self._client, self.bucket, self._key(key), self.size_of(key))
        with self._errors(key), io.BufferedReader(reader, READ_BLOCK) as stream:
            yield stream

    def delete(self, key: str) -> None:
        with self._errors(key):
            self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def _keys_under(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("list_objects_v2")
        start = self._key(prefix) + "/" if prefix else self.prefix
        for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
            yield from page.get("Contents", [])

    def list_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every object under `prefix/` (the whole store for ""), as keys without the store's
        prefix. Some stores hide some names from listings: SeaweedFS hides every path segment
        named `.uploads` (its own multipart folder), which is why staging is not there."""
        with self._errors(prefix or "the store's listing"):
            for entry in self._keys_under(prefix):
                key = entry["Key"].removeprefix(self.prefix)
                yield StoredObject(key, entry["Size"], entry["LastModified"])

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an unfinished multipart upload and its parts (a no-op if it is gone already)."""
        with contextlib.suppress(StorageError), self._errors(key):
            self._client.abort_multipart_upload(
                Bucket=self.bucket, Key=self._key(key), UploadId=upload_id
            )

    def delete_prefix(self, prefix: str) -> None:
        with self._errors(prefix):
            for entry in self._keys_under(prefix):
                self._client.delete_object(Bucket=self.bucket, Key=entry["Key"])

    def url(self, key: str, expires_in: float) -> str:
        """A presigned GET URL of the object (honours Range; 403 once expired)."""
        return self._presign("get_object", {"Key": self._key(key)}, expires_in)

    def presign_put(self, key: str, expires_in: float) -> str:
        return self._presign("put_object", {"Key": self._key(key)}, expires_in)

    def start_multipart(self, key: str) -> str:
        with self._errors(key):
            response = self._client.create_multipart_upload(Bucket=self.bucket, Key=self._key(key))
        return response["UploadId"]

    def presign_part(self, key: str, upload_id: str, part: int, expires_in: float) -> str:
        params = {"Key": self._key(key), "UploadId": upload_id, "PartNumber": part}
        return self._presign("upload_part", params, expires_in)

    def complete_multipart(self, key: str, upload_id: str, etags: list[str]) -> None:
        parts = [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, start=1)]
        with self._errors(key):
            self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self._key(key),
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )

    def _presign(self, method: str, params: dict[str, Any], expires_in: float) -> str:
        return self._client.generate_presigned_url(
            method, Params={"Bucket": self.bucket, **params}, ExpiresIn=int(expires_in)
        )

    def clear_stale_temp(self, older_than: timedelta = timedelta(hours=24)) -> None:
        """Remove temp objects of writers that died (on this host, or long ago elsewhere)."""
        cutoff = datetime.now(UTC) - older_than
        with self._errors(TMP_PREFIX):
            for entry in self._keys_under(TMP_PREFIX):
                name = entry["Key"].rsplit("/", 1)[-1]
                if tag_is_dead(name) or entry["LastModified"] < cutoff:
                    self._client.delete_object(Bucket=self.bucket, Key=entry["Key"])
