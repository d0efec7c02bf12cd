"""What a lake holds (collections, operations, labels with counts) and trashing a whole
collection. SDK tests run embedded on SQLite and PostgreSQL and through a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from metalake import Client, CollectionNotFoundError, InvalidArgumentError
from tests.conftest import LakeUnderTest, blob_files, upload_and_wait
from tests.media_factory import make_folder
from tests.test_cli import metalake

UNKNOWN_ID = "0" * 24


def box(label: str) -> dict[str, Any]:
    return {"type": "rectangle", "bbox": [1, 1, 5, 5], "label": label}


def annotate(
    client: Client,
    path: Path,
    collection: str,
    operation: str,
    machine: bool,
    shapes: dict[str, list[str]],
) -> None:
    """Upload annotations of a collection's images: file name -> labels, one box each."""
    document = {
        "images": [
            {"image": image, "annotations": [box(label) for label in labels]}
            for image, labels in shapes.items()
        ]
    }
    path.write_text(json.dumps(document))
    job = client.upload_annotations_for_collection(collection, operation, str(path), False, machine)
    assert client.wait_for_job_complete(job["job_id"])["is_success"], client.get_job(job["job_id"])


@pytest.fixture
def lake_ids(client: Client, tmp_path: Path) -> dict[str, str]:
    """street: 4 images; park: 2 images; docs: 1 other file; hard: park's img_000 added.
    Operation `review` (human) on street, `yolo` (machine) on street and park."""
    ids = {
        "street": upload_and_wait(
            client, str(make_folder(tmp_path / "street", 4)), "image", "street"
        )["collection_id"],
        "park": upload_and_wait(client, str(make_folder(tmp_path / "park", 2)), "image", "park")[
            "collection_id"
        ],
    }
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("notes")
    ids["docs"] = upload_and_wait(client, str(tmp_path / "docs"), "other", "docs")["collection_id"]
    review = {"img_000.jpg": ["car", "person"], "img_001.jpg": ["car"]}
    annotate(client, tmp_path / "review.json", "street", "review", False, review)
    annotate(client, tmp_path / "yolo1.json", "street", "yolo", True, {"img_000.jpg": ["car"]})
    annotate(client, tmp_path / "yolo2.json", "park", "yolo", True, {"img_000.jpg": ["car", "dog"]})
    added = client.create_or_update_collection("hard", "image", "annotation.label = dog")
    assert added["added_count"] == 1
    ids["hard"] = added["collection_id"]
    return ids


def collections_of(client: Client, content_type: str | None = None) -> list[tuple]:
    return [
        (c["name"], c["content_type"], c["item_count"])
        for c in client.list_collections(content_type)
    ]


def operations_of(client: Client, collection_id: str | None = None) -> list[tuple]:
    return [
        (o["operation_id"], o["kind"], o["annotation_count"], o["file_count"])
        for o in client.list_operations(collection_id)
    ]


def labels_of(client: Client) -> list[tuple]:
    return [(x["label"], x["annotation_count"], x["file_count"]) for x in client.list_labels()]


ALL_COLLECTIONS = [
    ("docs", "other", 1),
    ("hard", "image", 1),
    ("park", "image", 2),
    ("street", "image", 4),
]
ALL_OPERATIONS = [("review", "human", 3, 2), ("yolo", "machine", 3, 2)]
ALL_LABELS = [("car", 4, 3), ("dog", 1, 1), ("person", 1, 1)]
OPERATIONS_WITHIN = {
    "street": [("review", "human", 3, 2), ("yolo", "machine", 1, 1)],
    "park": [("yolo", "machine", 2, 1)],
    "hard": [("yolo", "machine", 2, 1)],  # the annotations of its added file
    "docs": [],
}


def test_collections_operations_and_labels_with_counts(client: Client, lake_ids: dict):
    assert collections_of(client) == ALL_COLLECTIONS
    assert collections_of(client, "image") == ALL_COLLECTIONS[1:]
    assert collections_of(client, "VIDEO") == []
    first = client.list_collections()[0]
    assert set(first) == {
        "id",
        "name",
        "content_type",
        "item_count",
        "size",
        "created",
        "modified",
    }
    assert first["id"] == lake_ids["docs"]
    assert first["size"] == len("notes")
    assert first["modified"] >= first["created"]
    assert operations_of(client) == ALL_OPERATIONS
    assert labels_of(client) == ALL_LABELS
    for collection, expected in OPERATIONS_WITHIN.items():
        assert operations_of(client, lake_ids[collection]) == expected, collection


