"""COCO export and import: real readers (pycocotools, COCOeval, FiftyOne) read our files, and
COCO folders (ours, FiftyOne's) read back to the annotations that went in."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from metalake.errors import InvalidArgumentError, InvalidDatasetFolderError
from metalake.lake.annotations.documents import parse_document
from metalake.lake.annotations.shapes import parse_shape
from metalake.lake.datasets.formats.coco import export_entries, read_folder
from metalake.lake.datasets.records import ExportImage, VersionSummary
from tests.dataset_exports import HEIGHT, WIDTH, export_image, make_image, write_export
from tests.fiftyone_venv import run_fiftyone

SCRIPTS = Path(__file__).parent / "fiftyone_scripts"
CATEGORIES = ((3, "car"), (7, "person"), (9, "lane"), (12, "joint"))
PAGE = 2
"""Files per page that the split readers give (small, so that exports span several pages)."""


def shape(kind: str, label: str, geometry: list[Any], **extra: Any) -> dict[str, Any]:
    """An annotation as the lake gives it to exports (`shape_dict` plus the operation)."""
    key = {"rectangle": "bbox", "line": "polygon", "polygon": "polygon", "points": "points"}[kind]
    return {
        "type": kind,
        key: geometry,
        "label": label,
        **({"confidence": extra["confidence"]} if "confidence" in extra else {}),
        "metadata": extra.get("metadata", {}),
        "attributes": extra.get("attributes", {}),
        "operation_id": "op",
        "is_model_run": "confidence" in extra,
    }


IMAGES = [
    export_image(
        "c1_a.jpg",
        "train",
        [
            shape(
                "rectangle",
                "car",
                [4, 5.5, 20.25, 10.1],
                attributes={"color": [{"value": "red"}]},
                metadata={"source": "manual", "pass": 2},
            ),
            shape(
                "polygon",
                "person",
                [[10, 10], [30, 12.5], [25, 40]],
                attributes={"pose": [{"value": "standing", "confidence": 0.75}]},
            ),
            shape("line", "lane", [[0, 0], [10, 10]]),
        ],
    ),
    export_image("c1_b.jpg", "train", [shape("points", "joint", [[5, 6], [7.5, 9.25]])]),
    export_image("c1_c.jpg", "train", []),
    export_image(
        "c1_d.jpg",
        "validation",
        [
            shape("rectangle", "car", [0, 0, 64, 48], confidence=0.9),
            shape("rectangle", "person", [1.5, 2, 3, 4], confidence=0.25),
            shape("line", "lane", [[1, 1], [2, 2], [3, 1]]),
        ],
    ),
]


def summary_of(images: list[ExportImage], name: str = "cars", version: int = 1) -> VersionSummary:
    splits = tuple(split for split in ("train", "validation", "test") if split in _by_split(images))
    return VersionSummary(name, version, splits, CATEGORIES)


def _by_split(images: list[ExportImage]) -> dict[str, list[ExportImage]]:
    splits: dict[str, list[ExportImage]] = {}
    for item in images:
        splits.setdefault(item["split"], []).append(item)
    return splits


def export_to(
    folder: Path, images: list[ExportImage], with_media: bool = True, **summary: Any
) -> Counter[str]:
    """Write the COCO export of `images` into `folder` as a consumer would; the dropped counts."""
    splits = _by_split(images)
    passes: Counter[str] = Counter()

    def read_split(split: str, with_annotations: bool = True) -> Iterator[list[ExportImage]]:
        passes[split] += 1
        files = splits[split]
        if not with_annotations:
            files = [ExportImage(**{**f, "annotations": []}) for f in files]
        for start in range(0, len(files), PAGE):
            yield files[start : start + PAGE]

    source = make_image(folder.parent / f"{folder.name}-source.jpg")
    media = {item["unique_name"]: source for item in images}
    dropped: Counter[str] = Counter()
    write_export(
        export_entries(summary_of(images, **summary), read_split, with_media, dropped),
        folder,
        media,
    )
    assert set(passes.values()) == {3 if with_media else 2}
    return dropped


def relative(bbox: list[float]) -> list[float]:
    x, y, w, h = bbox
    return [x / WIDTH, y / HEIGHT, w / WIDTH, h / HEIGHT]


def test_export_layout_and_dropped_lines(tmp_path: Path) -> None:
    dropped = export_to(tmp_path / "out", IMAGES)
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in tmp_path.rglob("out/**/*.*"))
    assert files == [
        "annotations/instances_train.json",
        "annotations/instances_validation.json",
        "images/train/c1_a.jpg",
        "images/train/c1_b.jpg",
        "images/train/c1_c.jpg",
        "images/validation/c1_d.jpg",
    ]
    assert dropped == Counter({"line": 2})
    data = orjson.loads((tmp_path / "out/annotations/instances_train.json").read_bytes())
    assert data["info"] == {"description": "cars", "version": "1"}
    assert data["categories"] == [
        {"id": id_, "name": name, "supercategory": ""} for id_, name in CATEGORIES
    ]


def test_export_reads_the_lake_only_as_its_chunks_are_read() -> None:
    passes: Counter[str] = Counter()
    asked: list[bool] = []

    def read_split(split: str, with_annotations: bool = True) -> Iterator[list[ExportImage]]:
        passes[split] += 1
        asked.append(with_annotations)
        yield [item for item in IMAGES if item["split"] == split]

    entries = export_entries(summary_of(IMAGES), read_split, with_media=False)
    train = next(entries)
    assert train.path == "annotations/instances_train.json"
    assert train.chunks is not None
    chunks = iter(train.chunks)
    assert next(chunks).startswith(b'{"info":') and passes == Counter()
    assert next(chunks).startswith(b'{"id":1,"file_name":"c1_a.jpg"')
    assert passes == Counter({"train": 1})
    assert b"".join(chunks).endswith(b"]}") and passes == Counter({"train": 2})
    assert asked == [False, True]  # the images pass reads no annotations


def test_export_without_media_writes_only_the_json(tmp_path: Path) -> None:
    export_to(tmp_path / "out", IMAGES, with_media=False)
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.*")) == [
        "instances_train.json",
        "instances_validation.json",
    ]


def test_pycocotools_reads_every_image_box_area_and_category(tmp_path: Path) -> None:
    export_to(tmp_path / "out", IMAGES)
    train = COCO(str(tmp_path / "out/annotations/instances_train.json"))
    assert {c["id"]: c["name"] for c in train.loadCats(train.getCatIds())} == dict(CATEGORIES)
    assert [
        (i["id"], i["file_name"], i["width"], i["height"]) for i in train.dataset["images"]
    ] == [
        (1, "c1_a.jpg", 64, 48),
        (2, "c1_b.jpg", 64, 48),
        (3, "c1_c.jpg", 64, 48),
    ]
    found = [
        (a["image_id"], a["category_id"], a["bbox"], a["area"], a["iscrowd"])
        for a in train.loadAnns(train.getAnnIds())
    ]
    triangle = abs(10 * 12.5 - 30 * 10 + 30 * 40 - 25 * 12.5 + 25 * 10 - 10 * 40) / 2
    assert found == [
        (1, 3, [4, 5.5, 20.25, 10.1], 20.25 * 10.1, 0),
        (1, 7, [10, 10, 20, 30], triangle, 0),
        (2, 12, [5, 6, 2.5, 3.25], 2.5 * 3.25, 0),
    ]
    joint = train.loadAnns(train.getAnnIds(imgIds=[2]))[0]
    assert joint["keypoints"] == [5, 6, 2, 7.5, 9.25, 2]
    assert joint["num_keypoints"] == 2
    # Masks (what torchvision's CocoDetection users build from `segmentation`) work for all.
    masks = [train.annToMask(a) for a in train.loadAnns(train.getAnnIds())]
    assert [int(m.sum()) > 0 for m in masks] == [True, True, True]
    validation = COCO(str(tmp_path / "out/annotations/instances_validation.json"))
    assert [(a["bbox"], a["score"]) for a in validation.dataset["annotations"]] == [
        ([0, 0, 64, 48], 0.9),
        ([1.5, 2, 3, 4], 0.25),
    ]


GROUND_TRUTH = {
    "g1.jpg": [("car", [2, 3, 20, 10]), ("person", [30, 4, 12, 30])],
    "g2.jpg": [("car", [10, 10, 40, 30])],
    "g3.jpg": [("person", [0, 0, 16, 16]), ("car", [40, 20, 20, 20])],
}
PREDICTIONS = {
    "g1.jpg": [("car", [3, 3.5, 20, 10], 0.9), ("person", [33, 8, 12, 30], 0.6)],
    "g2.jpg": [("car", [12, 11, 38, 30], 0.8), ("person", [1, 1, 10, 10], 0.3)],
    "g3.jpg": [("person", [1, 0, 16, 15], 0.7), ("car", [44, 24, 20, 20], 0.4)],
}


def hand_written_eval() -> list[float]:
    """COCOeval's stats for GROUND_TRUTH and PREDICTIONS written directly as COCO dicts."""
    names = list(GROUND_TRUTH)
    ids = {name: id_ for id_, name in CATEGORIES}
    truth = COCO()
    truth.dataset = {
        "images": [
            {"id": n + 1, "file_name": name, "width": WIDTH, "height": HEIGHT}
            for n, name in enumerate(names)
        ],
        "annotations": [
            {
                "id": len(names) * n + k + 1,
                "image_id": n + 1,
                "category_id": ids[label],
                "bbox": box,
                "area": box[2] * box[3],
                "iscrowd": 0,
            }
            for n, name in enumerate(names)
            for k, (label, box) in enumerate(GROUND_TRUTH[name])
        ],
        "categories": [{"id": id_, "name": name} for id_, name in CATEGORIES],
    }
    truth.createIndex()
    results = [
        {"image_id": n + 1, "category_id": ids[label], "bbox": box, "score": score}
        for n, name in enumerate(names)
        for label, box, score in PREDICTIONS[name]
    ]
    return evaluate(truth, truth.loadRes(results))


