"""Where each format's export puts files, as the registry declares it for downloads that list
files without running the export (LayerNext's `download_dataset`): checked against the paths
`export_entries` really emits, for every format, and the generated-file downloads made of them."""

from __future__ import annotations

import io
import zipfile
from contextlib import AbstractContextManager
from typing import BinaryIO

import pytest

from metalake.errors import ItemNotFoundError
from metalake.lake.collection_exports import entries_zip
from metalake.lake.datasets.formats.registry import FORMATS, DatasetFormat, dataset_format
from metalake.lake.datasets.parts import check_part, folder_entries, part_names, root_file
from metalake.lake.datasets.records import ExportEntry, ExportImage, VersionSummary
from tests.dataset_exports import HEIGHT, WIDTH, split_reader

CAR = {"type": "rectangle", "bbox": [1, 2, 10, 8], "label": "car"}


def images(splits: tuple[str, ...]) -> list[ExportImage]:
    return [
        ExportImage(
            unique_name=f"c_{split}_{i}.png",
            file=f"c_{split}_{i}.png",
            split=split,
            width=WIDTH,
            height=HEIGHT,
            annotations=[{**CAR, "operation_id": "op", "is_model_run": False}],
        )
        for split in splits
        for i in range(3)
    ]


def entries(found: DatasetFormat, splits: tuple[str, ...], media: bool) -> list[ExportEntry]:
    summary = VersionSummary("ds", 1, splits, ((1, "car"),))
    return list(found.export_entries(summary, split_reader(images(splits)), media, None))


def root_of(path: str) -> str:
    first, slash, _rest = path.partition("/")
    return first + slash


def no_media(unique_name: str) -> tuple[int, AbstractContextManager[BinaryIO]]:
    raise AssertionError(f"a generated part opened the media {unique_name}")


SPLIT_SETS = [("train",), ("train", "validation", "test"), ("validation", "test")]


@pytest.mark.parametrize("found", FORMATS, ids=lambda f: f.slug)
@pytest.mark.parametrize("splits", SPLIT_SETS, ids="-".join)
def test_declared_media_folders_and_generated_roots_match_the_export(
    found: DatasetFormat, splits: tuple[str, ...]
) -> None:
    made = entries(found, splits, media=True)
    media = [entry for entry in made if entry.unique_name is not None]
    by_name = {image["unique_name"]: image for image in images(splits)}
    assert len(media) == len(by_name)
    for entry in media:
        image = by_name[str(entry.unique_name)]
        assert entry.path == f"{found.media_folder(image['split'])}/{image['file']}"
    generated = {root_of(entry.path) for entry in made if entry.chunks is not None}
    assert generated == set(found.generated_roots(splits))
    media_roots = {root_of(entry.path) for entry in media}
    assert not generated & media_roots  # a zip never lands in a folder of media
    assert dataset_format(found.slug) is found  # the signed route names formats by slug


@pytest.mark.parametrize("found", FORMATS, ids=lambda f: f.slug)
def test_generated_parts_hold_every_generated_file_once(found: DatasetFormat) -> None:
    splits = ("train", "test")
    expected = {
        entry.path: b"".join(entry.chunks)
        for entry in entries(found, splits, media=False)
        if entry.chunks is not None
    }
    got: dict[str, bytes] = {}
    for name, is_zip in part_names(found, splits):
        assert check_part(found, splits, name) is is_zip
        made = entries(found, splits, media=False)
        if not is_zip:
            got[name] = b"".join(root_file(made, name))
            continue
        data = b"".join(entries_zip(folder_entries(made, name), no_media))
        folder = name.removesuffix(".zip")
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                assert f"{folder}/{member}" not in got
                got[f"{folder}/{member}"] = archive.read(member)
    assert got == expected
    with pytest.raises(ItemNotFoundError, match=r"no file 'nothing\.zip'"):
        check_part(found, splits, "nothing.zip")
