"""YOLO, Pascal VOC and MetaLake JSON exports: written to a folder, read by FiftyOne and by our
readers; folders FiftyOne exported read by ours; bad folders refused with file, entry and field."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from metalake.errors import InvalidArgumentError, InvalidDatasetFolderError
from metalake.lake.annotations.documents import parse_document
from metalake.lake.datasets.formats import metalake_json, voc, yolo
from metalake.lake.datasets.records import VersionSummary
from tests.dataset_exports import (
    HEIGHT,
    WIDTH,
    export_image,
    make_image,
    split_reader,
    write_export,
)
from tests.fiftyone_venv import run_fiftyone

SCRIPTS = Path(__file__).parent / "fiftyone_scripts"
CATEGORIES = ((3, "car"), (7, "person"), (9, "tree"), (11, "lane"), (12, "spot"))
EPS = 1e-6


def shape(kind: str, label: str, geometry: Any, confidence: float | None = None) -> dict[str, Any]:
    """An annotation as the lake gives an export: the upload format plus its operation."""
    key = {"rectangle": "bbox", "points": "points"}.get(kind, "polygon")
    result: dict[str, Any] = {"type": kind, key: geometry, "label": label}
    if confidence is not None:
        result["confidence"] = confidence
    result["metadata"] = {"source": "test"} if confidence else {}
    result["attributes"] = {"pose": [{"value": "standing"}]} if confidence else {}
    result["operation_id"] = "model-1" if confidence else "human"
    result["is_model_run"] = confidence is not None
    return result


IMAGES = [
    export_image(
        "a.jpg",
        "train",
        [
            shape("rectangle", "car", [8, 12, 16, 24]),
            shape("rectangle", "person", [10.25, 3.5, 20.125, 30.75], confidence=0.875),
            shape("polygon", "tree", [[5, 5], [30.5, 6], [20, 40.25]]),
            shape("line", "lane", [[0, 0], [63, 47]]),
        ],
    ),
    export_image(
        "b.png",
        "train",
        [
            shape("polygon", "car", [[1, 1], [10, 1], [10, 10], [1, 10]]),
            shape("points", "spot", [[3, 4]]),
        ],
    ),
    export_image("c.jpg", "validation", [shape("rectangle", "person", [0, 0, 64, 48])]),
    export_image("d.jpg", "test", []),
]
SUMMARY = VersionSummary("cars", 1, ("train", "validation", "test"), CATEGORIES)
DROPPED = Counter({"line": 1, "points": 1})


@pytest.fixture
def media(tmp_path: Path) -> dict[str, Path]:
    return {
        f"lake/{item['file']}": make_image(tmp_path / "lake" / item["file"], shade=40 + 30 * i)
        for i, item in enumerate(IMAGES)
    }


def export(module: Any, folder: Path, media: dict[str, Path], with_media: bool = True) -> Counter:
    dropped: Counter[str] = Counter()
    entries = module.export_entries(SUMMARY, split_reader(IMAGES), with_media, dropped)
    write_export(entries, folder, media)
    return dropped


def bounding_box(annotation: dict[str, Any]) -> list[float]:
    if annotation["type"] == "rectangle":
        return list(annotation["bbox"])
    xs = [p[0] for p in annotation["polygon"]]
    ys = [p[1] for p in annotation["polygon"]]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def assert_close(got: list[float], want: list[float], eps: float = EPS) -> None:
    assert len(got) == len(want), (got, want)
    assert all(abs(g - w) <= eps for g, w in zip(got, want, strict=True)), (got, want)


def geometry(annotation: dict[str, Any]) -> list[float]:
    """Every number of a shape's geometry, flat."""
    if annotation["type"] == "rectangle":
        return list(annotation["bbox"])
    return [v for point in annotation["polygon"] for v in point]


def assert_document(got: dict[str, Any], want: dict[str, list[dict[str, Any]]]) -> None:
    """`got`'s images are `want`'s: same names, and per image the same shapes in order (type,
    label, confidence, geometry to 1e-6)."""
    by_name = {entry["image"]: entry["annotations"] for entry in got["images"]}
    assert sorted(by_name) == sorted(want)
    for name, shapes in want.items():
        found = by_name[name]
        assert [(s["type"], s["label"], s.get("confidence")) for s in found] == [
            (s["type"], s["label"], s.get("confidence")) for s in shapes
        ], name
        for got_shape, want_shape in zip(found, shapes, strict=True):
            assert_close(geometry(got_shape), geometry(want_shape))