def evaluate(truth: COCO, detections: COCO) -> list[float]:
    run = COCOeval(truth, detections, "bbox")
    run.evaluate()
    run.accumulate()
    run.summarize()
    return [float(value) for value in run.stats]


def test_cocoeval_of_two_exports_equals_cocoeval_of_the_same_boxes_by_hand(
    tmp_path: Path,
) -> None:
    truth = [
        export_image(name, "test", [shape("rectangle", label, box) for label, box in boxes])
        for name, boxes in GROUND_TRUTH.items()
    ]
    machine = [
        export_image(
            name,
            "test",
            [shape("rectangle", label, box, confidence=score) for label, box, score in boxes],
        )
        for name, boxes in PREDICTIONS.items()
    ]
    export_to(tmp_path / "truth", truth, with_media=False)
    export_to(tmp_path / "machine", machine, with_media=False, version=2)
    ground = COCO(str(tmp_path / "truth/annotations/instances_test.json"))
    predicted = COCO(str(tmp_path / "machine/annotations/instances_test.json"))
    stats = evaluate(ground, ground.loadRes(predicted.dataset["annotations"]))
    expected = hand_written_eval()
    assert 0 < expected[0] < 1
    assert stats == pytest.approx(expected, abs=1e-9)


def test_fiftyone_reads_our_export(tmp_path: Path) -> None:
    export_to(tmp_path / "out", IMAGES)
    found = run_fiftyone(
        SCRIPTS / "read_coco.py",
        str(tmp_path / "out/images/train"),
        str(tmp_path / "out/annotations/instances_train.json"),
        str(tmp_path / "out/images/validation"),
        str(tmp_path / "out/annotations/instances_validation.json"),
        database=tmp_path / "fo",
    )
    validation = {"c1_d.jpg": found.pop("c1_d.jpg")}
    assert sorted(found) == ["c1_a.jpg", "c1_b.jpg", "c1_c.jpg"]
    a, b = found["c1_a.jpg"], found["c1_b.jpg"]
    assert [(d["label"], d["confidence"], d["color"]) for d in a["detections"]] == [
        ("car", None, "red"),
        ("person", None, None),
    ]
    boxes = [d["bounding_box"] for d in a["detections"] + b["detections"]]
    expected = [
        relative(box) for box in ([4, 5.5, 20.25, 10.1], [10, 10, 20, 30], [5, 6, 2.5, 3.25])
    ]
    assert len(boxes) == len(expected)
    for box, want in zip(boxes, expected, strict=True):
        assert box == pytest.approx(want, abs=1e-6)
    assert [k["label"] for k in b["keypoints"]] == ["joint"]
    points = [value for point in b["keypoints"][0]["points"] for value in point]
    assert points == pytest.approx([5 / WIDTH, 6 / HEIGHT, 7.5 / WIDTH, 9.25 / HEIGHT], abs=1e-6)
    assert found["c1_c.jpg"] == {"detections": [], "keypoints": []}

    detections = validation["c1_d.jpg"]["detections"]
    assert [(d["label"], d["confidence"]) for d in detections] == [("car", 0.9), ("person", 0.25)]
    assert detections[1]["bounding_box"] == pytest.approx(relative([1.5, 2, 3, 4]), abs=1e-6)


