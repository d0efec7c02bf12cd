"""MetaLake: a self-hosted data lake for computer-vision data."""

import typing as _typing

from metalake.errors import (
    ApiKeyNotFoundError,
    AuthenticationError,
    ChecksumMismatchError,
    CollectionNotFoundError,
    ContentTypeMismatchError,
    DatasetNotFoundError,
    DatasetVersionNotFoundError,
    EmptySelectionError,
    InvalidAnnotationFileError,
    InvalidArgumentError,
    InvalidDatasetFolderError,
    InvalidMetadataFileError,
    InvalidPathError,
    InvalidQueryError,
    ItemNotFoundError,
    JobNotFoundError,
    JobTimeoutError,
    MediaProbeError,
    MetaLakeError,
    NotFoundError,
    NotSupportedError,
    OperationNotFoundError,
    PayloadTooLargeError,
    SelectionNotFoundError,
    ServerUnavailableError,
    SignatureError,
    StorageError,
    StorageFullError,
    TooManyRequestsError,
    UploadSessionNotFoundError,
)

if _typing.TYPE_CHECKING:
    from metalake.client.client import Client

__all__ = [
    "ApiKeyNotFoundError",
    "AuthenticationError",
    "ChecksumMismatchError",
    "Client",
    "CollectionNotFoundError",
    "ContentTypeMismatchError",
    "DatasetNotFoundError",
    "DatasetVersionNotFoundError",
    "EmptySelectionError",
    "InvalidAnnotationFileError",
    "InvalidArgumentError",
    "InvalidDatasetFolderError",
    "InvalidMetadataFileError",
    "InvalidPathError",
    "InvalidQueryError",
    "ItemNotFoundError",
    "JobNotFoundError",
    "JobTimeoutError",
    "MediaProbeError",
    "MetaLakeError",
    "NotFoundError",
    "NotSupportedError",
    "OperationNotFoundError",
    "PayloadTooLargeError",
    "SelectionNotFoundError",
    "ServerUnavailableError",
    "SignatureError",
    "StorageError",
    "StorageFullError",
    "TooManyRequestsError",
    "UploadSessionNotFoundError",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> type:
    """`Client` is imported on first use (then kept here), so `import metalake` and the CLI's
    `--help` do not pay for the lake, the database layer and the HTTP client."""
    if name == "Client":
        from metalake.client.client import Client

        globals()["Client"] = Client
        return Client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