def yolo_expected() -> dict[str, list[dict[str, Any]]]:
    """What YOLO keeps: boxes (no confidence column) and polygons."""
    return {
        item["file"]: [
            {k: v for k, v in s.items() if k != "confidence"}
            for s in item["annotations"]
            if s["type"] in ("rectangle", "polygon")
        ]
        for item in IMAGES
    }


def voc_expected() -> dict[str, list[dict[str, Any]]]:
    """What VOC keeps: boxes with their confidence, polygons as their bounding boxes."""
    return {
        item["file"]: [
            {**s, "type": "rectangle", "bbox": bounding_box(s)}
            for s in item["annotations"]
            if s["type"] in ("rectangle", "polygon")
        ]
        for item in IMAGES
    }


def test_yolo_folder_layout(tmp_path: Path, media: dict[str, Path]) -> None:
    folder = tmp_path / "yolo"
    assert export(yolo, folder, media) == DROPPED
    config = (folder / "data.yaml").read_text()
    assert "path:" not in config.replace("`path:`", "")
    assert yaml.safe_load(config) == {
        "train": "images/train",
        "val": "images/validation",
        "test": "images/test",
        "names": {0: "car", 1: "person", 2: "tree", 3: "lane", 4: "spot"},
    }
    assert (folder / "labels/test/d.txt").read_bytes() == b""
    lines = (folder / "labels/train/a.txt").read_text().splitlines()
    assert lines[0] == "0 0.25 0.5 0.25 0.5"
    assert len(lines) == 3 and lines[2].startswith("2 ") and len(lines[2].split()) == 7
    assert sorted(p.name for p in (folder / "images/train").iterdir()) == ["a.jpg", "b.png"]


def test_without_media_no_images(tmp_path: Path, media: dict[str, Path]) -> None:
    for module in (yolo, voc, metalake_json):
        entries = list(module.export_entries(SUMMARY, split_reader(IMAGES), False))
        assert all(entry.unique_name is None for entry in entries), module.__name__


def test_voc_folder_layout(tmp_path: Path, media: dict[str, Path]) -> None:
    folder = tmp_path / "voc"
    assert export(voc, folder, media) == DROPPED
    assert (folder / "ImageSets/Main/train.txt").read_text() == "a\nb\n"
    assert (folder / "ImageSets/Main/val.txt").read_text() == "c\n"
    assert (folder / "ImageSets/Main/test.txt").read_text() == "d\n"
    xml = (folder / "Annotations/a.xml").read_text()
    assert "<filename>a.jpg</filename>" in xml and "<depth>3</depth>" in xml
    assert "<confidence>0.875</confidence>" in xml and "<xmax>30.375</xmax>" in xml
    assert xml.count("<object>") == 3 and "<pose>Unspecified</pose>" in xml


def test_voc_escapes_label_names(tmp_path: Path, media: dict[str, Path]) -> None:
    odd = export_image("e.jpg", "train", [shape("rectangle", 'a<b & "c"', [1, 2, 3, 4])])
    summary = VersionSummary("odd", 1, ("train",), ((1, 'a<b & "c"'),))
    entries = voc.export_entries(summary, split_reader([odd]), False)
    write_export(entries, tmp_path / "voc", media)
    make_image(tmp_path / "voc/JPEGImages/e.jpg")
    read = voc.read_folder(tmp_path / "voc")
    assert read.document["images"][0]["annotations"][0]["label"] == 'a<b & "c"'


def test_yolo_round_trip(tmp_path: Path, media: dict[str, Path]) -> None:
    folder = tmp_path / "yolo"
    export(yolo, folder, media)
    read = yolo.read_folder(folder)
    assert_document(read.document, yolo_expected())
    assert read.splits == {
        "a.jpg": "train",
        "b.png": "train",
        "c.jpg": "validation",
        "d.jpg": "test",
    }
    assert read.files == {
        name: folder.resolve() / "images" / read.splits[name] / name for name in read.splits
    }
    assert parse_document(read.document, "yolo", normalized=False)