def test_read_folder_that_fiftyone_exported(tmp_path: Path) -> None:
    for name in ("f1.jpg", "f2.jpg", "f3.jpg"):
        make_image(tmp_path / "source" / name)
    boxes = {
        "f1.jpg": [
            {"label": "cat", "bounding_box": [0.1, 0.2, 0.25, 0.5]},
            {"label": "dog", "bounding_box": [0.5, 0.125, 0.3, 0.6], "confidence": 0.66},
        ],
        "f2.jpg": [{"label": "cat", "bounding_box": [0.0, 0.0, 1.0, 1.0], "confidence": 0.5}],
        "f3.jpg": [{"label": "bird", "bounding_box": [0.33, 0.41, 0.17, 0.29]}],
    }
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    given = run_fiftyone(
        SCRIPTS / "export_coco.py",
        str(tmp_path / "source"),
        str(tmp_path / "boxes.json"),
        str(tmp_path / "export"),
        database=tmp_path / "fo",
    )
    imported = read_folder(tmp_path / "export")
    assert sorted(imported.files) == ["f1.jpg", "f2.jpg", "f3.jpg"]
    assert imported.files["f1.jpg"] == tmp_path / "export/data/f1.jpg"
    assert imported.splits == {"f1.jpg": "train", "f2.jpg": "train", "f3.jpg": "train"}
    read = {entry["image"]: entry["annotations"] for entry in imported.document["images"]}
    assert sorted(read) == sorted(given)
    for name, objects in given.items():
        assert [a["type"] for a in read[name]] == ["rectangle"] * len(objects)
        assert [a["label"] for a in read[name]] == [o["label"] for o in objects]
        assert [a.get("confidence") for a in read[name]] == [o["confidence"] for o in objects]
        for annotation, obj in zip(read[name], objects, strict=True):
            assert relative(annotation["bbox"]) == pytest.approx(obj["bounding_box"], abs=1e-6)
    parse_document(imported.document, "labels.json", normalized=False)


