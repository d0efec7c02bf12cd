"""MetaLake: a self-hosted data lake for computer-vision data."""

from metalake.client import Client, JobTimeoutError
from metalake.errors import (
    CollectionNotFoundError,
    ContentTypeMismatchError,
    InvalidArgumentError,
    InvalidMetadataFileError,
    InvalidPathError,
    ItemNotFoundError,
    JobNotFoundError,
    MetaLakeError,
    NotFoundError,
    NotSupportedError,
    StorageError,
)
from metalake.media.probe import MediaProbeError

__all__ = [
    "Client",
    "CollectionNotFoundError",
    "ContentTypeMismatchError",
    "InvalidArgumentError",
    "InvalidMetadataFileError",
    "InvalidPathError",
    "ItemNotFoundError",
    "JobNotFoundError",
    "JobTimeoutError",
    "MediaProbeError",
    "MetaLakeError",
    "NotFoundError",
    "NotSupportedError",
    "StorageError",
]
__version__ = "0.1.0"