def test_yolo_text_keeps_a_pixel_to_1e6_on_10000_px(tmp_path: Path) -> None:
    wide = export_image(
        "w.png", "train", [shape("rectangle", "car", [1234.5678901, 1.23456789, 7.654321, 5.5])]
    )
    wide["width"], wide["height"] = 10000, 10
    summary = VersionSummary("wide", 1, ("train",), ((1, "car"),))
    media = {"lake/w.png": make_image(tmp_path / "w.png", width=10000, height=10)}
    write_export(yolo.export_entries(summary, split_reader([wide]), True), tmp_path / "y", media)
    read = yolo.read_folder(tmp_path / "y")
    assert_close(
        read.document["images"][0]["annotations"][0]["bbox"], wide["annotations"][0]["bbox"]
    )


def test_yolo_reads_rounded_edges_and_roboflow_layout(tmp_path: Path) -> None:
    folder = tmp_path / "rf"
    make_image(folder / "train/images/x.jpg")
    make_image(folder / "valid/images/y.jpg")
    (folder / "train/labels").mkdir(parents=True)
    (folder / "train/labels/x.txt").write_text("0 0.500000 0.500000 1.000001 1.000000 0.25\n")
    (folder / "data.yaml").write_text(
        "train: train/images\nval: valid/images\nnc: 1\nnames: ['car']\n"
    )
    read = yolo.read_folder(folder)
    assert read.splits == {"x.jpg": "train", "y.jpg": "validation"}
    assert read.document["images"] == [
        {
            "image": "x.jpg",
            "annotations": [
                {
                    "type": "rectangle",
                    "bbox": [0.0, 0.0, 64.0, 48.0],
                    "confidence": 0.25,
                    "label": "car",
                }
            ],
        },
        {"image": "y.jpg", "annotations": []},
    ]


def test_voc_round_trip(tmp_path: Path, media: dict[str, Path]) -> None:
    folder = tmp_path / "voc"
    export(voc, folder, media)
    read = voc.read_folder(folder)
    assert_document(read.document, voc_expected())
    assert read.splits == {
        "a.jpg": "train",
        "b.png": "train",
        "c.jpg": "validation",
        "d.jpg": "test",
    }
    assert read.files["b.png"] == folder.resolve() / "JPEGImages" / "b.png"
    assert parse_document(read.document, "voc", normalized=False)


def test_metalake_json_keeps_everything(tmp_path: Path, media: dict[str, Path]) -> None:
    folder = tmp_path / "json"
    assert export(metalake_json, folder, media) == Counter()
    for split in SUMMARY.splits:
        document = orjson.loads((folder / f"{split}.json").read_bytes())
        want = [
            {"image": i["file"], "annotations": i["annotations"]}
            for i in IMAGES
            if i["split"] == split
        ]
        assert document == {"images": want}
        assert len(parse_document(document, f"{split}.json", normalized=False)) == len(want)
    read = metalake_json.read_folder(folder)
    assert read.document == {
        "images": [{"image": i["file"], "annotations": i["annotations"]} for i in IMAGES]
    }
    assert read.files["c.jpg"] == folder.resolve() / "data" / "validation" / "c.jpg"
    assert read.splits["c.jpg"] == "validation"


def test_split_files_are_generated_lazily(media: dict[str, Path]) -> None:
    calls: list[str] = []
    reader = split_reader(IMAGES, page_size=1)

    def counting(split: str, with_annotations: bool = True):
        calls.append(split)
        return reader(split, with_annotations)

    entries = list(voc.export_entries(SUMMARY, counting, False))
    assert calls == ["train", "validation", "test"]
    listing = next(e for e in entries if e.path == "ImageSets/Main/train.txt")
    assert b"".join(listing.chunks or ()) == b"a\nb\n"
    assert calls[-1] == "train"
    calls.clear()
    entries = list(metalake_json.export_entries(SUMMARY, counting, False))
    assert calls == []
    assert orjson.loads(b"".join(entries[0].chunks or ()))["images"][1]["image"] == "b.png"


