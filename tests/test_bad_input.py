"""design.md "Bad input": a specific error that says what to fix, and nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metalake import (
    Client,
    CollectionNotFoundError,
    ContentTypeMismatchError,
    InvalidArgumentError,
    InvalidMetadataFileError,
    InvalidPathError,
    JobNotFoundError,
    MetaLakeError,
)
from metalake.lake.ingest import UploadFile, UploadRequest
from tests.conftest import LakeUnderTest, blob_files, table_counts, upload_and_wait


@pytest.fixture
def seeded(client: Client, images: Path, lake: LakeUnderTest) -> dict:
    """A lake with one collection, and a snapshot of its rows and blobs to compare against."""
    upload_and_wait(client, str(images), "image", "col", {"Site": "A"})
    return {"rows": table_counts(lake), "blobs": blob_files(lake.home), "lake": lake}


def assert_unchanged(client: Client, lake_home: Path, seeded: dict) -> None:
    assert table_counts(seeded["lake"]) == seeded["rows"]
    assert blob_files(lake_home) == seeded["blobs"]
    assert client.get_file_details("col_img_000.jpg")["metadata"] == {"Site": "A"}


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def upload_cases(images: Path, tmp_path: Path) -> list[tuple[dict, type[MetaLakeError], str]]:
    bad_json = write(tmp_path / "bad.json", '{"files": [')
    bad_shape = write(
        tmp_path / "shape.json",
        json.dumps(
            {
                "files": [
                    {"file": "a.jpg", "metadata": {}},
                    {"file": "b.jpg", "metadata": {"Tags": "x"}},
                ]
            }
        ),
    )
    nested = write(
        tmp_path / "nested.json",
        json.dumps({"files": [{"file": "a.jpg", "metadata": {"k": {"x": 1}}}]}),
    )
    no_files = write(tmp_path / "nofiles.json", json.dumps({"images": []}))
    no_name = write(tmp_path / "noname.json", json.dumps({"files": [{"metadata": {}}]}))
    folder = str(images)
    return [
        ({"path": "images"}, InvalidPathError, "must be absolute"),
        ({"path": str(tmp_path / "missing")}, InvalidPathError, "does not exist"),
        (
            {"path": folder, "content_type": "audio"},
            InvalidArgumentError,
            "not one of 'image', 'video' or 'other'",
        ),
        ({"path": folder, "content_type": "video"}, ContentTypeMismatchError, "has no video files"),
        (
            {"path": str(images / "img_000.jpg"), "content_type": "video"},
            ContentTypeMismatchError,
            "cannot be uploaded as video",
        ),
        (
            {"collection_name": ""},
            InvalidArgumentError,
            "collection name must be a non-empty string",
        ),
        ({"collection_name": "a\x00b"}, InvalidArgumentError, "no NUL"),
        (
            {"meta_data_object": {"k": [1, 2]}},
            InvalidArgumentError,
            "meta_data_object.k: value must be",
        ),
        ({"meta_data_object": {"Tags": "#retail"}}, InvalidArgumentError, "Tags: must be a list"),
        ({"meta_data_object": "k=v"}, InvalidArgumentError, "must be an object"),
        ({"file_meta_data_json_path": "meta.json"}, InvalidPathError, "must be absolute"),
        (
            {"file_meta_data_json_path": str(tmp_path / "none.json")},
            InvalidPathError,
            "does not exist",
        ),
        (
            {"file_meta_data_json_path": bad_json},
            InvalidMetadataFileError,
            "not valid JSON at line 1 column 12",
        ),
        (
            {"file_meta_data_json_path": bad_shape},
            InvalidMetadataFileError,
            "files[1].metadata.Tags: must be a list",
        ),
        (
            {"file_meta_data_json_path": nested},
            InvalidMetadataFileError,
            "files[0].metadata.k: value must be",
        ),
        (
            {"file_meta_data_json_path": no_files},
            InvalidMetadataFileError,
            'expected an object with a "files" list',
        ),
        (
            {"file_meta_data_json_path": no_name},
            InvalidMetadataFileError,
            "files[0].file must be a non-empty string",
        ),
        ({"storage_prefix_path": "a/../../etc"}, InvalidPathError, "'..' segment"),
        ({"storage_prefix_path": "a\\b"}, InvalidPathError, "backslash"),
    ]


def test_bad_uploads_change_nothing(
    client: Client, images: Path, tmp_path: Path, lake_home: Path, seeded: dict
):
    for overrides, error, message in upload_cases(images, tmp_path):
        args = {"path": str(images), "content_type": "image", "collection_name": "new", **overrides}
        with pytest.raises(error) as raised:
            client.upload_files_to_collection(**args)
        assert message in str(raised.value), (overrides, str(raised.value))
        assert_unchanged(client, lake_home, seeded)
    with pytest.raises(CollectionNotFoundError):
        client.get_collection_id_by_name("new")


@pytest.mark.parametrize(
    "file_name, message",
    [
        ("../escape.jpg", "not a plain file name"),
        ("/abs.jpg", "not a plain file name"),
        ("a\x00.jpg", "not a plain"),
    ],
)
def test_lake_refuses_unsafe_file_names_before_creating_anything(
    client: Client, lake_home: Path, seeded: dict, images: Path, file_name: str, message: str
):
    request = UploadRequest("new", "image", [UploadFile(file_name, str(images / "img_000.jpg"))])
    with pytest.raises(InvalidPathError, match=message):
        client._transport.upload(request)
    assert_unchanged(client, lake_home, seeded)


def test_duplicate_names_in_one_upload_are_refused(
    client: Client, lake_home: Path, seeded: dict, images: Path
):
    source = str(images / "img_000.jpg")
    request = UploadRequest(
        "new", "image", [UploadFile("a.jpg", source), UploadFile("a.jpg", source)]
    )
    with pytest.raises(InvalidArgumentError, match="appears twice"):
        client._transport.upload(request)
    assert_unchanged(client, lake_home, seeded)


def test_bad_metadata_updates_change_nothing(
    client: Client, tmp_path: Path, lake_home: Path, seeded: dict
):
    valid_then_bad = write(
        tmp_path / "m.json",
        json.dumps(
            {
                "files": [
                    {"file": "img_000.jpg", "metadata": {"Site": "B"}},
                    {"file": "img_001.jpg", "metadata": {"": 1}},
                ]
            }
        ),
    )
    good = write(
        tmp_path / "good.json",
        json.dumps({"files": [{"file": "img_000.jpg", "metadata": {"Site": "B"}}]}),
    )
    calls = [
        (
            lambda: client.upload_metadata_for_files("col", "image", valid_then_bad),
            InvalidMetadataFileError,
            "files[1].metadata: field name ''",
        ),
        (
            lambda: client.upload_metadata_by_unique_name(str(tmp_path / "nope.json")),
            InvalidPathError,
            "does not exist",
        ),
        (
            lambda: client.upload_metadata_by_storage_path("rel.json"),
            InvalidPathError,
            "must be absolute",
        ),
        (
            lambda: client.upload_metadata_for_files("nope", "image", good),
            CollectionNotFoundError,
            "no image collection named 'nope'",
        ),
        (
            lambda: client.upload_metadata_for_files("col", "pictures", good),
            InvalidArgumentError,
            "content type 'pictures'",
        ),
        (
            lambda: client.upload_metadata_by_job_id("0" * 24, good),
            JobNotFoundError,
            "no job with id",
        ),
        (
            lambda: client.upload_metadata_by_job_id("", good),
            InvalidArgumentError,
            "job_id must be",
        ),
        (
            lambda: client.upload_metadata_for_collection("col", "image", {"Site": None}),
            InvalidArgumentError,
            "metadata_obj.Site",
        ),
        (
            lambda: client.upload_metadata_for_collection("col", "image", {"Site": float("nan")}),
            InvalidArgumentError,
            "not a finite number",
        ),
        (
            lambda: client.upload_metadata_for_collection("nope", "image", {"Site": "B"}),
            CollectionNotFoundError,
            "nope",
        ),
    ]
    for call, error, message in calls:
        with pytest.raises(error) as raised:
            call()
        assert message in str(raised.value), str(raised.value)
        assert_unchanged(client, lake_home, seeded)


def test_unknown_jobs_and_files(client: Client):
    with pytest.raises(JobNotFoundError, match="no job with id 'abc'"):
        client.get_job("abc")
    with pytest.raises(JobNotFoundError):
        client.wait_for_job_complete("abc")
    with pytest.raises(MetaLakeError, match="no file with unique name"):
        client.get_file_details("nope.jpg")


def test_errors_are_also_builtin_exception_types(client: Client):
    with pytest.raises(ValueError):
        client.upload_files_to_collection("relative", "image", "c")
    with pytest.raises(LookupError):
        client.get_job("abc")
