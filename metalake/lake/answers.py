"""The answers of the SDK's function families, their success flag spelt as the seeds spell it.

The seeds spell that flag two ways: `is_success` for uploads, jobs, annotations and downloads,
`isSuccess` for the trash and metadata functions. Every answer with a flag is built here, and
read here (`succeeded`), so that neither the lake, the server nor the CLI has to know which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NO_MORE_PAGES = "No more pages to download"
"""The seeds' message of a download paged past the end."""


@dataclass(frozen=True)
class Family:
    """SDK functions that answer alike: their answers carry the success flag as `key`."""

    name: str
    key: str

    def answer(self, success: bool, **fields: Any) -> dict[str, Any]:
        """An answer of this family: its success flag, then `fields` in order."""
        return {self.key: bool(success), **fields}

    def succeeded(self, answer: Mapping[str, Any]) -> bool:
        """Whether an answer of this family reports success."""
        return bool(answer[self.key])


UPLOADS = Family("uploads", "is_success")
"""`upload_files_to_collection`, `file_upload`."""
JOBS = Family("jobs", "is_success")
"""`wait_for_job_complete`."""
ANNOTATIONS = Family("annotations", "is_success")
"""`upload_annotations_*`, `upload_annoations_for_folder`, `remove_annotations`."""
DOWNLOADS = Family("downloads", "is_success")
"""`download_collection`, `download_annotations`, `download_files_from_*`."""
COLLECTIONS = Family("collections", "is_success")
"""`create_or_update_collection` (files added to a collection)."""
TRASH = Family("trash", "isSuccess")
"""`trash_objects_from_*`, `trash_collection`, `restore_from_trash`, `empty_trash`."""
DATASETS = Family("datasets", "is_success")
"""`create_dataset`, `update_dataset`, `delete_dataset_version`, `download_dataset`,
`import_dataset`."""
METADATA = Family("metadata", "isSuccess")
"""`upload_metadata_*` (and the head of a collection created with metadata)."""


def paged_past_the_end(page: list[dict[str, Any]], page_index: int) -> dict[str, Any] | None:
    """The download answer for a page past the last one, or None if `page` is one to download
    (an empty first page is just an empty selection)."""
    if not page and page_index > 0:
        return DOWNLOADS.answer(False, message=NO_MORE_PAGES)
    return None
