"""Importing a training folder (COCO, YOLO, Pascal VOC): its images become an ordinary upload to
a collection and its labels one annotation operation that the same job applies.

The folder is read and its labels checked whole (the format's reader, then the lake's annotation
checks) before anything is sent, so a malformed folder uploads nothing. Each file gets the
metadata field `split` the folder gave it, so `metadata.split = validation` finds them again.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from metalake.client.files import absolute_path
from metalake.errors import InvalidPathError
from metalake.lake import answers
from metalake.lake.annotations.documents import AnnotationFile, check_operation_id
from metalake.lake.collections import check_collection_name
from metalake.lake.datasets.formats.registry import dataset_format, import_reader
from metalake.lake.ingest import UploadFile, UploadRequest
from metalake.lake.metadata import parse_metadata_object

if TYPE_CHECKING:
    from metalake.client.transport import Transport

SPLIT_FIELD = "split"
IMAGE = "image"


def import_dataset(
    transport: Transport,
    path: str,
    format: str,
    collection_name: str,
    operation_unique_id: str,
    is_model_run: bool,
    is_normalized: bool | None,
) -> dict[str, Any]:
    """Read and check the folder at `path`, then start the upload job that stores its images
    in `collection_name` and applies its labels as `operation_unique_id`."""
    reader = import_reader(format)
    name = dataset_format(format, "format").name
    check_collection_name(collection_name)
    check_operation_id(operation_unique_id)
    folder = absolute_path(path)
    if not folder.is_dir():
        raise InvalidPathError(f"{folder} is not a folder: import_dataset reads a {name} folder")
    imported = reader(folder, is_normalized)
    labels = AnnotationFile(
        imported.document, operation_unique_id, is_model_run, False, None, str(folder)
    )
    shapes = sum(len(entry.shapes) for entry in labels.entries)  # checks them all, now
    files = [
        UploadFile(
            file_name,
            str(source),
            metadata=parse_metadata_object({SPLIT_FIELD: imported.splits[file_name]}),
        )
        for file_name, source in imported.files.items()
    ]
    request = UploadRequest(
        collection_name=collection_name, content_type=IMAGE, files=files, annotations=labels
    )
    started = transport.upload(request)
    splits = Counter(imported.splits.values())
    message = (
        f"{len(files)} files of the {name} folder {folder} uploading to {collection_name!r} "
        f"with {shapes} annotations as operation {operation_unique_id!r} (job {started['job_id']})"
    )
    return answers.DATASETS.answer(
        True,
        message=message,
        job_id=started["job_id"],
        collection_id=started["collection_id"],
        file_count=len(files),
        annotation_count=shapes,
        splits=dict(sorted(splits.items())),
    )
