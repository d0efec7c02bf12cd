"""What the YOLO, Pascal VOC and MetaLake JSON formats share: walking a version's files, naming
label files by stem, counting the shapes a format cannot hold, and checking a folder's files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from metalake.errors import InvalidArgumentError, InvalidDatasetFolderError
from metalake.lake.datasets.records import ExportImage, SplitReader, VersionSummary

IMAGE_SUFFIXES = frozenset(
    (".bmp", ".dng", ".gif", ".heic", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp")
)
"""File endings a training folder's images may have (Ultralytics' list, plus GIF)."""


def version_images(summary: VersionSummary, read_split: SplitReader) -> Iterator[ExportImage]:
    """Every file of the version, split by split (SPLITS order), one page in memory at a time."""
    for split in summary.splits:
        for page in read_split(split):
            yield from page


def stem(file: str) -> str:
    """A file name without its ending: the name of its label file in YOLO and VOC."""
    return PurePosixPath(file).stem


def count_dropped(dropped: Counter[str] | None, shape_type: str) -> None:
    """Note one shape the format cannot hold, by type (`{"line": 3, "points": 1}`), when the
    caller passed a Counter to `export_entries` to know."""
    if dropped is not None:
        dropped[shape_type] += 1


def number(value: float) -> str:
    """A coordinate as text: `repr`, the shortest text that reads back as the same float (so a
    round trip is exact), and an integer without `.0`."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def check_normalized(is_normalized: bool | None, expected: bool, format_name: str) -> None:
    """A format fixes its coordinates (YOLO: fractions of the image, VOC: pixels): refuse a
    caller's `is_normalized` that says otherwise, rather than ignore it silently."""
    if is_normalized is not None and is_normalized is not expected:
        kind = "normalized (0..1)" if expected else "in pixels"
        raise InvalidArgumentError(
            f"is_normalized={is_normalized!r} does not apply to {format_name}: its coordinates "
            f"are {kind} by definition; leave is_normalized out"
        )


def relative(folder: Path, path: Path) -> str:
    """How a message names a file of the folder: its path in the folder, `/`-separated."""
    return path.relative_to(folder).as_posix()


def add_file(files: dict[str, Path], folder: Path, path: Path) -> str:
    """Add an image under its base name (the name the upload gives it); refuse a second image of
    the same name, which the upload could not tell apart."""
    name = path.name
    if name in files and files[name] != path:
        raise InvalidDatasetFolderError(
            f"{relative(folder, path)}: file name {name!r} is also "
            f"{relative(folder, files[name])}: an upload names files by base name; rename one"
        )
    files[name] = path
    return name
