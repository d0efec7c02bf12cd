"""An export's generated files as a few downloads: one zip per top-level folder, and each file
at the export's root on its own (LayerNext's download fetches listed files; it has no format code
and unzips what it is told to, so a whole folder of label files is one request)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from metalake.errors import ItemNotFoundError
from metalake.lake.datasets.formats.registry import DatasetFormat
from metalake.lake.datasets.records import ExportEntry

ZIP_SUFFIX = ".zip"


def part_names(found: DatasetFormat, splits: tuple[str, ...]) -> list[tuple[str, bool]]:
    """The downloads of a version's generated files: (name, is a zip of a folder); a folder
    `labels/` is downloaded as `labels.zip`."""
    return [
        (root.removesuffix("/") + ZIP_SUFFIX, True) if root.endswith("/") else (root, False)
        for root in found.generated_roots(splits)
    ]


def check_part(found: DatasetFormat, splits: tuple[str, ...], name: str) -> bool:
    """Whether the download `name` is a folder's zip (else a root file); ItemNotFoundError if
    the export has no such download."""
    for part, is_zip in part_names(found, splits):
        if part == name:
            return is_zip
    raise ItemNotFoundError(f"a {found.name} export of this version has no file {name!r}")


def folder_entries(entries: Iterable[ExportEntry], name: str) -> Iterator[ExportEntry]:
    """The generated entries of the folder a zip `name` holds, with paths relative to it (the
    client unzips into the folder)."""
    prefix = name.removesuffix(ZIP_SUFFIX) + "/"
    for entry in entries:
        if entry.chunks is not None and entry.path.startswith(prefix):
            yield entry._replace(path=entry.path.removeprefix(prefix))


def root_file(entries: Iterable[ExportEntry], name: str) -> Iterator[bytes]:
    """The bytes of the generated file `name` at the export's root."""
    for entry in entries:
        if entry.chunks is not None and entry.path == name:
            yield from entry.chunks
            return
    raise ItemNotFoundError(f"the export has no file {name!r}")
