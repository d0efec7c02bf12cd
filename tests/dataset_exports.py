"""Test helpers for dataset exports: Pillow images, a version's files served page by page, and an
export's entries written to a folder as a consumer (the CLI, a zip stream) would."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from metalake.lake.datasets.records import ExportEntry, ExportImage, SplitReader

WIDTH, HEIGHT = 64, 48


def make_image(path: Path, width: int = WIDTH, height: int = HEIGHT, shade: int = 90) -> Path:
    """A small RGB image (JPEG or PNG by the path's ending)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (shade, 120, 200 - shade)).save(path)
    return path


def export_image(file: str, split: str, annotations: list[dict[str, Any]]) -> ExportImage:
    """A version's file as exports see it, of WIDTH x HEIGHT, with unique name `lake/<file>`."""
    return ExportImage(
        unique_name=f"lake/{file}",
        file=file,
        split=split,
        width=WIDTH,
        height=HEIGHT,
        annotations=annotations,
    )


def split_reader(images: list[ExportImage], page_size: int = 2) -> SplitReader:
    """A SplitReader over `images`, `page_size` at a time, as the lake's pages would come."""

    def read(split: str, with_annotations: bool = True) -> Iterator[list[ExportImage]]:
        chosen = [image for image in images if image["split"] == split]
        if not with_annotations:
            chosen = [{**image, "annotations": []} for image in chosen]  # type: ignore[misc]
        for start in range(0, len(chosen), page_size):
            yield chosen[start : start + page_size]

    return read


def write_export(entries: Iterable[ExportEntry], folder: Path, media: dict[str, Path]) -> Path:
    """Write each entry under `folder`: generated chunks as they come, a lake file copied from
    `media` (unique name -> a file on disk)."""
    for entry in entries:
        target = folder / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.chunks is not None:
            with target.open("wb") as out:
                for chunk in entry.chunks:
                    out.write(chunk)
        else:
            assert entry.unique_name is not None
            shutil.copyfile(media[entry.unique_name], target)
    return folder