def test_round_trip_keeps_every_annotation_but_lines(tmp_path: Path) -> None:
    dropped = export_to(tmp_path / "out", IMAGES)
    imported = read_folder(tmp_path / "out")
    assert dropped == Counter({"line": 2})
    assert imported.files == {
        item["file"]: tmp_path / "out/images" / item["split"] / item["file"] for item in IMAGES
    }
    assert imported.splits == {item["file"]: item["split"] for item in IMAGES}
    entries = parse_document(imported.document, "round trip", normalized=False)
    expected = [
        (item["file"], [parse_shape(a, False) for a in item["annotations"] if a["type"] != "line"])
        for item in IMAGES
    ]
    assert [(entry.image, entry.shapes) for entry in entries] == expected
    assert expected[0][1][0].attributes == {"color": [{"value": "red"}]}
    assert expected[0][1][1].attributes == {"pose": [{"value": "standing", "confidence": 0.75}]}


def test_the_imported_document_passes_the_upload_checks_unchanged(tmp_path: Path) -> None:
    export_to(tmp_path / "out", IMAGES)
    document = read_folder(tmp_path / "out").document
    before = orjson.dumps(document)
    parse_document(document, "import", normalized=False)
    assert orjson.dumps(document) == before


def write_coco(folder: Path, data: Any, name: str = "annotations/instances_train.json") -> None:
    make_image(folder / "images/train/a.jpg")
    make_image(folder / "images/train/b.jpg")
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else orjson.dumps(data))


