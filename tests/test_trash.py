"""Trash, restore and empty; "add to collection"; paged downloads by query. Each test runs
embedded on SQLite and PostgreSQL and through a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from metalake import (
    Client,
    CollectionNotFoundError,
    InvalidArgumentError,
    InvalidQueryError,
    ItemNotFoundError,
)
from tests.conftest import LakeUnderTest, blob_files, table_counts, upload_and_wait
from tests.media_factory import make_folder


def write_json(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document))
    return str(path)


@pytest.fixture
def street(client: Client, tmp_path: Path) -> dict[str, Any]:
    """Six images; even ones tagged `even` with a camera; img_000 and img_001 annotated."""
    folder = make_folder(tmp_path / "street", 6)
    uploaded = upload_and_wait(client, str(folder), "image", "street")
    files = [
        {"file": f"img_{i:03d}.jpg", "metadata": {"camera": f"CAM_{i % 3}", "Tags": ["even"]}}
        for i in range(0, 6, 2)
    ]
    client.upload_metadata_for_files(
        "street", "image", write_json(tmp_path / "m.json", {"files": files})
    )
    shapes = {"type": "rectangle", "bbox": [1, 1, 5, 5], "label": "car", "confidence": 0.9}
    document = {
        "images": [
            {"image": "img_000.jpg", "annotations": [shapes]},
            {"image": "img_001.jpg", "annotations": [shapes, {**shapes, "label": "person"}]},
        ]
    }
    job = client.upload_annotations_for_collection(
        "street", "yolo", write_json(tmp_path / "a.json", document), False, True
    )
    client.wait_for_job_complete(job["job_id"])
    return uploaded


def snapshot(client: Client, collection_id: str) -> list[dict[str, Any]]:
    """Every file of a collection with its details and annotations."""
    page = client.get_item_list_from_collection(collection_id, page_size=1000)
    return sorted(
        (client.get_file_details(item["unique_name"]) for item in page),
        key=lambda d: d["unique_name"],
    )


def names(client: Client, collection_id: str, query: str = "") -> set[str]:
    page = client.get_item_list_from_collection(collection_id, query, page_size=1000)
    return {item["file_name"] for item in page}


def test_trash_by_query_hides_items_everywhere_and_restore_brings_them_back(
    client: Client, street: dict, lake: LakeUnderTest, tmp_path: Path
):
    collection_id = street["collection_id"]
    before = snapshot(client, collection_id)
    blobs_before = blob_files(lake.home)

    result = client.trash_objects_from_collection(collection_id, "tags = even")
    assert result == {
        "message": "3 objects successfully trashed, 0 objects failed to trash",
        "isSuccess": True,
    }
    assert names(client, collection_id) == {"img_001.jpg", "img_003.jpg", "img_005.jpg"}
    assert client.get_item_count_from_collection(collection_id) == 3
    assert client.get_item_count_from_metalake("image") == 3
    assert client.get_item_count_from_metalake("image", "tags = even") == 0
    assert client.get_item_count_from_metalake("image", "annotation.label = car") == 1
    assert client.get_collection_details(collection_id)["item_count"] == 3
    with pytest.raises(ItemNotFoundError):
        client.get_file_details("street_img_000.jpg")
    with pytest.raises(ItemNotFoundError):
        client.get_downloadable_url("street_img_000.jpg")
    downloaded = client.download_collection(
        collection_id, custom_download_path=str(tmp_path / "dl")
    )
    assert downloaded["image_count"] == 3
    assert sorted(p.name for p in (tmp_path / "dl" / "street" / "data").iterdir()) == [
        "street_img_001.jpg",
        "street_img_003.jpg",
        "street_img_005.jpg",
    ]
    assert blob_files(lake.home) == blobs_before, "trashing must not delete bytes"

    again = client.trash_objects_from_collection(collection_id, "tags = even")
    assert again["message"].startswith("0 objects successfully trashed")

    restored = client.restore_from_trash(collection_id)
    assert restored == {"message": "3 objects restored from the trash", "isSuccess": True}
    assert snapshot(client, collection_id) == before


def test_trash_from_datalake_needs_a_query_or_filter(client: Client, street: dict):
    with pytest.raises(InvalidArgumentError, match="refusing to trash every image of the lake"):
        client.trash_objects_from_datalake()
    assert client.get_item_count_from_metalake("image") == 6
    result = client.trash_objects_from_datalake("", {"annotation_types": ["raw"]})
    assert result["message"] == "4 objects successfully trashed, 0 objects failed to trash"
    assert names(client, street["collection_id"]) == {"img_000.jpg", "img_001.jpg"}
    video = client.trash_objects_from_datalake("name ~ img", {}, "video")
    assert video["message"].startswith("0 objects")


def test_a_refused_query_trashes_nothing(client: Client, street: dict, lake: LakeUnderTest):
    before = table_counts(lake)
    with pytest.raises(InvalidQueryError, match="column 8"):
        client.trash_objects_from_collection(street["collection_id"], "tags = ")
    with pytest.raises(InvalidQueryError, match="unknown field 'camera'"):
        client.trash_objects_from_datalake("camera = CAM_0")
    assert table_counts(lake) == before
    assert client.get_item_count_from_metalake("image") == 6


def test_trash_whole_collection_without_query(client: Client, street: dict):
    result = client.trash_objects_from_collection(street["collection_id"])
    assert result["message"] == "6 objects successfully trashed, 0 objects failed to trash"
    assert client.get_item_count_from_collection(street["collection_id"]) == 0


def test_empty_trash_deletes_only_old_enough_trash_and_its_bytes(
    client: Client, street: dict, lake: LakeUnderTest
):
    client.get_thumbnail("street_img_001.jpg")
    client.trash_objects_from_collection(street["collection_id"], "name ~ img_001")
    kept = client.empty_trash(older_than_days=30)
    assert kept == {
        "message": "0 objects deleted from the trash",
        "isSuccess": True,
        "deleted_count": 0,
    }
    assert len(blob_files(lake.home)) == 6
    emptied = client.empty_trash(0)
    assert emptied["deleted_count"] == 1 and emptied["isSuccess"] is True
    assert len(blob_files(lake.home)) == 5
    assert not any((lake.home / "blobs" / ".thumbnails").glob("*/*"))
    assert client.restore_from_trash(street["collection_id"])["message"].startswith("0 objects")
    assert client.get_item_count_from_metalake("image", "annotation.label = person") == 0
    assert client.get_item_count_from_metalake("image", "annotation.label = car") == 1
    with pytest.raises(InvalidArgumentError, match="older_than_days must be a number"):
        client.empty_trash(-1)


def test_uploading_a_trashed_file_again_brings_it_back(
    client: Client, street: dict, tmp_path: Path
):
    client.trash_objects_from_collection(street["collection_id"], "name = img_002.jpg")
    again = make_folder(tmp_path / "again", 3)
    upload_and_wait(client, str(again / "img_002.jpg"), "image", "street")
    details = client.get_file_details("street_img_002.jpg")
    assert details["metadata"] == {"camera": "CAM_2"} and details["tags"] == ["even"]
    assert client.get_item_count_from_collection(street["collection_id"]) == 6


def test_add_to_collection_by_query(client: Client, street: dict, tmp_path: Path):
    result = client.create_or_update_collection("cars", "image", "annotation.label = car")
    assert result["is_success"] is True and result["added_count"] == 2
    cars = result["collection_id"]
    assert names(client, cars) == {"img_000.jpg", "img_001.jpg"}
    listed = client.get_item_list_from_collection(cars, page_size=10)
    assert {i["unique_name"] for i in listed} == {"street_img_000.jpg", "street_img_001.jpg"}
    assert {i["collection_id"] for i in listed} == {street["collection_id"]}
    assert client.get_collection_details(cars)["item_count"] == 2
    assert client.get_item_count_from_metalake("image", "collection = cars") == 2

    more = client.create_or_update_collection(
        "cars", "image", "", {"annotation_types": ["machine"]}
    )
    assert more["added_count"] == 0 and more["item_count"] == 2
    evens = client.create_or_update_collection("cars", "image", "tags = even")
    assert evens["added_count"] == 2 and evens["item_count"] == 4

    client.trash_objects_from_collection(cars, "name = img_000.jpg")
    assert client.get_item_count_from_collection(street["collection_id"]) == 5
    download = client.download_collection(cars, "all", [], str(tmp_path / "cars"), False)
    assert download["image_count"] == 3
    with pytest.raises(InvalidArgumentError, match="collection name must be a non-empty string"):
        client.create_or_update_collection("", "image", "tags = even")
    with pytest.raises(InvalidQueryError):
        client.create_or_update_collection("trucks", "image", "label = truck")
    with pytest.raises(CollectionNotFoundError):
        client.get_collection_id_by_name("trucks")


def test_download_files_by_page_and_query(client: Client, street: dict, tmp_path: Path):
    target = tmp_path / "pages"
    sort = {"sort_by_field": "name", "sort_order": "ASC"}
    first = client.download_files_from_metalake(
        "image", str(target), 0, 2, "NOT tags = even", {}, sort
    )
    assert first["is_success"] is True and first["downloaded_count"] == 2
    assert sorted(p.name for p in target.iterdir()) == ["street_img_001.jpg", "street_img_003.jpg"]
    source = tmp_path / "street" / "img_001.jpg"
    assert (target / "street_img_001.jpg").read_bytes() == source.read_bytes()
    second = client.download_files_from_metalake(
        "image", str(target), 1, 2, "NOT tags = even", {}, sort
    )
    assert second["downloaded_count"] == 1
    assert client.download_files_from_metalake(
        "image", str(target), 2, 2, "NOT tags = even", {}, sort
    ) == {"is_success": False, "message": "No more pages to download"}

    by_collection = client.download_files_from_collection(
        street["collection_id"], str(target), 0, 20, "annotation.label = car"
    )
    assert by_collection["file_count"] == 2
    assert by_collection["downloaded_count"] == 1 and by_collection["kept_count"] == 1
    assert client.download_files_from_collection(street["collection_id"], str(target), 1, 20) == {
        "is_success": False,
        "message": "No more pages to download",
    }
    with pytest.raises(InvalidArgumentError, match="page_size must be between 1 and 1000"):
        client.download_files_from_collection(street["collection_id"], str(target), 0, 5000)


def test_label_counts_follow_replace_remove_and_empty_trash(
    client: Client, street: dict, tmp_path: Path
):
    def cars(query: str = "count(annotation.label = car) >= 2") -> int:
        return client.get_item_count_from_metalake("image", query)

    car = {"type": "rectangle", "bbox": [1, 1, 5, 5], "label": "car"}
    three = {"images": [{"image": "img_002.jpg", "annotations": [car, car, car]}]}
    job = client.upload_annotations_for_collection(
        "street", "people", write_json(tmp_path / "three.json", three), False, False
    )
    client.wait_for_job_complete(job["job_id"])
    assert cars() == 1
    assert cars("count(annotation.label = car) >= 1") == 3
    one = {"images": [{"image": "img_002.jpg", "annotations": [car]}]}
    job = client.upload_annotations_for_collection(
        "street", "people", write_json(tmp_path / "one.json", one), False, False
    )
    client.wait_for_job_complete(job["job_id"])
    assert cars() == 0
    client.remove_annotations(street["collection_id"], "yolo")
    assert cars("count(annotation.label = car) = 1") == 1
    assert cars("count(annotation.label = car) = 0") == 5
    client.trash_objects_from_collection(street["collection_id"], "name = img_002.jpg")
    client.empty_trash(0)
    assert cars("count(annotation.label = car) = 0") == 5
