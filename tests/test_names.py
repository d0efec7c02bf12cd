"""Names a user gives (files, collections, storage prefixes) cannot reach the lake's own objects,
carry control characters, or outgrow what a file system takes; the same embedded and remote.

Each test walks its table of cases on one lake, so the remote lake's server starts once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from metalake import Client, InvalidArgumentError, InvalidPathError
from metalake.lake.ingest import UploadFile, UploadRequest, check_upload
from tests.conftest import LakeUnderTest, table_counts, upload_and_wait
from tests.media_factory import make_image

RESERVED_PREFIXES = [".thumbnails", "a/.uploads", ".tmp", "x/.hidden/y", "./a"]
BAD_FILE_NAMES = [
    ("line\nbreak.jpg", "control character"),
    ("\x1b[31mred.jpg", "control character"),
    ("tab\there.jpg", "control character"),
    (".hidden.jpg", "reserved"),
]
BAD_COLLECTION_NAMES = ["new\nline", "bell\x07", "nul\x00", "a" * 251, None, 5, ""]
BAD_PREFIX_TYPES = [5, ["a"], {"a": 1}]


def test_refused_names_change_nothing(client: Client, lake: LakeUnderTest, tmp_path: Path):
    images = tmp_path / "images"
    images.mkdir()
    make_image(images / "img.jpg")
    before = table_counts(lake)
    for prefix in RESERVED_PREFIXES:
        with pytest.raises(InvalidPathError, match=r"reserved|segment"):
            client.upload_files_to_collection(
                str(images), "image", "victim-id", storage_prefix_path=prefix
            )
    for file_name, message in BAD_FILE_NAMES:
        folder = tmp_path / f"f{len(message)}{file_name.encode().hex()}"
        folder.mkdir()
        named = make_image(folder / file_name)
        with pytest.raises(InvalidPathError, match=message):
            client.upload_files_to_collection(str(named), "image", "names")
    for collection_name in BAD_COLLECTION_NAMES:
        with pytest.raises(InvalidArgumentError, match="collection name must be"):
            client.upload_files_to_collection(str(images), "image", collection_name)  # type: ignore[arg-type]
    for prefix in BAD_PREFIX_TYPES:
        with pytest.raises(InvalidArgumentError, match="storage_prefix_path must be a string"):
            client.upload_files_to_collection(str(images), "image", "p", storage_prefix_path=prefix)
    assert table_counts(lake) == before


@pytest.mark.parametrize("file_name", ["a" * 252 + ".jpg", "é" * 126 + ".jpg"])
def test_a_file_name_longer_than_a_file_system_takes_is_refused_before_the_job(file_name: str):
    request = UploadRequest("long", "image", [UploadFile(file_name, "", size=1)])
    with pytest.raises(InvalidPathError, match="at most 255"):
        check_upload(request)


def test_a_thumbnail_cannot_be_overwritten_through_an_upload(client: Client, images: Path):
    upload_and_wait(client, str(images / "img_000.jpg"), "image", "victim")
    victim = client.get_file_details("victim_img_000.jpg")
    before = client.get_thumbnail("victim_img_000.jpg")
    with pytest.raises(InvalidPathError):
        client.upload_files_to_collection(
            str(images / "img_001.jpg"), "image", victim["id"], storage_prefix_path=".thumbnails"
        )
    assert client.get_thumbnail("victim_img_000.jpg") == before
