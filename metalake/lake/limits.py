"""Limits on what one call or one request may ask of a lake (docs/limits.md lists every limit).

Each is checked before anything is written, so a request past a limit changes nothing and costs
little; the message names the limit.
"""

from __future__ import annotations

import os

from metalake.errors import InvalidArgumentError, PayloadTooLargeError

MIN_INTEGER, MAX_INTEGER = -(2**63), 2**63 - 1
"""Integers a value or a query may hold: what PostgreSQL and SQLite store exactly."""
MAX_OBJECT_SIZE_ENV = "METALAKE_MAX_OBJECT_SIZE"
DEFAULT_MAX_OBJECT_SIZE = 5 << 40
"""Bytes in one stored file: 5 TiB, as S3 allows."""
MAX_UPLOAD_FILES = 100_000
"""Files in one upload call: a larger folder is uploaded in several calls."""
MAX_CATALOG_PAGE = 10_000
"""Rows of one page of collections, operations or labels, and the default page size."""
MAX_REQUEST_BYTES = 256 << 20
"""Bytes in one JSON request body (annotation documents are the largest)."""


def max_object_size() -> int:
    """`$METALAKE_MAX_OBJECT_SIZE` bytes, default 5 TiB."""
    text = os.environ.get(MAX_OBJECT_SIZE_ENV)
    if not text:
        return DEFAULT_MAX_OBJECT_SIZE
    if not text.isdigit() or int(text) < 1:
        raise InvalidArgumentError(f"{MAX_OBJECT_SIZE_ENV} must be a number of bytes, not {text!r}")
    return int(text)


def check_file_count(count: int) -> None:
    """Refuse an upload of more than MAX_UPLOAD_FILES files."""
    if count > MAX_UPLOAD_FILES:
        raise PayloadTooLargeError(
            f"an upload takes at most {MAX_UPLOAD_FILES} files, not {count}: upload the folder "
            "in several calls"
        )


def check_file_size(file_name: str, size: object, limit: int | None = None) -> int:
    """`size` if it is a whole number of bytes within the object size limit (`limit`, default
    `max_object_size()`), else raise."""
    if type(size) is not int or size < 0:
        raise InvalidArgumentError(f"file {file_name!r} needs its size as a whole number of bytes")
    limit = max_object_size() if limit is None else limit
    if size > limit:
        raise PayloadTooLargeError(
            f"file {file_name!r} has {size} bytes; a file may have at most {limit} bytes "
            f"({MAX_OBJECT_SIZE_ENV})"
        )
    return size


DEFAULT_FACET_TOP = 20
"""Values a facet field gives when the caller does not say (`get_facets(top=...)`)."""
DEFAULT_JOB_LIST = 50
MAX_JOB_LIST = 500
"""Jobs one listing of recent jobs gives by default and at most."""