def test_refuses_is_normalized_against_the_format(tmp_path: Path, media: dict[str, Path]) -> None:
    export(yolo, tmp_path / "yolo", media)
    export(voc, tmp_path / "voc", media)
    assert yolo.read_folder(tmp_path / "yolo", is_normalized=True).files
    assert voc.read_folder(tmp_path / "voc", is_normalized=False).files
    with pytest.raises(InvalidArgumentError, match="does not apply to YOLO"):
        yolo.read_folder(tmp_path / "yolo", is_normalized=False)
    with pytest.raises(InvalidArgumentError, match="does not apply to Pascal VOC"):
        voc.read_folder(tmp_path / "voc", is_normalized=True)


def test_fiftyone_reads_our_exports(tmp_path: Path, media: dict[str, Path]) -> None:
    export(yolo, tmp_path / "yolo", media)
    export(voc, tmp_path / "voc", media)
    read = run_fiftyone(
        SCRIPTS / "read_yolo_voc.py",
        str(tmp_path / "yolo"),
        str(tmp_path / "voc"),
        database=tmp_path / "fo",
    )
    size = [WIDTH, HEIGHT, WIDTH, HEIGHT]
    yolo_want, voc_want = yolo_expected(), voc_expected()
    assert sorted(read["yolo"]) == sorted(yolo_want)
    for name, shapes in yolo_want.items():
        got = read["yolo"][name]
        assert got["split"] == next(i["split"] for i in IMAGES if i["file"] == name)
        assert [(d["label"], d["confidence"]) for d in got["detections"]] == [
            (s["label"], None) for s in shapes
        ]
        for detection, s in zip(got["detections"], shapes, strict=True):
            assert_close(
                detection["box"], [v / d for v, d in zip(bounding_box(s), size, strict=True)]
            )
    assert sorted(read["voc"]) == sorted(voc_want)
    for name, shapes in voc_want.items():
        got = read["voc"][name]["detections"]
        assert [(d["label"], d["confidence"]) for d in got] == [
            (s["label"], s.get("confidence")) for s in shapes
        ]
        for detection, s in zip(got, shapes, strict=True):
            # FiftyOne reads VOC coordinates as int(float(text)): fractions are truncated.
            x, y, w, h = s["bbox"]
            corners = [int(x), int(y), int(x + w), int(y + h)]
            box = [corners[0], corners[1], corners[2] - corners[0], corners[3] - corners[1]]
            assert_close(detection["box"], [v / d for v, d in zip(box, size, strict=True)])


FIFTYONE_BOXES = {
    "f1.jpg": (
        "train",
        [("cat", [0.125, 0.25, 0.25, 0.5], 0.5), ("dog", [0.5, 0.0, 0.5, 0.25], None)],
    ),
    "f2.jpg": ("train", [("dog", [0.0, 0.5, 1.0, 0.5], 0.75)]),
    "f3.png": ("val", [("cat", [0.25, 0.125, 0.5, 0.75], None)]),
}
"""Boxes whose corners are whole pixels of a 64x48 image and exact in six decimals, so FiftyOne's
`%f` (YOLO) and int() (VOC) writers keep them exactly."""


def test_reads_folders_fiftyone_exported(tmp_path: Path) -> None:
    spec = {
        "images": [
            {
                "path": str(make_image(tmp_path / "src" / name, shade=50 + 20 * i)),
                "split": split,
                "boxes": [{"label": n, "box": b, "confidence": c} for n, b, c in boxes],
            }
            for i, (name, (split, boxes)) in enumerate(FIFTYONE_BOXES.items())
        ],
        "yolo": str(tmp_path / "fo_yolo"),
        "voc": str(tmp_path / "fo_voc"),
    }
    counts = run_fiftyone(
        SCRIPTS / "export_yolo_voc.py", json.dumps(spec), database=tmp_path / "fo"
    )
    assert counts == {"f1.jpg": 2, "f2.jpg": 1, "f3.png": 1}
    size = [WIDTH, HEIGHT, WIDTH, HEIGHT]
    for module, keeps_confidence in ((yolo, True), (voc, False)):
        folder = tmp_path / ("fo_yolo" if module is yolo else "fo_voc")
        read = module.read_folder(folder)
        want = {
            name: [
                {
                    "type": "rectangle",
                    "label": n,
                    "bbox": [v * d for v, d in zip(b, size, strict=True)],
                    **({"confidence": c} if c is not None and keeps_confidence else {}),
                }
                for n, b, c in boxes
            ]
            for name, (_, boxes) in FIFTYONE_BOXES.items()
        }
        assert_document(read.document, want)
        assert parse_document(read.document, folder.name, normalized=False)
        if module is yolo:
            assert read.splits == {"f1.jpg": "train", "f2.jpg": "train", "f3.png": "validation"}