def valid() -> dict[str, Any]:
    return {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": WIDTH, "height": HEIGHT},
            {"id": 2, "file_name": "b.jpg", "width": WIDTH, "height": HEIGHT},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 5, "bbox": [1, 2, 3, 4], "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 5, "bbox": [1, 2, 3, 4], "iscrowd": 0},
        ],
        "categories": [{"id": 5, "name": "car"}],
    }


def changed(path: str, value: Any) -> dict[str, Any]:
    """`valid()` with the value at a dotted path (`annotations.1.bbox`) set, or removed."""
    data = valid()
    *parents, last = path.split(".")
    target: Any = data
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    key: Any = int(last) if isinstance(target, list) else last
    if value is REMOVE:
        del target[key]
    else:
        target[key] = value
    return data


REMOVE = object()
FILE = "annotations/instances_train.json"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"images": [', f"{FILE}: not valid JSON"),
        (b"[]", f"{FILE}: must be a JSON object"),
        (changed("images", REMOVE), f"{FILE}: images: must be a list"),
        (changed("annotations", REMOVE), f"{FILE}: annotations: must be a list"),
        (changed("categories", {}), f"{FILE}: categories: must be a list"),
        (changed("images.1.id", 1), f"{FILE}: images[1].id: 1 is used twice"),
        (changed("images.0.id", "1"), f"{FILE}: images[0].id: must be an integer, not '1'"),
        (changed("images.1.file_name", None), f"{FILE}: images[1].file_name: must be a non-empty"),
        (
            changed("images.1.file_name", "../b.jpg"),
            f"{FILE}: images[1].file_name: '../b.jpg' must be a path inside the folder",
        ),
        (
            changed("images.1.file_name", "gone.jpg"),
            f"{FILE}: images[1].file_name: 'gone.jpg' is in none of images/train/, train/, "
            "images/, .",
        ),
        (
            changed("annotations.1.image_id", 9),
            f"{FILE}: annotations[1].image_id: 9 is not the id of an image",
        ),
        (
            changed("annotations.0.category_id", 6),
            f"{FILE}: annotations[0].category_id: 6 is not the id of a category",
        ),
        (
            changed("annotations.1.bbox", [1, 2, 3]),
            f"{FILE}: annotations[1].bbox: must be 4 numbers [x, y, width, height], not [1, 2, 3]",
        ),
        (
            changed("annotations.1.bbox", [1, 2, "3", 4]),
            f"{FILE}: annotations[1].bbox: must be 4 numbers",
        ),
        (changed("annotations.1.bbox", REMOVE), f"{FILE}: annotations[1].bbox: must be 4 numbers"),
        (
            changed("annotations.0.bbox", [1, 2, -3, 4]),
            f"{FILE}: annotations[0].bbox: width and height must not be negative",
        ),
        (
            changed("annotations.0.segmentation", [[1, 2, 3, 4]]),
            f"{FILE}: annotations[0].segmentation[0]: must be a polygon",
        ),
        (
            changed("annotations.0.segmentation", "mask"),
            f"{FILE}: annotations[0].segmentation: must be a list of polygons",
        ),
        (
            changed("annotations.0.keypoints", [1, 2]),
            f"{FILE}: annotations[0].keypoints: must be numbers [x1, y1, v1",
        ),
        (
            changed("annotations.1.score", 1.5),
            f"{FILE}: annotations[1].score: must be a number from 0 to 1, not 1.5",
        ),
        (
            changed("annotations.1.attributes", {"color": None}),
            f"{FILE}: annotations[1].attributes.color[0].value: must be a string, number or",
        ),
        (changed("annotations.1.metadata", [1]), f"{FILE}: annotations[1].metadata: must be an"),
        (changed("annotations.1", 7), f"{FILE}: annotations[1]: must be an object"),
        (
            changed("categories.0.name", ""),
            f"{FILE}: categories[0].name: must be a non-empty string",
        ),
        (changed("categories.0.name", "a\x01b"), f"{FILE}: categories[0].name: 'a\\x01b' contains"),
    ],
)
def test_bad_folders_name_the_file_entry_and_field(tmp_path: Path, data: Any, message: str) -> None:
    write_coco(tmp_path, data)
    with pytest.raises(InvalidDatasetFolderError) as caught:
        read_folder(tmp_path)
    assert str(caught.value).startswith(message)


