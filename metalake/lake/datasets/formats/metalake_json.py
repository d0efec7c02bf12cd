"""MetaLake JSON: `<split>.json` per split in the format of a collection download (the upload
format: every shape type, confidence, metadata, attributes, operation_id, is_model_run), each
entry's `image` being the file's export name, and its media under `data/<split>/<file>` (the
download's `data/` folder, one per split so that a split is one folder to hand to a trainer)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from metalake.errors import InvalidAnnotationFileError, InvalidDatasetFolderError
from metalake.lake.annotations.documents import parse_document
from metalake.lake.annotations.exports import DOCUMENT_HEAD, DOCUMENT_TAIL, document_entry
from metalake.lake.datasets.formats.folders import add_file, check_normalized
from metalake.lake.datasets.records import (
    SPLITS,
    ExportEntry,
    ImportedDataset,
    SplitReader,
    VersionSummary,
)

MEDIA_FOLDER = "data"


def _document_chunks(split: str, read_split: SplitReader) -> Iterator[bytes]:
    """A split's document, a page of files at a time."""
    yield DOCUMENT_HEAD
    first = True
    for page in read_split(split):
        entries = []
        for image in page:
            entries.append(
                document_entry({"image": image["file"], "annotations": image["annotations"]}, first)
            )
            first = False
        yield b"".join(entries)
    yield DOCUMENT_TAIL


def export_entries(
    summary: VersionSummary,
    read_split: SplitReader,
    with_media: bool,
    dropped: Counter[str] | None = None,
) -> Iterator[ExportEntry]:
    """Per split its document and then (if `with_media`) its files. Nothing is dropped:
    `dropped` is accepted for a signature common to every format and left untouched."""
    for split in summary.splits:
        yield ExportEntry(f"{split}.json", chunks=_document_chunks(split, read_split))
        if with_media:
            for page in read_split(split, with_annotations=False):
                for image in page:
                    yield ExportEntry(
                        f"{MEDIA_FOLDER}/{split}/{image['file']}", unique_name=image["unique_name"]
                    )


def _read_document(root: Path, name: str) -> dict[str, Any]:
    try:
        document = orjson.loads((root / name).read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidDatasetFolderError(f"{name}: not valid JSON: {exc}") from None
    try:
        parse_document(document, name, normalized=False)
    except InvalidAnnotationFileError as exc:
        raise InvalidDatasetFolderError(str(exc)) from None
    return document


def read_folder(folder: Path, is_normalized: bool | None = None) -> ImportedDataset:
    """Read a MetaLake JSON folder: `<split>.json` for each split present, each entry's image in
    `data/<split>/`. Coordinates are pixels (as the lake writes them), so `is_normalized` may only
    be left out or False."""
    check_normalized(is_normalized, False, "MetaLake JSON")
    root = folder.resolve()
    present = [split for split in SPLITS if (root / f"{split}.json").is_file()]
    if not present:
        names = ", ".join(f"{split}.json" for split in SPLITS)
        raise InvalidDatasetFolderError(f"{folder}: none of {names} in it")
    files: dict[str, Path] = {}
    splits: dict[str, str] = {}
    images: list[dict[str, Any]] = []
    for split in present:
        document = _read_document(root, f"{split}.json")
        for index, entry in enumerate(document["images"]):
            path = root / MEDIA_FOLDER / split / entry["image"]
            if not path.resolve().is_relative_to(root) or not path.is_file():
                raise InvalidDatasetFolderError(
                    f"{split}.json: images[{index}].image: {entry['image']!r} is not a file "
                    f"in {MEDIA_FOLDER}/{split}/"
                )
            name = add_file(files, root, path)
            splits[name] = split
            images.append({"image": name, "annotations": entry["annotations"]})
    return ImportedDataset(files=files, document={"images": images}, splits=splits)
