"""MetaLake: a self-hosted data lake for computer-vision data."""

from metalake.client import Client, JobTimeoutError
from metalake.errors import (
    ApiKeyNotFoundError,
    AuthenticationError,
    ChecksumMismatchError,
    CollectionNotFoundError,
    ContentTypeMismatchError,
    InvalidAnnotationFileError,
    InvalidArgumentError,
    InvalidMetadataFileError,
    InvalidPathError,
    InvalidQueryError,
    ItemNotFoundError,
    JobNotFoundError,
    MetaLakeError,
    NotFoundError,
    NotSupportedError,
    OperationNotFoundError,
    ServerUnavailableError,
    SignatureError,
    StorageError,
    UploadSessionNotFoundError,
)
from metalake.media.probe import MediaProbeError

__all__ = [
    "ApiKeyNotFoundError",
    "AuthenticationError",
    "ChecksumMismatchError",
    "Client",
    "CollectionNotFoundError",
    "ContentTypeMismatchError",
    "InvalidAnnotationFileError",
    "InvalidArgumentError",
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
    "ServerUnavailableError",
    "SignatureError",
    "StorageError",
    "UploadSessionNotFoundError",
]
__version__ = "0.1.0"