def test_the_same_file_name_in_two_splits_is_refused(tmp_path: Path) -> None:
    write_coco(tmp_path, valid())
    make_image(tmp_path / "images/validation/a.jpg")
    other = valid()
    other["images"] = other["images"][:1]
    other["annotations"] = other["annotations"][:1]
    write_coco(tmp_path, other, "annotations/instances_validation.json")
    with pytest.raises(InvalidDatasetFolderError) as caught:
        read_folder(tmp_path)
    assert str(caught.value) == (
        "annotations/instances_validation.json: images[0].file_name: another image is named "
        "'a.jpg' (annotations/instances_train.json: images[0].file_name, split 'train'): file "
        "names must be unique across the whole folder"
    )


def test_an_unknown_split_is_refused(tmp_path: Path) -> None:
    write_coco(tmp_path, valid(), "annotations/instances_holdout.json")
    with pytest.raises(
        InvalidDatasetFolderError, match=r"instances_holdout\.json: 'holdout' is not"
    ):
        read_folder(tmp_path)


def test_a_folder_without_coco_json_is_refused(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg")
    with pytest.raises(InvalidDatasetFolderError, match="no COCO annotations: expected"):
        read_folder(tmp_path)


def test_normalized_coordinates_are_refused(tmp_path: Path) -> None:
    write_coco(tmp_path, valid())
    with pytest.raises(InvalidArgumentError, match="COCO coordinates are pixels"):
        read_folder(tmp_path, is_normalized=True)
    assert len(read_folder(tmp_path, is_normalized=False).files) == 2


def test_a_lone_json_with_its_images_and_coco_2017_names(tmp_path: Path) -> None:
    data = valid()
    data["annotations"][0] |= {
        "segmentation": [[1, 2, 4, 2, 3, 6], [10, 10, 30, 10, 30, 30, 10, 30]],
        "score": 0.5,
        "attributes": {"occluded": False},
    }
    data["annotations"][1]["segmentation"] = {"size": [48, 64], "counts": "abc"}
    write_coco(tmp_path / "lone", data, "coco.json")
    shutil.move(tmp_path / "lone/images/train/a.jpg", tmp_path / "lone/a.jpg")
    shutil.move(tmp_path / "lone/images/train/b.jpg", tmp_path / "lone/images/b.jpg")
    imported = read_folder(tmp_path / "lone")
    assert imported.files == {
        "a.jpg": tmp_path / "lone/a.jpg",
        "b.jpg": tmp_path / "lone/images/b.jpg",
    }
    assert imported.document["images"] == [
        {
            "image": "a.jpg",
            "annotations": [
                {
                    "type": "polygon",
                    "polygon": [[10, 10], [30, 10], [30, 30], [10, 30]],
                    "confidence": 0.5,
                    "attributes": {"occluded": [{"value": False}]},
                    "label": "car",
                }
            ],
        },
        {
            "image": "b.jpg",
            "annotations": [{"type": "rectangle", "bbox": [1, 2, 3, 4], "label": "car"}],
        },
    ]

    write_coco(tmp_path / "coco2017", valid(), "annotations/instances_val2017.json")
    shutil.move(tmp_path / "coco2017/images/train", tmp_path / "coco2017/val2017")
    imported = read_folder(tmp_path / "coco2017")
    assert imported.splits == {"a.jpg": "validation", "b.jpg": "validation"}
    assert imported.files["a.jpg"] == tmp_path / "coco2017/val2017/a.jpg"
