"""The exceptions MetaLake raises.

Every error a user can cause is a subclass of `MetaLakeError`, with a message that says what is
wrong and how to fix it::

    MetaLakeError
    ├── InvalidArgumentError        a bad argument: relative path, unknown content type, ...
    │   ├── InvalidPathError        a path that is relative, missing, or escapes its root
    │   ├── ContentTypeMismatchError  the files do not match the content type asked for
    │   └── InvalidMetadataFileError  a metadata JSON file that does not parse or has a bad shape
    ├── NotFoundError               something named does not exist
    │   ├── CollectionNotFoundError
    │   ├── ItemNotFoundError
    │   └── JobNotFoundError
    ├── NotSupportedError           a documented argument this version does not implement yet
    └── StorageError                the object store could not read or write bytes
"""

from __future__ import annotations


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


class NotFoundError(MetaLakeError, LookupError):
    """Something named by the caller does not exist."""

    code = "not_found"


class CollectionNotFoundError(NotFoundError):
    code = "collection_not_found"


class ItemNotFoundError(NotFoundError):
    code = "item_not_found"


class JobNotFoundError(NotFoundError):
    code = "job_not_found"


class NotSupportedError(MetaLakeError, NotImplementedError):
    """A documented argument or feature that this version does not implement yet."""

    code = "not_supported"


class StorageError(MetaLakeError, OSError):
    """The object store could not read or write bytes."""

    code = "storage_error"
