"""What export formats read and write: a version's summary, its files page by page, and the
entries (generated files and media to copy) an export is made of."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypedDict

SPLITS = ("train", "validation", "test")
"""The splits a version may have, in the order exports list them."""


class ExportImage(TypedDict):
    """One file of a version as exports see it."""

    unique_name: str
    file: str
    """The file's name in an export: its unique name, made unique in its stem too (`a.jpg` and
    `a.png` of one collection become `..._a.jpg` and `..._a_png.png`) since YOLO and VOC name label
    files by stem."""
    split: str
    width: int | None
    height: int | None
    annotations: list[dict[str, Any]]
    """In the upload format (`shape_dict`), each with `operation_id` and `is_model_run`."""


@dataclass(frozen=True)
class VersionSummary:
    """What an export needs to know of a version before its files."""

    dataset_name: str
    version: int
    splits: tuple[str, ...]
    """The splits holding at least one file, in SPLITS order."""
    categories: tuple[tuple[int, str], ...]
    """(stable id, label name) of every label the version's annotations use, by id. The id is the
    lake's label id: the same label has the same id in every version and export."""

    @classmethod
    def of(cls, version: dict[str, Any]) -> VersionSummary:
        """The summary of a version as `get_dataset` describes it."""
        return cls(
            dataset_name=version["dataset_name"],
            version=version["version"],
            splits=tuple(split for split in SPLITS if split in version["splits"]),
            categories=tuple((c["id"], c["name"]) for c in version["categories"]),
        )


class SplitReader(Protocol):
    """Every file of one split, page by page, in one stable order; it may be called again for a
    second pass over the same split (a COCO file lists images before annotations). A pass that
    needs no annotations says so: its files then come with none, which is cheaper."""

    def __call__(
        self, split: str, with_annotations: bool = True
    ) -> Iterator[list[ExportImage]]: ...


class ExportEntry(NamedTuple):
    """One file of an export: generated content (`chunks`) or a lake file (`unique_name`)."""

    path: str
    """Relative to the export's folder, `/`-separated."""
    chunks: Iterable[bytes] | None = None
    unique_name: str | None = None


@dataclass(frozen=True)
class ImportedDataset:
    """A training folder read back: the files to upload and one annotation document for them."""

    files: dict[str, Path]
    """File name (as the upload will name it) -> path on disk."""
    document: dict[str, Any]
    """`{"images": [{"image": file name, "annotations": [...]}, ...]}` in the upload format, with
    pixel coordinates, ready for the ordinary annotation checks."""
    splits: dict[str, str]
    """File name -> the split the folder put it in."""
