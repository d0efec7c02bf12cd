"""Facets and cursor pages through the SDK, the same embedded and remote: values and their file
counts under a selection, pages that follow one another by cursor, and clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metalake import Client, InvalidArgumentError, InvalidQueryError
from tests.conftest import upload_and_wait


@pytest.fixture
def street(client: Client, images: Path, tmp_path: Path) -> str:
    meta = [
        {"file": f"img_{i:03d}.jpg", "metadata": {"camera": f"CAM_{i % 2}", "Tags": ["day"]}}
        for i in range(5)
    ]
    (tmp_path / "meta.json").write_text(json.dumps({"files": meta}))
    upload_and_wait(
        client, str(images), "image", "street", file_meta_data_json_path=str(tmp_path / "meta.json")
    )
    boxes = {
        "img_000.jpg": ["car", "car", "person"],
        "img_001.jpg": ["car"],
        "img_002.jpg": ["dog"],
    }
    document = {
        "images": [
            {"image": name, "annotations": [
                {"type": "rectangle", "bbox": [1, 1, 4, 4], "label": label} for label in labels
            ]}
            for name, labels in boxes.items()
        ]
    }  # fmt: skip
    (tmp_path / "boxes.json").write_text(json.dumps(document))
    job = client.upload_annotations_for_collection(
        "street", "m1", str(tmp_path / "boxes.json"), False, True
    )
    client.wait_for_job_complete(job["job_id"])
    return client.get_collection_id_by_name("street")


def test_facets_count_files_per_value_under_a_selection(client: Client, street: str):
    fields = ["label", "tag", "operation", "metadata.camera"]
    assert client.get_facets(street, fields=fields) == {
        "file_count": 5,
        "facets": {
            "label": [
                {"value": "car", "file_count": 2},
                {"value": "dog", "file_count": 1},
                {"value": "person", "file_count": 1},
            ],
            "tag": [{"value": "day", "file_count": 5}],
            "operation": [{"value": "m1", "file_count": 3}],
            "metadata.camera": [
                {"value": "CAM_0", "file_count": 3},
                {"value": "CAM_1", "file_count": 2},
            ],
        },
    }
    narrowed = client.get_facets(query="annotation.label = car", fields=["metadata.camera"], top=1)
    assert narrowed == {
        "file_count": 2,
        "facets": {"metadata.camera": [{"value": "CAM_0", "file_count": 1}]},
    }
    assert client.get_facets(query="tags = night")["file_count"] == 0


def test_facets_refuse_bad_fields_and_limits(client: Client, street: str):
    with pytest.raises(InvalidArgumentError, match="unknown facet field 'colour'"):
        client.get_facets(fields=["colour"])
    with pytest.raises(InvalidArgumentError, match="top must be an integer from 1 to 1000"):
        client.get_facets(top=0)
    with pytest.raises(InvalidArgumentError, match="at most 20"):
        client.get_facets(fields=[f"metadata.k{i}" for i in range(21)])
    with pytest.raises(InvalidQueryError, match="unknown field 'nothing'"):
        client.get_facets(query="nothing = 1")


def test_cursor_pages_follow_one_another(client: Client, street: str):
    every = client.get_item_list_from_collection(street, page_size=100)
    names, cursor = [], None
    while True:
        page = client.get_item_page(street, page_size=2, cursor=cursor)
        names.extend(item["unique_name"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == [item["unique_name"] for item in every]
    by_name = {"sort_by_field": "name", "sort_order": "ASC"}
    first = client.get_item_page(
        street, query="metadata.camera = CAM_0", sort_order=by_name, page_size=2
    )
    assert [i["file_name"] for i in first["items"]] == ["img_000.jpg", "img_002.jpg"]
    rest = client.get_item_page(
        street,
        query="metadata.camera = CAM_0",
        sort_order=by_name,
        page_size=2,
        cursor=first["next_cursor"],
    )
    assert [i["file_name"] for i in rest["items"]] == ["img_004.jpg"]
    assert rest["next_cursor"] is None
    with pytest.raises(InvalidArgumentError, match="another sort order"):
        client.get_item_page(street, page_size=2, cursor=first["next_cursor"])
    with pytest.raises(InvalidArgumentError, match="cursor is not one a page of this listing gave"):
        client.get_item_page(street, cursor="not-a-cursor")
