"""The training formats by name: which module writes and reads COCO, YOLO, Pascal VOC and MetaLake
JSON folders.

Each format module has `export_entries(summary, read_split, with_media, dropped)` and
`read_folder(folder, is_normalized)`. Names are matched without regard to case, with the names the
LayerNext client uses (`YOLO Darknet`; `RAW`, its own JSON) as aliases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metalake.errors import InvalidArgumentError
from metalake.lake.datasets.formats import coco, metalake_json, voc, yolo
from metalake.lake.datasets.records import (
    ExportEntry,
    ImportedDataset,
    SplitReader,
    VersionSummary,
)
from metalake.lake.names import base_storage_name

Exporter = Callable[
    [VersionSummary, SplitReader, bool, "Counter[str] | None"], Iterator[ExportEntry]
]
Reader = Callable[[Path, "bool | None"], ImportedDataset]


@dataclass(frozen=True)
class DatasetFormat:
    """A training format: its name, the other names it answers to, its folder suffix, and
    where its export puts files (so a download can list them without running the export)."""

    name: str
    slug: str
    aliases: tuple[str, ...]
    export_entries: Exporter
    read_folder: Reader | None
    media_folder: Callable[[str], str]
    """The folder `export_entries(with_media=True)` puts a split's media in."""
    generated_roots: Callable[[tuple[str, ...]], tuple[str, ...]]
    """The top-level names of the generated files of a version with these splits, a folder's
    name ending with `/`."""


def _split_folder(parent: str) -> Callable[[str], str]:
    return lambda split: f"{parent}/{split}"


FORMATS = (
    DatasetFormat(
        "COCO",
        "coco",
        ("COCO JSON",),
        coco.export_entries,
        coco.read_folder,
        _split_folder("images"),
        lambda _splits: ("annotations/",),
    ),
    DatasetFormat(
        "YOLO",
        "yolo",
        ("YOLO Darknet", "YOLOv5", "Ultralytics"),
        yolo.export_entries,
        yolo.read_folder,
        _split_folder("images"),
        lambda _splits: (yolo.YAML_NAME, "labels/"),
    ),
    DatasetFormat(
        "PASCAL VOC",
        "voc",
        ("VOC", "Pascal VOC XML"),
        voc.export_entries,
        voc.read_folder,
        lambda _split: "JPEGImages",
        lambda _splits: ("Annotations/", "ImageSets/"),
    ),
    DatasetFormat(
        "MetaLake JSON",
        "metalake_json",
        ("JSON", "RAW", "LayerNext JSON"),
        metalake_json.export_entries,
        metalake_json.read_folder,
        _split_folder(metalake_json.MEDIA_FOLDER),
        lambda splits: tuple(f"{split}.json" for split in splits),
    ),
)


def _key(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


_BY_NAME = {_key(n): f for f in FORMATS for n in (f.name, *f.aliases)}


def dataset_format(name: object, what: str = "export_type") -> DatasetFormat:
    """The format called `name` (any case; the LayerNext names too), else a clear error."""
    found = _BY_NAME.get(_key(name)) if isinstance(name, str) else None
    if found is None:
        names = ", ".join(repr(f.name) for f in FORMATS)
        raise InvalidArgumentError(f"{what} must be one of {names}, not {name!r}")
    return found


def export_name(version: dict[str, Any], found: DatasetFormat) -> str:
    """`<dataset>_v<version>_<format>`: the folder (or zip) an export of a version is named."""
    return f"{base_storage_name(version['dataset_name'])}_v{version['version']}_{found.slug}"


def import_reader(name: object) -> Reader:
    """The folder reader of a format that can be imported."""
    found = dataset_format(name, "format")
    if found.read_folder is None:
        raise InvalidArgumentError(f"{found.name} folders cannot be imported")
    return found.read_folder
