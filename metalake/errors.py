"""The exceptions MetaLake raises.

Every error a user can cause is a subclass of `MetaLakeError`, with a message that says what is
wrong and how to fix it::

    MetaLakeError
    ├── InvalidArgumentError        a bad argument: relative path, unknown content type, ...
    │   ├── InvalidPathError        a path that is relative, missing, or escapes its root
    │   ├── ContentTypeMismatchError  the files do not match the content type asked for
    │   ├── InvalidMetadataFileError  a metadata JSON file that does not parse or has a bad shape
    │   ├── InvalidAnnotationFileError  an annotation JSON file that does not parse, has a bad
    │   │                             shape, or has geometry that does not fit its image
    │   ├── InvalidQueryError       a query that does not parse or names an unknown field
    │   ├── PayloadTooLargeError    a request or part larger than its limit (HTTP 413)
    │   ├── ChecksumMismatchError   uploaded bytes that do not match their checksum
    │   ├── InvalidDatasetFolderError  a folder that is not the training format it claims
    │   ├── EmptySelectionError     a dataset selection that matches no file or no label
    │   └── MediaProbeError         a file that is not a readable image or video
    ├── NotFoundError               something named does not exist
    │   ├── CollectionNotFoundError
    │   ├── ItemNotFoundError
    │   ├── JobNotFoundError
    │   ├── OperationNotFoundError
    │   ├── ApiKeyNotFoundError
    │   ├── UploadSessionNotFoundError
    │   ├── SelectionNotFoundError
    │   ├── DatasetNotFoundError
    │   └── DatasetVersionNotFoundError
    ├── AuthenticationError         a missing, wrong or revoked API key or secret (HTTP 401)
    ├── CsrfError                   a web session's change without its CSRF token (HTTP 403)
    ├── SignatureError              a signed URL that expired or was altered (HTTP 403)
    ├── TooManyRequestsError        too many failed logins from one address (HTTP 429)
    ├── ServerUnavailableError      the server could not be reached, after retries
    ├── NotSupportedError           a documented argument this version does not implement yet
    ├── StorageError                the object store could not read or write bytes
    │   ├── StorageUnavailableError  the object store could not be reached (HTTP 503)
    │   └── StorageFullError        the disk under the lake's blob store, database or upload
    │                               staging area is full (HTTP 507)
    ├── DatabaseUnavailableError    the metadata database could not be reached (HTTP 503)
    ├── JobTimeoutError             a job that did not finish in the time the caller allowed
    └── JobLostError                a job another process took over (internal: ends the worker)

tests/test_errors.py checks this tree against the classes: add a class here when you add one.
"""

from __future__ import annotations

import re


class MetaLakeError(Exception):
    """Base class of every error MetaLake raises on purpose."""

    code = "metalake_error"


class InvalidArgumentError(MetaLakeError, ValueError):
    """An argument has a value MetaLake cannot accept."""

    code = "invalid_argument"


class InvalidPathError(InvalidArgumentError):
    """A path is relative, missing, or would escape the folder it must stay in."""

    code = "invalid_path"


class ContentTypeMismatchError(InvalidArgumentError):
    """The files given do not match the content type asked for."""

    code = "content_type_mismatch"


class InvalidMetadataFileError(InvalidArgumentError):
    """A metadata JSON file does not parse or does not have the documented shape."""

    code = "invalid_metadata_file"


class InvalidAnnotationFileError(InvalidArgumentError):
    """An annotation JSON file does not parse, does not have the documented shape, or has
    geometry that does not fit its image."""

    code = "invalid_annotation_file"


class InvalidQueryError(InvalidArgumentError):
    """A query does not parse, names an unknown field, or compares a field with the wrong kind
    of value; the message gives the column and what was expected there."""

    code = "invalid_query"

    @property
    def column(self) -> int | None:
        """The column (from 1) the message names, None if it names none."""
        found = re.match(r"query error at column (\d+):", str(self))
        return int(found.group(1)) if found else None


class PayloadTooLargeError(InvalidArgumentError):
    """A request body, upload part or file is larger than the limit that applies to it."""

    code = "payload_too_large"


