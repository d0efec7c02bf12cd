"""The five metadata update functions: fields are set, tags are added."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metalake import Client, CollectionNotFoundError, JobNotFoundError
from tests.conftest import upload_and_wait


def write_json(path: Path, files: list[dict]) -> str:
    path.write_text(json.dumps({"files": files}))
    return str(path)


@pytest.fixture
def uploaded(client: Client, images: Path) -> dict:
    return upload_and_wait(client, str(images), "image", "col", {"Site": "A", "Tags": ["old"]})


def test_collection_metadata_applies_to_head_and_all_files(client: Client, uploaded: dict):
    result = client.upload_metadata_for_collection(
        "col", "image", {"Site": "B", "Camera Id": "CAM_0001", "Tags": ["#retail"]}
    )

    assert result["isSuccess"] is True and "5 files" in result["message"]
    head = client.get_collection_details(uploaded["collection_id"])
    assert head["metadata"] == {"Site": "B", "Camera Id": "CAM_0001"}
    assert head["tags"] == ["#retail"]
    for item in client.get_item_list_from_collection(uploaded["collection_id"]):
        assert item["metadata"] == {"Site": "B", "Camera Id": "CAM_0001"}
        assert item["tags"] == ["#retail", "old"]


def test_collection_metadata_only_on_the_head(client: Client, uploaded: dict):
    client.upload_metadata_for_collection("col", "image", {"Owner": "me"}, False)

    assert client.get_collection_details(uploaded["collection_id"])["metadata"] == {"Owner": "me"}
    assert client.get_file_details("col_img_000.jpg")["metadata"] == {"Site": "A"}


def test_metadata_for_files_by_file_name(client: Client, uploaded: dict, tmp_path: Path):
    path = write_json(
        tmp_path / "m.json",
        [
            {"file": "img_000.jpg", "metadata": {"field1": "data1", "Tags": ["retail", "night"]}},
            {"file": "img_001.jpg", "metadata": {"fileSize": 30}},
            {"file": "nope.jpg", "metadata": {"x": 1}},
        ],
    )

    result = client.upload_metadata_for_files("col", "image", path)

    assert result["isSuccess"] is True
    assert "metadata updated on 2 files" in result["message"]
    assert "1 names matched no file" in result["message"] and "'nope.jpg'" in result["message"]
    zero = client.get_file_details("col_img_000.jpg")
    assert zero["metadata"] == {"Site": "A", "field1": "data1"}
    assert zero["tags"] == ["night", "old", "retail"]
    assert client.get_file_details("col_img_001.jpg")["metadata"] == {"Site": "A", "fileSize": 30}


def test_metadata_for_files_does_not_reach_other_collections(
    client: Client, images: Path, tmp_path: Path
):
    upload_and_wait(client, str(images), "image", "col")
    upload_and_wait(client, str(images), "image", "other col")
    path = write_json(tmp_path / "m.json", [{"file": "img_000.jpg", "metadata": {"k": "v"}}])

    client.upload_metadata_for_files("col", "image", path)

    assert client.get_file_details("col_img_000.jpg")["metadata"] == {"k": "v"}
    assert client.get_file_details("other col_img_000.jpg")["metadata"] == {}


def test_metadata_by_job_id_only_touches_that_jobs_files(
    client: Client, images: Path, tmp_path: Path
):
    first = upload_and_wait(client, str(images / "img_000.jpg"), "image", "a")
    upload_and_wait(client, str(images / "img_000.jpg"), "image", "b")
    path = write_json(tmp_path / "m.json", [{"file": "img_000.jpg", "metadata": {"job": "first"}}])

    result = client.upload_metadata_by_job_id(first["job_id"], path)

    assert result == {"isSuccess": True, "message": "metadata updated on 1 files"}
    assert client.get_file_details("a_img_000.jpg")["metadata"] == {"job": "first"}
    assert client.get_file_details("b_img_000.jpg")["metadata"] == {}


def test_metadata_by_job_id_reaches_files_the_job_skipped(
    client: Client, images: Path, tmp_path: Path
):
    upload_and_wait(client, str(images), "image", "col")
    again = upload_and_wait(client, str(images), "image", "col")
    path = write_json(tmp_path / "m.json", [{"file": "img_002.jpg", "metadata": {"k": 1}}])

    client.upload_metadata_by_job_id(again["job_id"], path)

    assert client.get_file_details("col_img_002.jpg")["metadata"] == {"k": 1}


def test_metadata_by_storage_path_accepts_a_leading_slash(
    client: Client, images: Path, tmp_path: Path
):
    upload_and_wait(client, str(images), "image", "col", storage_prefix_path="folder/sub")
    path = write_json(
        tmp_path / "m.json",
        [
            {"file": "folder/sub/col/img_000.jpg", "metadata": {"k": "plain"}},
            {"file": "/folder/sub/col/img_001.jpg", "metadata": {"k": "slash"}},
        ],
    )

    result = client.upload_metadata_by_storage_path(path)

    assert result["message"] == "metadata updated on 2 files"
    assert client.get_file_details("col_img_000.jpg")["metadata"]["k"] == "plain"
    assert client.get_file_details("col_img_001.jpg")["metadata"]["k"] == "slash"
    other_bucket = client.upload_metadata_by_storage_path(path, "img_bucket_2")
    assert (
        other_bucket["isSuccess"] is False and "2 names matched no file" in other_bucket["message"]
    )


def test_metadata_by_unique_name(client: Client, uploaded: dict, tmp_path: Path):
    path = write_json(
        tmp_path / "m.json",
        [{"file": "col_img_004.jpg", "metadata": {"Site": "Z", "Tags": ["new"]}}],
    )

    client.upload_metadata_by_unique_name(path)

    details = client.get_file_details("col_img_004.jpg")
    assert details["metadata"] == {"Site": "Z"} and details["tags"] == ["new", "old"]


def test_unknown_targets_raise(client: Client, uploaded: dict, tmp_path: Path):
    path = write_json(tmp_path / "m.json", [{"file": "img_000.jpg", "metadata": {"k": "v"}}])
    with pytest.raises(CollectionNotFoundError, match="no image collection named 'nope'"):
        client.upload_metadata_for_files("nope", "image", path)
    with pytest.raises(CollectionNotFoundError):
        client.upload_metadata_for_collection("nope", "image", {"k": "v"})
    with pytest.raises(JobNotFoundError, match="no job with id 'ffff'"):
        client.upload_metadata_by_job_id("ffff", path)
    assert client.get_file_details("col_img_000.jpg")["metadata"] == {"Site": "A"}
