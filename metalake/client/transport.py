"""The seam between the SDK and a lake: in-process (embedded) or HTTP (`HttpTransport`).

`Transport` lists what the Client asks of a lake; `Lake` itself satisfies it, so the embedded
transport is the lake, shared by every Client in the process that opens the same folder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from metalake.lake.annotations.documents import AnnotationFile
from metalake.lake.annotations.store import AnnotationSelection
from metalake.lake.datasets.versions import VersionRequest
from metalake.lake.file_targets import FileTarget
from metalake.lake.ingest import UploadRequest
from metalake.lake.lake import Lake
from metalake.lake.metadata import FileMetadataEntry, MetadataChange
from metalake.lake.selection import ItemSelection, SortOrder


class Transport(Protocol):
    def upload(self, request: UploadRequest) -> dict[str, Any]: ...
    def get_job(self, job_id: str) -> dict[str, Any]: ...
    def update_collection_metadata(
        self, collection_name: str, content_type: str, change: MetadataChange, apply_to_files: bool
    ) -> dict[str, Any]: ...
    def update_files_metadata(
        self, target: FileTarget, entries: Iterable[FileMetadataEntry]
    ) -> dict[str, Any]: ...
    def upload_annotations(
        self, target: FileTarget, annotation_file: AnnotationFile
    ) -> dict[str, Any]: ...
    def remove_annotations(self, collection_id: str, operation_id: str) -> dict[str, Any]: ...
    def annotation_page(
        self,
        collection_id: str,
        selection: AnnotationSelection,
        after: str | None,
        limit: int,
        with_urls: bool,
    ) -> dict[str, Any]: ...
    def collection_id(self, collection_name: str, content_type: str) -> str: ...
    def collection_details(self, collection_id: str) -> dict[str, Any]: ...
    def file_details(self, unique_name: str) -> dict[str, Any]: ...
    def list_collections(
        self, content_type: str | None, page_index: int, page_size: int
    ) -> list[dict[str, Any]]: ...
    def list_operations(
        self, collection_id: str | None, page_index: int, page_size: int
    ) -> list[dict[str, Any]]: ...
    def list_labels(self, page_index: int, page_size: int) -> list[dict[str, Any]]: ...
    def list_items(
        self,
        selection: ItemSelection,
        sort: SortOrder,
        page_index: int,
        page_size: int,
        with_urls: bool = False,
    ) -> list[dict[str, Any]]: ...
    def item_page(
        self,
        selection: ItemSelection,
        sort: SortOrder,
        page_size: int,
        cursor: str | None = None,
        with_urls: bool = False,
    ) -> dict[str, Any]: ...
    def count_items(self, selection: ItemSelection) -> int: ...
    def facets(
        self, selection: ItemSelection, fields: list[str] | None, top: int
    ) -> dict[str, Any]: ...
    def trash(self, selection: ItemSelection) -> dict[str, Any]: ...
    def trash_collection(self, collection_id: str) -> dict[str, Any]: ...
    def restore_from_trash(self, selection: ItemSelection) -> dict[str, Any]: ...
    def empty_trash(self, older_than_days: float) -> dict[str, Any]: ...
    def add_to_collection(
        self, collection_name: str, content_type: str, selection: ItemSelection
    ) -> dict[str, Any]: ...
    def download_url(self, file_key: str, expires_in: float | None = None) -> str: ...
    def thumbnail(self, unique_name: str, size: int) -> bytes: ...
    def create_dataset(self, dataset_name: str, request: VersionRequest) -> dict[str, Any]: ...
    def update_dataset(self, dataset_name: str, request: VersionRequest) -> dict[str, Any]: ...
    def get_dataset(self, dataset_name: str) -> dict[str, Any]: ...
    def list_datasets(self) -> list[dict[str, Any]]: ...
    def dataset_version(self, version_id: str) -> dict[str, Any]: ...
    def delete_dataset_version(self, version_id: str) -> dict[str, Any]: ...
    def dataset_page(
        self,
        version_id: str,
        split: str,
        after: str | None,
        limit: int,
        with_urls: bool,
        *,
        with_annotations: bool = True,
    ) -> dict[str, Any]: ...


class _OpenLakes:
    """Process-wide registry: one Lake (one database, one job worker) per folder and database."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lakes: dict[tuple[Path, str | None, str | None], tuple[Lake, int]] = {}
        self._inherited: list[Lake] = []

    def forget_after_fork(self) -> None:
        """In a forked child (a DataLoader worker), set the parent's lakes aside: their database
        connections and job thread belong to the parent, so the child opens lakes of its own.
        They are kept referenced, never closed, so that no connection of the parent is closed
        from the child."""
        self._lock = threading.Lock()
        self._inherited.extend(lake for lake, _users in self._lakes.values())
        self._lakes = {}

    def acquire(self, home: Path, database_url: str | None, storage: str | None) -> Lake:
        key = (home.resolve(), database_url, storage)
        with self._lock:
            lake, users = self._lakes.get(key) or (Lake(key[0], database_url, storage), 0)
            self._lakes[key] = (lake, users + 1)
            return lake

    def release(self, lake: Lake) -> None:
        with self._lock:
            for key, (open_lake, users) in list(self._lakes.items()):
                if open_lake is lake:
                    if users > 1:
                        self._lakes[key] = (lake, users - 1)
                        return
                    del self._lakes[key]
                    break
            else:
                return
        lake.close()


open_lakes = _OpenLakes()
os.register_at_fork(after_in_child=open_lakes.forget_after_fork)