def test_counts_leave_out_trashed_files_until_restored(client: Client, lake_ids: dict):
    client.trash_objects_from_collection(lake_ids["street"], "name = img_000.jpg")
    assert collections_of(client, "image") == [
        ("hard", "image", 1),
        ("park", "image", 2),
        ("street", "image", 3),
    ]
    assert operations_of(client) == [("review", "human", 1, 1), ("yolo", "machine", 2, 1)]
    assert labels_of(client) == [("car", 2, 2), ("dog", 1, 1), ("person", 0, 0)]

    client.restore_from_trash(lake_ids["street"])
    assert collections_of(client) == ALL_COLLECTIONS
    assert operations_of(client) == ALL_OPERATIONS
    assert labels_of(client) == ALL_LABELS


def test_listings_are_paged(client: Client, lake_ids: dict):
    pages = [
        [c["name"] for c in client.list_collections(page_index=i, page_size=3)] for i in range(3)
    ]
    assert pages == [["docs", "hard", "park"], ["street"], []]
    assert [o["operation_id"] for o in client.list_operations(page_index=1, page_size=1)] == [
        "yolo"
    ]
    assert [x["label"] for x in client.list_labels(page_size=2)] == ["car", "dog"]


def test_trash_collection_then_empty_removes_it_and_its_bytes_only(
    client: Client, lake_ids: dict, lake: LakeUnderTest, tmp_path: Path
):
    blobs_before = blob_files(lake.home)
    result = client.trash_collection(lake_ids["hard"])
    assert result == {
        "message": "collection 'hard' and its 0 files moved to the trash; 1 files added to it "
        "from other collections stay in those",
        "isSuccess": True,
        "trashed_count": 0,
    }
    result = client.trash_collection(lake_ids["street"])
    assert result["trashed_count"] == 4
    assert collections_of(client) == [("docs", "other", 1), ("park", "image", 2)]
    assert operations_of(client) == [("review", "human", 0, 0), ("yolo", "machine", 2, 1)]
    # Until the trash is emptied, a trashed collection still answers by name and id.
    assert client.get_collection_id_by_name("street") == lake_ids["street"]

    emptied = client.empty_trash(0)
    assert emptied["message"] == ("4 objects deleted from the trash; 2 trashed collections removed")
    for name in ("street", "hard"):
        with pytest.raises(CollectionNotFoundError):
            client.get_collection_id_by_name(name)
        with pytest.raises(CollectionNotFoundError):
            client.get_collection_details(lake_ids[name])
    street_blobs = [p for p in blobs_before if p.parent.name == "street"]
    assert len(street_blobs) == 4
    assert blob_files(lake.home) == sorted(set(blobs_before) - set(street_blobs))
    # park's img_000, which was only added to `hard`, survives with its annotations.
    assert collections_of(client) == [("docs", "other", 1), ("park", "image", 2)]
    assert client.get_file_details("park_img_000.jpg")["collection_id"] == lake_ids["park"]
    assert labels_of(client) == [("car", 1, 1), ("dog", 1, 1), ("person", 0, 0)]
    assert client.empty_trash(0)["message"] == "0 objects deleted from the trash"

    # The name is free again: a new upload makes a new collection with the same storage name.
    again = upload_and_wait(client, str(make_folder(tmp_path / "again", 1)), "image", "street")
    assert again["collection_id"] != lake_ids["street"]
    assert client.get_file_details("street_img_000.jpg")["collection_id"] == again["collection_id"]


def test_restore_brings_a_trashed_collection_back_with_its_files(
    client: Client, lake_ids: dict, tmp_path: Path
):
    client.create_or_update_collection("street", "image", "name = img_001.jpg")  # + park's
    assert collections_of(client, "image")[-1] == ("street", "image", 5)
    client.trash_collection(lake_ids["street"])
    assert client.get_item_count_from_collection(lake_ids["street"]) == 1  # park_img_001
    assert client.get_file_details("park_img_001.jpg")["collection_id"] == lake_ids["park"]
    assert [c["name"] for c in client.list_collections("image")] == ["hard", "park"]

    restored = client.restore_from_trash(lake_ids["street"])
    assert restored["message"] == "4 objects restored from the trash"
    assert collections_of(client, "image")[-1] == ("street", "image", 5)
    assert operations_of(client) == ALL_OPERATIONS
    assert client.empty_trash(0)["message"] == "0 objects deleted from the trash"
    assert client.get_collection_id_by_name("street") == lake_ids["street"]