def _yolo_label(folder: Path, text: str) -> None:
    (folder / "labels/train/a.txt").write_text(text)


YOLO_FAULTS = [
    (lambda f: _yolo_label(f, "0 0.5 0.5 0.1\n"), "labels/train/a.txt: line 1: has 4 values"),
    (
        lambda f: _yolo_label(f, "0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n"),
        "labels/train/a.txt: line 2: class 7 is not in data.yaml names (0-4)",
    ),
    (lambda f: _yolo_label(f, "car 0.5 0.5 0.1 0.1\n"), "line 1: class: 'car' is not an integer"),
    (
        lambda f: _yolo_label(f, "0 1.5 0.5 0.1 0.1\n"),
        "labels/train/a.txt: line 1: cx: 1.5 is outside 0..1",
    ),
    (
        lambda f: _yolo_label(f, "0 0.5 abc 0.1 0.1\n"),
        "labels/train/a.txt: line 1: cy: 'abc' is not a number",
    ),
    (
        lambda f: _yolo_label(f, "0 0.9 0.5 0.4 0.1\n"),
        "line 1: the box's x extent lies outside 0..1",
    ),
    (
        lambda f: _yolo_label(f, "0 0.5 0.5 0.1 0.1 1.5\n"),
        "line 1: confidence: 1.5 is outside 0..1",
    ),
    (lambda f: _yolo_label(f, "2 0.1 0.1 0.2 0.2 0.3 0.3 0.4\n"), "line 1: has 8 values"),
    (lambda f: _yolo_label(f, "2 0.1 0.1 0.2 0.2 0.3 nan\n"), "line 1: y3: nan is outside 0..1"),
    (
        lambda f: (f / "labels/train/ghost.txt").write_text(""),
        "labels/train/ghost.txt: a label file with no image",
    ),
    (lambda f: (f / "data.yaml").unlink(), "no data.yaml or dataset.yaml"),
    (lambda f: (f / "data.yaml").write_text("names: [a\n"), "data.yaml: not valid YAML"),
    (
        lambda f: (f / "data.yaml").write_text("train: images/train\n"),
        "data.yaml: names: must be a list",
    ),
    (
        lambda f: (f / "data.yaml").write_text("train: images/train\nnames: {0: a, 2: b}\n"),
        "data.yaml: names: keys must be the class indices 0-1",
    ),
    (lambda f: (f / "data.yaml").write_text("names: [a]\n"), "data.yaml: names no split"),
    (
        lambda f: (f / "data.yaml").write_text("train: images/nowhere\nnames: [a]\n"),
        "data.yaml: train: 'images/nowhere' is not a folder",
    ),
    (
        lambda f: (f / "data.yaml").write_text("train: ../..\nnames: [a]\n"),
        "data.yaml: train: '../..' is not a folder inside",
    ),
    (
        lambda f: shutil.copy(f / "images/train/a.jpg", f / "images/validation/a.jpg"),
        "images/validation/a.jpg: file name 'a.jpg' is also images/train/a.jpg",
    ),
]


@pytest.mark.parametrize(("damage", "message"), YOLO_FAULTS)
def test_yolo_refuses_bad_folders(tmp_path: Path, media: dict[str, Path], damage, message) -> None:
    folder = tmp_path / "yolo"
    export(yolo, folder, media)
    damage(folder)
    with pytest.raises(InvalidDatasetFolderError) as caught:
        yolo.read_folder(folder)
    assert message in str(caught.value)


