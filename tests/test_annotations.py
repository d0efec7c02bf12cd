"""Annotations end to end: every upload form, replace semantics, validation and downloads,
embedded (SQLite, PostgreSQL) and through a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from metalake import (
    Client,
    CollectionNotFoundError,
    InvalidAnnotationFileError,
    InvalidArgumentError,
    InvalidPathError,
    JobNotFoundError,
    NotSupportedError,
    OperationNotFoundError,
)
from tests.conftest import LakeUnderTest, table_counts, upload_and_wait
from tests.media_factory import make_image

WIDTH, HEIGHT = 64, 48
"""The size of the images `make_folder` makes."""

CAR = {
    "type": "rectangle",
    "bbox": [1, 2, 10, 20],
    "label": "car",
    "confidence": 0.5,
    "metadata": {"source": "cam"},
    "attributes": {"color": [{"value": "red", "confidence": 0.9, "metadata": {"by": "x"}}]},
}
ROAD = {"type": "polygon", "polygon": [[0.5, 0.5], [30, 0.5], [30, 40]], "label": "road"}
LANE = {"type": "line", "polygon": [[0, 0], [63.5, 47.5]], "label": "lane", "confidence": 1}
POINTS = {"type": "points", "points": [[5, 5]], "label": "eye"}


def write_json(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def annotated(*entries: tuple[str, list[dict]]) -> dict:
    return {"images": [{"image": name, "annotations": shapes} for name, shapes in entries]}


def geometry(shape: dict) -> list[float]:
    if "bbox" in shape:
        return [float(v) for v in shape["bbox"]]
    key = "points" if shape["type"] == "points" else "polygon"
    return [float(v) for point in shape[key] for v in point]


def assert_same_shapes(got: list[dict], want: list[dict]) -> None:
    """Equal as sets: same type, label, confidence, metadata and attributes, and geometry in
    pixels within 1e-6."""

    def key(shape: dict) -> str:
        rounded = [round(v, 3) for v in geometry(shape)]
        return json.dumps([shape["type"], shape["label"], rounded])

    assert len(got) == len(want), (got, want)
    for g, w in zip(sorted(got, key=key), sorted(want, key=key), strict=True):
        assert g["type"] == w["type"] and g["label"] == w["label"]
        assert g.get("confidence") == w.get("confidence")
        assert g["metadata"] == w.get("metadata", {})
        assert g["attributes"] == w.get("attributes", {})
        assert geometry(g) == pytest.approx(geometry(w), abs=1e-6)


def wait_ok(client: Client, result: dict) -> dict:
    """The finished job of an annotation upload that must complete."""
    assert result["is_success"] is True, result
    assert client.wait_for_job_complete(result["job_id"]) == {
        "is_success": True,
        "job_status": "COMPLETED",
    }, client.get_job(result["job_id"])
    return client.get_job(result["job_id"])


def shapes_of(client: Client, unique_name: str, operation_id: str | None = None) -> list[dict]:
    found = client.get_file_details(unique_name)["annotations"]
    return [a for a in found if operation_id is None or a["operation_id"] == operation_id]


@pytest.fixture
def traffic(client: Client, images: Path) -> dict:
    """The 5 images uploaded to collection Traffic (unique names Traffic_img_00N.jpg)."""
    return upload_and_wait(client, str(images), "image", "Traffic")


def test_annotations_round_trip_through_download_collection(
    client: Client, traffic: dict, images: Path, tmp_path: Path
):
    document = annotated(
        ("img_000.jpg", [CAR, ROAD]), ("img_001.jpg", [LANE, POINTS]), ("img_002.jpg", [])
    )
    source = write_json(tmp_path / "labels.json", document)
    job = wait_ok(
        client, client.upload_annotations_for_collection("Traffic", "gt-1", source, False, False)
    )
    assert (job["type"], job["done"], job["skipped"], job["failed"]) == ("annotations", 3, 0, 0)

    result = client.download_collection(
        traffic["collection_id"], custom_download_path=str(tmp_path / "out")
    )
    folder = tmp_path / "out" / "Traffic"
    assert result["is_success"] is True, result
    assert (result["path"], result["image_count"], result["annotation_count"]) == (
        str(folder),
        5,
        4,
    )
    downloaded = json.loads((folder / "annotations.json").read_text())
    by_image = {entry["image"]: entry["annotations"] for entry in downloaded["images"]}
    assert set(by_image) == {f"Traffic_img_00{i}.jpg" for i in range(5)}
    for entry in document["images"]:
        assert_same_shapes(by_image["Traffic_" + entry["image"]], entry["annotations"])
    assert all(a["operation_id"] == "gt-1" for shapes in by_image.values() for a in shapes)
    assert all(a["is_model_run"] is False for shapes in by_image.values() for a in shapes)
    for i in range(5):
        original = (images / f"img_00{i}.jpg").read_bytes()
        assert (folder / "data" / f"Traffic_img_00{i}.jpg").read_bytes() == original

    # The downloaded file uploads again by unique name and changes nothing.
    again = wait_ok(
        client,
        client.upload_annotations_by_unique_name(
            "gt-1", str(folder / "annotations.json"), False, False
        ),
    )
    assert again["done"] == 5
    assert_same_shapes(shapes_of(client, "Traffic_img_000.jpg"), [CAR, ROAD])

    # A second download keeps the files that are already there.
    second = client.download_collection(traffic["collection_id"], "all", [], str(tmp_path / "out"))
    assert (second["downloaded_count"], second["kept_count"]) == (0, 5)


def test_normalized_input_is_converted_to_pixels_with_each_image_size(
    client: Client, tmp_path: Path
):
    folder = tmp_path / "sizes"
    folder.mkdir()
    make_image(folder / "wide.png", size=(200, 100))
    make_image(folder / "tall.png", size=(50, 400))
    upload_and_wait(client, str(folder), "image", "Sizes")
    box = {"type": "rectangle", "bbox": [0.25, 0.5, 0.5, 0.25], "label": "thing"}
    poly = {"type": "polygon", "polygon": [[0, 0], [1, 0], [1, 1]], "label": "all"}
    source = write_json(
        tmp_path / "n.json", annotated(("wide.png", [box, poly]), ("tall.png", [box]))
    )
    wait_ok(client, client.upload_annotations_for_collection("Sizes", "m1", source, True, True))
    assert_same_shapes(
        shapes_of(client, "Sizes_wide.png"),
        [
            {**box, "bbox": [50, 50, 100, 25]},
            {**poly, "polygon": [[0, 0], [200, 0], [200, 100]]},
        ],
    )
    assert_same_shapes(shapes_of(client, "Sizes_tall.png"), [{**box, "bbox": [12.5, 200, 25, 100]}])
    assert {a["is_model_run"] for a in shapes_of(client, "Sizes_wide.png")} == {True}


def test_same_operation_replaces_only_the_images_it_names(
    client: Client, traffic: dict, tmp_path: Path
):
    first = write_json(
        tmp_path / "1.json", annotated(("img_000.jpg", [CAR, ROAD]), ("img_001.jpg", [LANE]))
    )
    wait_ok(client, client.upload_annotations_for_collection("Traffic", "op", first, False, False))
    other = write_json(tmp_path / "o.json", annotated(("img_000.jpg", [POINTS])))
    wait_ok(
        client, client.upload_annotations_for_collection("Traffic", "other", other, False, False)
    )

    second = write_json(tmp_path / "2.json", annotated(("img_000.jpg", [LANE])))
    wait_ok(client, client.upload_annotations_for_collection("Traffic", "op", second, False, False))
    assert_same_shapes(shapes_of(client, "Traffic_img_000.jpg", "op"), [LANE])
    assert_same_shapes(shapes_of(client, "Traffic_img_000.jpg", "other"), [POINTS])
    assert_same_shapes(shapes_of(client, "Traffic_img_001.jpg", "op"), [LANE])

    # An image listed with no annotations loses the operation's set there.
    empty = write_json(tmp_path / "3.json", annotated(("img_001.jpg", [])))
    wait_ok(client, client.upload_annotations_for_collection("Traffic", "op", empty, False, False))
    assert shapes_of(client, "Traffic_img_001.jpg") == []


def test_downloads_select_annotations_by_source_and_operation(
    client: Client, traffic: dict, tmp_path: Path
):
    human = write_json(tmp_path / "h.json", annotated(("img_000.jpg", [CAR])))
    machine = write_json(tmp_path / "m.json", annotated(("img_000.jpg", [ROAD, LANE])))
    wait_ok(client, client.upload_annotations_for_collection("Traffic", "gt", human, False, False))
    wait_ok(
        client, client.upload_annotations_for_collection("Traffic", "yolo", machine, False, True)
    )
    wait_ok(client, client.upload_annotations_for_collection("Traffic", "rcnn", human, False, True))
    collection_id = traffic["collection_id"]

    def labels_downloaded(result: dict) -> list[str]:
        document = json.loads(Path(result["annotation_file"]).read_text())
        shapes = next(e for e in document["images"] if e["image"] == "Traffic_img_000.jpg")
        return sorted(f"{a['operation_id']}:{a['label']}" for a in shapes["annotations"])

    out = str(tmp_path / "out")

    def labels(*args: Any) -> list[str]:
        return labels_downloaded(client.download_collection(collection_id, *args, out, False))

    assert labels("all", []) == ["gt:car", "rcnn:car", "yolo:lane", "yolo:road"]
    assert labels("human", []) == ["gt:car"]
    assert labels("machine", []) == ["rcnn:car", "yolo:lane", "yolo:road"]
    assert labels("human", ["yolo"]) == ["yolo:lane", "yolo:road"]
    assert labels("all", ["yolo", "gt"]) == ["gt:car", "yolo:lane", "yolo:road"]
    with pytest.warns(DeprecationWarning):
        assert labels_downloaded(client.download_annotations(collection_id, None, out, False)) == [
            "gt:car"
        ]
    with pytest.warns(DeprecationWarning):
        result = client.download_annotations(collection_id, "rcnn", out, False)
    assert labels_downloaded(result) == ["rcnn:car"]
    assert not (tmp_path / "out" / "Traffic" / "data").exists()

    with pytest.raises(InvalidArgumentError, match="annotation_type must be one of all, human"):
        client.download_collection(collection_id, "robot")
    with pytest.raises(InvalidArgumentError, match="operation_id_list must be a list"):
        client.download_collection(collection_id, "all", "yolo")
    with pytest.raises(InvalidPathError, match="must be absolute"):
        client.download_collection(collection_id, "all", [], "relative/out")


def test_every_upload_form_finds_its_images(client: Client, traffic: dict, tmp_path: Path):
    by_path = write_json(tmp_path / "p.json", annotated(("/Traffic/img_000.jpg", [CAR])))
    wait_ok(client, client.upload_annotations_by_storage_path("p", by_path, False, False))
    assert_same_shapes(shapes_of(client, "Traffic_img_000.jpg", "p"), [CAR])
    wait_ok(
        client, client.upload_annotations_by_storage_path("p2", by_path, False, False, "default")
    )
    assert_same_shapes(shapes_of(client, "Traffic_img_000.jpg", "p2"), [CAR])

    by_unique = write_json(tmp_path / "u.json", annotated(("Traffic_img_001.jpg", [ROAD])))
    wait_ok(client, client.upload_annotations_by_unique_name("u", by_unique, False, False))
    assert_same_shapes(shapes_of(client, "Traffic_img_001.jpg", "u"), [ROAD])

    by_job = write_json(tmp_path / "j.json", annotated(("img_002.jpg", [LANE])))
    wait_ok(
        client, client.upload_annotations_by_job_id(traffic["job_id"], "j", by_job, False, False)
    )
    assert_same_shapes(shapes_of(client, "Traffic_img_002.jpg", "j"), [LANE])
    with pytest.raises(JobNotFoundError):
        client.upload_annotations_by_job_id("0" * 24, "j", by_job, False, False)

    legacy = {"bbox": [1, 2, 3, 4], "label": "car", "metadata": {"color": "red", "doors": 4}}
    folder = write_json(tmp_path / "f.json", annotated(("img_003.jpg", [legacy])))
    with pytest.warns(DeprecationWarning):
        result = client.upload_annoations_for_folder(
            "Traffic", "f", folder, "rectangle", False, False
        )
    wait_ok(client, result)
    expected = {
        "type": "rectangle",
        "bbox": [1, 2, 3, 4],
        "label": "car",
        "attributes": {"color": [{"value": "red"}], "doors": [{"value": 4}]},
    }
    assert_same_shapes(shapes_of(client, "Traffic_img_003.jpg", "f"), [expected])
    with pytest.warns(DeprecationWarning), pytest.raises(NotSupportedError, match="projects"):
        client.upload_annoations_for_folder("Traffic", "f", folder, "rectangle", False, True, "p1")


def test_names_that_match_no_image_are_reported_on_the_job(
    client: Client, traffic: dict, tmp_path: Path
):
    names = [f"missing_{i}.jpg" for i in range(12)]
    document = annotated(("img_000.jpg", [CAR]), *[(name, [CAR]) for name in names])
    source = write_json(tmp_path / "a.json", document)
    result = client.upload_annotations_for_collection("Traffic", "op", source, False, False)
    assert "12 names matched no file in collection 'Traffic': 'missing_0.jpg'" in result["message"]
    job = wait_ok(client, result)
    assert (job["done"], job["skipped"], job["failed"]) == (1, 12, 0)
    assert [e["file"] for e in job["errors"]] == names
    assert_same_shapes(shapes_of(client, "Traffic_img_000.jpg"), [CAR])


def _with(shape: dict, **changes: Any) -> dict:
    return {**shape, **changes}


BAD_FILES = [
    ({"files": []}, 'expected an object with an "images" list'),
    ({"images": [{"annotations": []}]}, "images[0].image must be a non-empty string"),
    ({"images": [{"image": "img_000.jpg"}]}, "images[0].annotations must be a list"),
    (
        annotated(("img_000.jpg", [CAR, _with(CAR, type="circle")])),
        "images[0].annotations[1].type: must be one of",
    ),
    (
        annotated(("img_000.jpg", [_with(CAR, bbox=[1, 2, 3])])),
        "images[0].annotations[0].bbox: must be 4 numbers",
    ),
    (
        annotated(("img_000.jpg", [_with(CAR, bbox=[1, "2", 3, 4])])),
        "annotations[0].bbox: must be 4 numbers",
    ),
    (
        annotated(("img_000.jpg", [_with(CAR, bbox=[1, 2, -3, 4])])),
        "bbox: width and height must not be negative",
    ),
    (
        annotated(("img_001.jpg", []), ("img_000.jpg", [_with(CAR, confidence=1.5)])),
        "images[1].annotations[0].confidence: must be a number from 0 to 1",
    ),
    (
        annotated(("img_000.jpg", [_with(CAR, label="")])),
        "images[0].annotations[0].label: must be a non-empty string",
    ),
    (
        annotated(("img_000.jpg", [_with(ROAD, polygon=[[1, 2], [3, 4]])])),
        "images[0].annotations[0].polygon: a polygon needs a list of at least 3",
    ),
    (
        annotated(("img_000.jpg", [_with(ROAD, polygon=[[1, 2], [3, None], [5, 6]])])),
        "annotations[0].polygon[1]: must be two numbers",
    ),
    (
        annotated(("img_000.jpg", [_with(CAR, attributes={"color": [{"confidence": 1}]})])),
        'attributes.color[0]: must be an object with a "value"',
    ),
    (
        annotated(("img_000.jpg", [_with(CAR, bbox=[60, 2, 10, 20])])),
        "images[0].annotations[0].bbox: [60, 2, 10, 20] lies outside the 64x48 image",
    ),
    (
        annotated(
            ("img_000.jpg", [CAR]),
            ("img_002.jpg", [_with(ROAD, polygon=[[0, 0], [64, 0], [64, 49]])]),
        ),
        "images[1].annotations[0].polygon[2]: [64, 49] lies outside the 64x48 image",
    ),
]


@pytest.mark.parametrize(("document", "message"), BAD_FILES)
def test_a_malformed_file_is_refused_whole_and_changes_nothing(
    client: Client, traffic: dict, tmp_path: Path, lake: LakeUnderTest, document: Any, message: str
):
    before = table_counts(lake)
    source = write_json(tmp_path / "bad.json", document)
    with pytest.raises(InvalidAnnotationFileError) as caught:
        client.upload_annotations_for_collection("Traffic", "op", source, False, False)
    assert message in str(caught.value)
    assert str(caught.value).startswith(source)
    assert table_counts(lake) == before


def test_bad_arguments_are_refused_before_anything_is_written(
    client: Client, traffic: dict, tmp_path: Path, lake: LakeUnderTest
):
    good = write_json(tmp_path / "good.json", annotated(("img_000.jpg", [CAR])))
    normalized_too_big = write_json(
        tmp_path / "n.json", annotated(("img_000.jpg", [_with(CAR, bbox=[0.5, 0.5, 0.6, 0.1])]))
    )
    not_json = tmp_path / "broken.json"
    not_json.write_text('{"images": [')
    before = table_counts(lake)
    upload = client.upload_annotations_for_collection
    with pytest.raises(InvalidAnnotationFileError, match="not valid JSON at line 1 column 13"):
        upload("Traffic", "op", str(not_json), False, False)
    with pytest.raises(InvalidAnnotationFileError, match=r"bbox: is_normalized is True but"):
        upload("Traffic", "op", normalized_too_big, True, False)
    with pytest.raises(InvalidPathError, match="must be absolute"):
        upload("Traffic", "op", "labels.json", False, False)
    with pytest.raises(InvalidArgumentError, match="operation_unique_id must be a non-empty"):
        upload("Traffic", "", good, False, False)
    with pytest.raises(InvalidArgumentError, match="is_model_run must be True or False"):
        upload("Traffic", "op", good, False, "yes")
    with pytest.raises(CollectionNotFoundError, match="no image collection named 'Nope'"):
        upload("Nope", "op", good, False, False)
    assert table_counts(lake) == before

    wait_ok(client, upload("Traffic", "op", good, False, False))
    with pytest.raises(InvalidArgumentError, match="operation 'op' holds human annotations"):
        upload("Traffic", "op", good, False, True)


def test_remove_annotations_drops_one_operation_from_a_collection(
    client: Client, traffic: dict, tmp_path: Path
):
    source = write_json(tmp_path / "a.json", annotated(("img_000.jpg", [CAR, ROAD])))
    wait_ok(client, client.upload_annotations_for_collection("Traffic", "a", source, False, False))
    wait_ok(client, client.upload_annotations_for_collection("Traffic", "b", source, False, False))
    result = client.remove_annotations(traffic["collection_id"], "a")
    assert result == {
        "is_success": True,
        "message": "2 annotations of operation 'a' removed from collection 'Traffic'",
    }
    assert {a["operation_id"] for a in shapes_of(client, "Traffic_img_000.jpg")} == {"b"}
    with pytest.raises(OperationNotFoundError, match="no annotation operation with id 'zzz'"):
        client.remove_annotations(traffic["collection_id"], "zzz")


def test_annotation_data_is_applied_by_the_upload_job(client: Client, images: Path, tmp_path: Path):
    document = annotated(
        ("img_000.jpg", [CAR]),
        ("img_001.jpg", [_with(CAR, bbox=[0.1, 0.1, 0.2, 0.2])]),
        ("elsewhere.jpg", [_with(CAR, bbox=[0, 0, 1, 1])]),
    )
    source = write_json(tmp_path / "a.json", document)
    data = {
        "json_data_file_path": source,
        "operation_unique_id": "with-upload",
        "is_normalized": True,
        "is_model_run": True,
    }
    with pytest.raises(InvalidAnnotationFileError, match=r"images\[0\].annotations\[0\].bbox"):
        client.upload_files_to_collection(str(images), "image", "Annotated", annotation_data=data)

    document["images"][0]["annotations"] = [_with(CAR, bbox=[0.5, 0.5, 0.25, 0.5])]
    write_json(tmp_path / "a.json", document)
    result = client.upload_files_to_collection(
        str(images), "image", "Annotated", annotation_data=data
    )
    job = wait_ok(client, result)
    assert (job["done"], job["failed"]) == (5, 0)
    assert job["errors"] == [
        {"file": "elsewhere.jpg", "reason": "annotated, but not in this upload"}
    ]
    assert_same_shapes(
        shapes_of(client, "Annotated_img_000.jpg", "with-upload"),
        [_with(CAR, bbox=[32, 24, 16, 24])],
    )
    assert_same_shapes(
        shapes_of(client, "Annotated_img_001.jpg"), [_with(CAR, bbox=[6.4, 4.8, 12.8, 9.6])]
    )
    assert shapes_of(client, "Annotated_img_002.jpg") == []

    with pytest.raises(InvalidArgumentError, match="annotation_data has unknown keys"):
        client.upload_files_to_collection(
            str(images), "image", "Annotated", annotation_data={"json_path": source}
        )
    # The seeds' default: a dict whose file is None means no annotations.
    none = {"json_data_file_path": None, "operation_unique_id": None}
    upload_and_wait(client, str(images), "image", "Plain", annotation_data=none)


def test_a_file_that_arrives_with_the_wrong_size_is_reported_not_kept(
    client: Client, traffic: dict, lake: LakeUnderTest, tmp_path: Path
):
    blob = lake.home / "blobs" / "Traffic" / "img_001.jpg"
    blob.write_bytes(blob.read_bytes()[:100])
    result = client.download_collection(
        traffic["collection_id"], custom_download_path=str(tmp_path)
    )
    assert result["is_success"] is False
    assert (result["downloaded_count"], result["failed_count"]) == (4, 1)
    assert "Traffic_img_001.jpg: received 100 bytes, expected" in result["message"]
    data = tmp_path / "Traffic" / "data"
    assert sorted(p.name for p in data.iterdir()) == [
        f"Traffic_img_00{i}.jpg" for i in (0, 2, 3, 4)
    ]
    assert len(json.loads((tmp_path / "Traffic" / "annotations.json").read_text())["images"]) == 5