def test_uploading_to_a_trashed_collection_brings_it_back(client: Client, tmp_path: Path):
    first = upload_and_wait(client, str(make_folder(tmp_path / "a", 2)), "image", "c")
    client.trash_collection(first["collection_id"])
    assert client.list_collections() == []
    folder = make_folder(tmp_path / "b", 3)
    (folder / "img_000.jpg").unlink()
    (folder / "img_001.jpg").unlink()
    upload_and_wait(client, str(folder), "image", "c")
    assert collections_of(client) == [("c", "image", 1)]
    assert client.empty_trash(0)["message"] == "2 objects deleted from the trash"
    assert client.get_collection_id_by_name("c") == first["collection_id"]


def test_a_collection_is_not_trashed_while_an_upload_into_it_runs(client: Client, tmp_path: Path):
    started = client.upload_files_to_collection(
        str(make_folder(tmp_path / "many", 100)), "image", "busy"
    )
    with pytest.raises(InvalidArgumentError, match=r"has upload job .* wait for it to finish"):
        client.trash_collection(started["collection_id"])
    assert client.wait_for_job_complete(started["job_id"])["is_success"]
    assert client.trash_collection(started["collection_id"])["trashed_count"] == 100
    assert client.empty_trash(0)["deleted_count"] == 100
    assert client.list_collections() == []


BAD_CALLS = [
    (lambda c: c.list_collections("bogus"), InvalidArgumentError, "content type 'bogus'"),
    (lambda c: c.list_collections(5), InvalidArgumentError, "content type 5 is not"),
    (lambda c: c.list_operations(UNKNOWN_ID), CollectionNotFoundError, UNKNOWN_ID),
    (lambda c: c.trash_collection(UNKNOWN_ID), CollectionNotFoundError, UNKNOWN_ID),
    (lambda c: c.list_labels(page_size=0), InvalidArgumentError, "between 1 and 10000, not 0"),
    (lambda c: c.list_labels(page_size=10_001), InvalidArgumentError, "between 1 and 10000"),
    (lambda c: c.list_collections(page_index=-1), InvalidArgumentError, "page_index must be"),
    (lambda c: c.list_labels(page_index=2**62), InvalidArgumentError, "the deepest a page"),
    (
        lambda c: c.get_item_list_from_datalake("image", page_index=2**62),
        InvalidArgumentError,
        "the deepest a page may start",
    ),
    (lambda c: c.list_operations(page_size=True), InvalidArgumentError, "page_size must be"),
]


def test_bad_arguments_are_refused(client: Client):
    for call, error, message in BAD_CALLS:
        with pytest.raises(error, match=message):
            call(client)


def test_ls_command(lake_home: Path, tmp_path: Path):
    with Client(home=lake_home, show_progress=False) as client:
        upload_and_wait(client, str(make_folder(tmp_path / "street", 2)), "image", "street")
        annotate(client, tmp_path / "a.json", "street", "yolo", True, {"img_000.jpg": ["car"]})
        street = client.get_collection_id_by_name("street")

    table = metalake("ls", home=lake_home)
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "TYPE", "ITEMS", "CREATED"]
    assert row.split()[:4] == [street, "street", "image", "2"]

    ops = metalake("ls", "operations", "--collection", "street", "--json", home=lake_home)
    assert json.loads(ops.stdout) == [
        {"operation_id": "yolo", "kind": "machine", "annotation_count": 1, "file_count": 1}
    ]
    labels = metalake("ls", "labels", home=lake_home)
    assert [line.split() for line in labels.stdout.splitlines()] == [
        ["LABEL", "ANNOTATIONS", "FILES"],
        ["car", "1", "1"],
    ]
    missing = metalake("ls", "operations", "--collection", "nope", home=lake_home)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "error: no image collection named 'nope'"
    wrong = metalake("ls", "labels", "--collection", "street", home=lake_home)
    assert wrong.returncode == 2
    assert "--collection only goes with `ls operations`" in wrong.stderr