def _voc_xml(folder: Path, objects: str) -> None:
    (folder / "Annotations/a.xml").write_text(
        f"<annotation><filename>a.jpg</filename>{objects}</annotation>"
    )


BOX = "<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox>"
VOC_FAULTS = [
    (
        lambda f: (f / "ImageSets/Main/train.txt").write_text("a\nghost\n"),
        "ImageSets/Main/train.txt: 'ghost' has no Annotations/ghost.xml",
    ),
    (
        lambda f: (f / "Annotations/a.xml").write_text("<annotation><object>"),
        "Annotations/a.xml: not well-formed XML",
    ),
    (
        lambda f: (f / "Annotations/a.xml").write_text("<root/>"),
        "Annotations/a.xml: root element is <root>",
    ),
    (
        lambda f: _voc_xml(f, "<object><name>car</name></object>"),
        "Annotations/a.xml: object[0]: bndbox is missing",
    ),
    (
        lambda f: _voc_xml(
            f,
            f"<object><name>car</name>{BOX}</object><object><name>car</name><bndbox><xmin>1</xmin></bndbox></object>",
        ),
        "Annotations/a.xml: object[1]: bndbox has no ymin",
    ),
    (
        lambda f: _voc_xml(
            f,
            "<object><name>car</name><bndbox><xmin>9</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>",
        ),
        "Annotations/a.xml: object[0]: bndbox.xmax 3 is less than xmin 9",
    ),
    (
        lambda f: _voc_xml(
            f,
            "<object><name>car</name><bndbox><xmin>1</xmin><ymin>x</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>",
        ),
        "Annotations/a.xml: object[0]: bndbox.ymin: 'x' is not a number",
    ),
    (
        lambda f: _voc_xml(f, f"<object>{BOX}</object>"),
        "Annotations/a.xml: object[0]: name is missing",
    ),
    (
        lambda f: _voc_xml(f, f"<object><name>car</name><confidence>2</confidence>{BOX}</object>"),
        "Annotations/a.xml: object[0]: confidence: 2 is outside 0..1",
    ),
    (
        lambda f: (f / "JPEGImages/a.jpg").unlink(),
        "Annotations/a.xml: no image of this name in JPEGImages/",
    ),
    (lambda f: shutil.rmtree(f / "Annotations"), "no Annotations folder"),
    (
        lambda f: (f / "ImageSets/Main/val.txt").write_text("c\na\n"),
        "ImageSets/Main/val.txt: line 2: 'a' is also in ImageSets/Main/train.txt",
    ),
]


@pytest.mark.parametrize(("damage", "message"), VOC_FAULTS)
def test_voc_refuses_bad_folders(tmp_path: Path, media: dict[str, Path], damage, message) -> None:
    folder = tmp_path / "voc"
    export(voc, folder, media)
    damage(folder)
    with pytest.raises(InvalidDatasetFolderError) as caught:
        voc.read_folder(folder)
    assert message in str(caught.value)


METALAKE_JSON_FAULTS = [
    (lambda f: (f / "train.json").write_text("{"), "train.json: not valid JSON"),
    (
        lambda f: (f / "data/train/a.jpg").unlink(),
        "train.json: images[0].image: 'a.jpg' is not a file in data/train/",
    ),
    (
        lambda f: (f / "test.json").write_text(
            '{"images": [{"image": "d.jpg", "annotations": [{"type": "rectangle", "label": "x"}]}]}'
        ),
        "test.json: images[0].annotations[0].bbox",
    ),
    (lambda f: [(f / f"{s}.json").unlink() for s in SUMMARY.splits], "none of train.json"),
]


@pytest.mark.parametrize(("damage", "message"), METALAKE_JSON_FAULTS)
def test_metalake_json_refuses_bad_folders(
    tmp_path: Path, media: dict[str, Path], damage, message
) -> None:
    folder = tmp_path / "json"
    export(metalake_json, folder, media)
    damage(folder)
    with pytest.raises(InvalidDatasetFolderError) as caught:
        metalake_json.read_folder(folder)
    assert message in str(caught.value)
