"""YOLO (Ultralytics layout): `data.yaml`, `images/<split>/<file>` and `labels/<split>/<stem>.txt`
with one line per shape, normalized by the image's size: `class cx cy w h` for a box, `class x1 y1
x2 y2 ...` for a polygon (a segmentation line). Lines and points have no place and are dropped.

Boxes carry no confidence column: Ultralytics' training labels have exactly five columns (it
refuses more) and a training folder is what an export is for. The reader accepts the sixth column
FiftyOne writes with `include_confidence=True`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from metalake.errors import InvalidDatasetFolderError, MediaProbeError
from metalake.lake.datasets.formats.folders import (
    IMAGE_SUFFIXES,
    add_file,
    check_normalized,
    count_dropped,
    number,
    relative,
    stem,
    version_images,
)
from metalake.lake.datasets.records import (
    ExportEntry,
    ExportImage,
    ImportedDataset,
    SplitReader,
    VersionSummary,
)
from metalake.lake.metadata import name_problem
from metalake.media.probe import probe_image

YAML_NAME = "data.yaml"
YAML_NAMES = (YAML_NAME, "dataset.yaml")
"""Where the reader looks for the dataset file: ours (Ultralytics' usual name), then FiftyOne's."""
SPLIT_KEYS = {"train": "train", "validation": "val", "test": "test"}
"""Our split -> its key in data.yaml."""
READ_KEYS = {"train": "train", "val": "validation", "validation": "validation", "test": "test"}
"""data.yaml key -> our split (Ultralytics also reads `validation` as `val`)."""
BOX_FIELDS = ("cx", "cy", "w", "h")
SLACK = 1e-5
"""How far outside 0..1 a coordinate may lie (six-decimal `%f` files round edges by 1e-6)."""
YAML_HEAD = (
    b"# No `path:` key: Ultralytics and FiftyOne then find the split folders next to this file,\n"
    b"# wherever the folder is moved (Ultralytics reads a relative `path` from the working\n"
    b"# directory or its datasets folder, not from here).\n"
)


def data_yaml(summary: VersionSummary) -> bytes:
    """The dataset file: each present split's image folder and the class names, class index =
    position in `summary.categories` (stable for a given categories list)."""
    config: dict[str, Any] = {
        SPLIT_KEYS[split]: f"images/{split}" for split in summary.splits if split in SPLIT_KEYS
    }
    config["names"] = {index: name for index, (_, name) in enumerate(summary.categories)}
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    return YAML_HEAD + text.encode()


def label_lines(
    image: ExportImage, classes: dict[str, int], dropped: Counter[str] | None
) -> Iterator[str]:
    """One line per box or polygon of the image, normalized by its size; lines and points are
    counted in `dropped`."""
    width, height = image["width"], image["height"]
    for annotation in image["annotations"]:
        shape_type = annotation["type"]
        if shape_type not in ("rectangle", "polygon"):
            count_dropped(dropped, shape_type)
            continue
        if not width or not height:
            raise ValueError(f"{image['file']} has annotations but no known size")
        target = classes[annotation["label"]]
        if shape_type == "rectangle":
            x, y, w, h = annotation["bbox"]
            values = ((x + w / 2) / width, (y + h / 2) / height, w / width, h / height)
        else:
            values = tuple(v for px, py in annotation["polygon"] for v in (px / width, py / height))
        yield " ".join((str(target), *(number(value) for value in values)))


def _label_chunks(
    image: ExportImage, classes: dict[str, int], dropped: Counter[str] | None
) -> Iterator[bytes]:
    """The label file, made when the consumer reads it; empty for an image without boxes (so
    that FiftyOne, which skips images with no label file, keeps it as a background image)."""
    lines = list(label_lines(image, classes, dropped))
    yield "".join(line + "\n" for line in lines).encode()


def export_entries(
    summary: VersionSummary,
    read_split: SplitReader,
    with_media: bool,
    dropped: Counter[str] | None = None,
) -> Iterator[ExportEntry]:
    """The folder: data.yaml, then per file its image (if `with_media`) and its label file.
    Shapes YOLO cannot hold are counted in `dropped` as the label files are read."""
    classes = {name: index for index, (_, name) in enumerate(summary.categories)}
    yield ExportEntry(YAML_NAME, chunks=(data_yaml(summary),))
    for image in version_images(summary, read_split):
        split, file = image["split"], image["file"]
        if with_media:
            yield ExportEntry(f"images/{split}/{file}", unique_name=image["unique_name"])
        yield ExportEntry(
            f"labels/{split}/{stem(file)}.txt", chunks=_label_chunks(image, classes, dropped)
        )


def _fault(where: str, problem: str) -> InvalidDatasetFolderError:
    return InvalidDatasetFolderError(f"{where}: {problem}")


def _find_yaml(folder: Path) -> Path:
    for name in YAML_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise _fault(
        str(folder),
        f"no {' or '.join(YAML_NAMES)}: a YOLO folder names its splits and classes there",
    )


def _read_yaml(path: Path, where: str) -> dict[Any, Any]:
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise _fault(where, f"not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise _fault(where, "must be a mapping with train/val/test and names keys")
    return config


def _class_names(config: dict[Any, Any], where: str) -> list[str]:
    """`names` as a list by class index: a list, or a mapping of every index from 0."""
    names = config.get("names")
    if isinstance(names, dict):
        if sorted(names) != list(range(len(names))):
            raise _fault(f"{where}: names", f"keys must be the class indices 0-{len(names) - 1}")
        names = [names[index] for index in range(len(names))]
    if not isinstance(names, list) or not names:
        raise _fault(f"{where}: names", "must be a list or a {index: name} mapping of classes")
    for index, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise _fault(f"{where}: names[{index}]", f"must be a non-empty string, not {name!r}")
        if problem := name_problem(name):
            raise _fault(f"{where}: names[{index}]", problem)
    if "nc" in config and config["nc"] != len(names):
        raise _fault(f"{where}: nc", f"is {config['nc']!r} but names has {len(names)} classes")
    return names


def _split_folders(folder: Path, value: Any, where: str) -> list[Path]:
    """The image folders a split key names, relative to the dataset folder (`path` is ignored:
    it says where the folder was written, and FiftyOne writes it absolute)."""
    values = value if isinstance(value, list) else [value]
    root = folder.resolve()
    found = []
    for item in values:
        if not isinstance(item, str) or not item.strip():
            raise _fault(where, f"must be a folder of images, not {item!r}")
        if item.endswith(".txt"):
            raise _fault(where, f"{item!r}: lists of image paths are not read; name a folder")
        path = (root / item).resolve()
        if not path.is_relative_to(root) or not path.is_dir():
            raise _fault(where, f"{item!r} is not a folder inside the dataset folder")
        found.append(path)
    return found


def _labels_folder(root: Path, image_folder: Path, where: str) -> Path:
    """Ultralytics' rule: an image folder's labels are in the same path with its last `images`
    folder read as `labels` (`images/train` -> `labels/train`, `train/images` -> `train/labels`)."""
    parts = list(image_folder.relative_to(root).parts)
    if "images" not in parts:
        raise _fault(where, f"{relative(root, image_folder)!r} lies in no `images` folder")
    index = len(parts) - 1 - parts[::-1].index("images")
    parts[index] = "labels"
    return root.joinpath(*parts)


def _label_file(root: Path, image: Path) -> Path:
    """The label file of an image: `<labels folder>/<stem>.txt`."""
    return _labels_folder(root, image.parent, relative(root, image)) / f"{image.stem}.txt"


def _fraction(text: str, where: str, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fault(where, f"{field}: {text!r} is not a number") from None
    if not math.isfinite(value) or not -SLACK <= value <= 1 + SLACK:
        raise _fault(where, f"{field}: {text} is outside 0..1 (coordinates are normalized)")
    return min(max(value, 0.0), 1.0)


def _class(text: str, names: list[str], where: str) -> str:
    try:
        target = int(text)
    except ValueError:
        raise _fault(where, f"class: {text!r} is not an integer class index") from None
    if not 0 <= target < len(names):
        raise _fault(where, f"class {target} is not in data.yaml names (0-{len(names) - 1})")
    return names[target]


def _box(values: list[str], where: str, size: tuple[int, int]) -> dict[str, Any]:
    """A `cx cy w h [confidence]` line as a rectangle in pixels, kept inside the image."""
    cx, cy, w, h = (
        _fraction(text, where, f) for text, f in zip(values[:4], BOX_FIELDS, strict=True)
    )
    for start, extent, field in ((cx - w / 2, w, "x"), (cy - h / 2, h, "y")):
        if start < -SLACK or start + extent > 1 + SLACK:
            raise _fault(where, f"the box's {field} extent lies outside 0..1")
    x, y = max(cx - w / 2, 0.0), max(cy - h / 2, 0.0)
    w, h = min(w, 1.0 - x), min(h, 1.0 - y)
    width, height = size
    shape: dict[str, Any] = {
        "type": "rectangle",
        "bbox": [x * width, y * height, w * width, h * height],
    }
    if len(values) == 5:
        shape["confidence"] = _confidence(values[4], where)
    return shape


def _confidence(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fault(where, f"confidence: {text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise _fault(where, f"confidence: {text} is outside 0..1")
    return value


def _polygon(values: list[str], where: str, size: tuple[int, int]) -> dict[str, Any]:
    """An `x1 y1 x2 y2 ...` line as a polygon in pixels."""
    width, height = size
    points = []
    for index in range(0, len(values), 2):
        number_ = index // 2 + 1
        x = _fraction(values[index], where, f"x{number_}")
        y = _fraction(values[index + 1], where, f"y{number_}")
        points.append([x * width, y * height])
    return {"type": "polygon", "polygon": points}


def _shape(text: str, where: str, names: list[str], size: tuple[int, int]) -> dict[str, Any]:
    values = text.split()
    count = len(values)
    if count not in (5, 6) and (count < 7 or count % 2 == 0):
        raise _fault(
            where,
            f"has {count} values: expected `class cx cy w h` (5, or 6 with a confidence) or "
            f"`class x1 y1 x2 y2 x3 y3 ...` (an odd number, 7 or more)",
        )
    label = _class(values[0], names, where)
    shape = _box(values[1:], where, size) if count <= 6 else _polygon(values[1:], where, size)
    shape["label"] = label
    return shape


def _image_size(root: Path, image: Path) -> tuple[int, int]:
    """Width and height as displayed (EXIF orientation applied), as the lake and Ultralytics
    measure them."""
    try:
        facts = probe_image(image)
    except MediaProbeError as exc:
        raise _fault(relative(root, image), str(exc)) from None
    assert facts.width is not None and facts.height is not None
    return facts.width, facts.height


def read_labels(
    root: Path, label_file: Path, image: Path, names: list[str]
) -> list[dict[str, Any]]:
    """The shapes of one label file, in pixels of its image."""
    where = relative(root, label_file)
    try:
        lines = label_file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise _fault(where, "not UTF-8 text") from None
    size: tuple[int, int] | None = None
    shapes = []
    for number_, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        size = size or _image_size(root, image)
        shapes.append(_shape(line, f"{where}: line {number_}", names, size))
    return shapes


def _images(folder: Path) -> Iterable[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def read_folder(folder: Path, is_normalized: bool | None = None) -> ImportedDataset:
    """Read a YOLO folder (ours, FiftyOne's YOLOv5 export, Ultralytics' `images/` + `labels/`
    layouts) as files and one document in pixels. Coordinates are normalized by definition, so
    `is_normalized` may only be left out or True. An image without a label file is background."""
    check_normalized(is_normalized, True, "YOLO")
    root = folder.resolve()
    yaml_path = _find_yaml(root)
    config = _read_yaml(yaml_path, yaml_path.name)
    names = _class_names(config, yaml_path.name)
    keys = [(key, split) for key, split in READ_KEYS.items() if config.get(key)]
    if not keys:
        raise _fault(yaml_path.name, "names no split: give a train, val or test folder")
    files: dict[str, Path] = {}
    splits: dict[str, str] = {}
    images: list[dict[str, Any]] = []
    label_files: set[Path] = set()
    label_folders: set[Path] = set()
    for key, split in keys:
        for image_folder in _split_folders(root, config[key], f"{yaml_path.name}: {key}"):
            label_folders.add(_labels_folder(root, image_folder, f"{yaml_path.name}: {key}"))
            for image in _images(image_folder):
                name = add_file(files, root, image)
                if name in splits:
                    raise _fault(relative(root, image), f"is in split {splits[name]} and {split}")
                splits[name] = split
                label_file = _label_file(root, image)
                shapes = []
                if label_file.is_file():
                    label_files.add(label_file)
                    shapes = read_labels(root, label_file, image, names)
                images.append({"image": name, "annotations": shapes})
    _check_orphans(root, label_folders, label_files)
    return ImportedDataset(files=files, document={"images": images}, splits=splits)


def _check_orphans(root: Path, label_folders: set[Path], label_files: set[Path]) -> None:
    """Refuse a label file whose image is missing: its boxes would be lost without a word."""
    for label_folder in sorted(label_folders):
        if not label_folder.is_dir():
            continue
        for label_file in sorted(label_folder.rglob("*.txt")):
            if label_file not in label_files:
                raise _fault(relative(root, label_file), "a label file with no image beside it")