class ChecksumMismatchError(InvalidArgumentError):
    """Uploaded bytes do not match the checksum sent with them (sent again by the client)."""

    code = "checksum_mismatch"


class InvalidDatasetFolderError(InvalidArgumentError):
    """A folder given to `import_dataset` is not the format it is said to be; the message names
    the file, the entry and the field."""

    code = "invalid_dataset_folder"


class EmptySelectionError(InvalidArgumentError):
    """A dataset version would hold no file, or a label asked for matches no annotation."""

    code = "empty_selection"


class NotFoundError(MetaLakeError, LookupError):
    """Something named by the caller does not exist."""

    code = "not_found"


class CollectionNotFoundError(NotFoundError):
    code = "collection_not_found"


class ItemNotFoundError(NotFoundError):
    code = "item_not_found"


class JobNotFoundError(NotFoundError):
    code = "job_not_found"


class OperationNotFoundError(NotFoundError):
    code = "operation_not_found"


class ApiKeyNotFoundError(NotFoundError):
    code = "api_key_not_found"


class UploadSessionNotFoundError(NotFoundError):
    code = "upload_session_not_found"


class SelectionNotFoundError(NotFoundError):
    code = "selection_not_found"


class DatasetNotFoundError(NotFoundError):
    code = "dataset_not_found"


class DatasetVersionNotFoundError(NotFoundError):
    code = "dataset_version_not_found"


class AuthenticationError(MetaLakeError, PermissionError):
    """The request carried no API key, or a key and secret that do not match, or a revoked key."""

    code = "unauthenticated"


class CsrfError(MetaLakeError, PermissionError):
    """A request that changes something came with a web session's cookie but without the
    session's CSRF token (it may come from another site's page)."""

    code = "csrf_failed"


class SignatureError(MetaLakeError, PermissionError):
    """A signed URL has expired or does not match its signature."""

    code = "bad_signature"


class TooManyRequestsError(MetaLakeError, PermissionError):
    """Too many failed logins from the caller's address (or for one key from it) in a short
    time; `retry_after` is how many seconds to wait before trying again."""

    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerUnavailableError(MetaLakeError, ConnectionError):
    """The MetaLake server could not be reached or kept failing, after retries."""

    code = "server_unavailable"


class NotSupportedError(MetaLakeError, NotImplementedError):
    """A documented argument or feature that this version does not implement yet."""

    code = "not_supported"


class StorageError(MetaLakeError, OSError):
    """The object store could not read or write bytes."""

    code = "storage_error"


class StorageUnavailableError(StorageError):
    """The object store could not be reached or kept failing (down, overloaded, network): a
    passing condition, retried for a while before it is reported."""

    code = "storage_unavailable"


class DatabaseUnavailableError(MetaLakeError, ConnectionError):
    """The metadata database could not be reached or dropped the connection, after retries."""

    code = "database_unavailable"


class StorageFullError(StorageError):
    """No space is left where the lake writes: its blob store, its database, or the staging area
    of uploads (the message says which, and never a path: it may come from a server)."""

    code = "storage_full"
    BLOBS, DATABASE, STAGING = "blob store", "database", "upload staging area"

    @classmethod
    def of(cls, where: str, then: str = "then try again") -> StorageFullError:
        """The error for a full `where` (BLOBS, DATABASE or STAGING), with what to do next."""
        return cls(f"the lake ran out of space in its {where}: free space on its disk, {then}")


class MediaProbeError(InvalidArgumentError):
    """A file is not a readable image or video of the kind its content type says."""

    code = "media_probe_failed"


class JobTimeoutError(MetaLakeError, TimeoutError):
    """A job did not finish within the time the caller allowed."""

    code = "job_timeout"


class JobLostError(MetaLakeError):
    """Another process took over a job this process was running (its heartbeat went stale)."""

    code = "job_lost"


def error_class(code: str) -> type[MetaLakeError]:
    """The exception class with a given `code` (MetaLakeError for unknown codes)."""
    pending: list[type[MetaLakeError]] = [MetaLakeError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return cls
        pending.extend(cls.__subclasses__())
    return MetaLakeError
