"""COCO: a version as `annotations/instances_<split>.json` (+ `images/<split>/`), and back.

Coordinates are pixels; category ids are the lake's stable label ids, so two exports of one
dataset (ground truth and a model's run, say) can be evaluated against each other. Every exported
annotation has a `segmentation` polygon (a box's four corners for rectangles and points), since
mask readers (pycocotools' `annToMask`, torchvision's mask conversion) fail on a missing or empty
one; reading back, a segmentation that is just its box's corners is a rectangle again. Points are
COCO keypoints; lines have no COCO form and are dropped (counted in `dropped`). Attributes are an
`attributes` object (a single plain value as itself, CVAT's way, which FiftyOne reads as custom
attributes; anything richer as the lake's `[{value, confidence, ...}]` list); metadata is a
`metadata` object.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from metalake.errors import InvalidArgumentError, InvalidDatasetFolderError
from metalake.lake.annotations.shapes import MAX_LABEL_LENGTH, ShapeError, parse_shape
from metalake.lake.datasets.records import (
    SPLITS,
    ExportEntry,
    ExportImage,
    ImportedDataset,
    SplitReader,
    VersionSummary,
)
from metalake.lake.metadata import name_problem, value_problem

logger = logging.getLogger(__name__)

DEFAULT_SPLIT = "train"
"""The split of images read from a folder that has none (FiftyOne's layout, a lone JSON)."""
SPLIT_ALIASES = {"val": "validation", "valid": "validation"}
"""Other names of splits in `instances_<split>.json`, after a trailing year is cut (`val2017`)."""
VISIBLE = 2
"""The COCO keypoint visibility written for every point (labelled and visible)."""


def export_entries(
    summary: VersionSummary,
    read_split: SplitReader,
    with_media: bool,
    dropped: Counter[str] | None = None,
) -> Iterator[ExportEntry]:
    """The COCO export of a version, one split at a time, one page of files in memory.

    Each instances file is generated lazily as its chunks are read (two passes over the split:
    images, then annotations); media take a third pass. Annotations COCO cannot hold (lines) are
    counted in `dropped` by type, complete once every entry's chunks have been read.
    """
    for split in summary.splits:
        chunks = _instances_chunks(summary, read_split, split, dropped)
        yield ExportEntry(f"annotations/instances_{split}.json", chunks=chunks)
        if with_media:
            for page in read_split(split, with_annotations=False):
                for image in page:
                    path = f"images/{split}/{image['file']}"
                    yield ExportEntry(path, unique_name=image["unique_name"])


def _instances_chunks(
    summary: VersionSummary, read_split: SplitReader, split: str, dropped: Counter[str] | None
) -> Iterator[bytes]:
    """The bytes of `instances_<split>.json`: info, categories, then images and annotations
    page by page."""
    info = {"description": summary.dataset_name, "version": str(summary.version)}
    categories = [
        {"id": id_, "name": name, "supercategory": ""} for id_, name in summary.categories
    ]
    yield b'{"info":%b,"categories":%b,"images":[' % (orjson.dumps(info), orjson.dumps(categories))
    yield from _joined(_image_pages(read_split(split, with_annotations=False)))
    yield b'],"annotations":['
    label_ids = {name: id_ for id_, name in summary.categories}
    yield from _joined(
        _annotation_pages(read_split(split), label_ids, Counter() if dropped is None else dropped)
    )
    yield b"]}"


def _joined(pages: Iterable[list[dict[str, Any]]]) -> Iterator[bytes]:
    """The objects of every page as the comma-separated items of one JSON array."""
    first = True
    for page in pages:
        if page:
            text = b",".join(orjson.dumps(item) for item in page)
            yield text if first else b"," + text
            first = False


def _image_pages(pages: Iterable[list[ExportImage]]) -> Iterator[list[dict[str, Any]]]:
    """COCO `images` entries, numbered from 1 in the split's order."""
    number = 0
    for page in pages:
        entries = []
        for image in page:
            number += 1
            entries.append(
                {
                    "id": number,
                    "file_name": image["file"],
                    "width": image["width"],
                    "height": image["height"],
                }
            )
        yield entries


def _annotation_pages(
    pages: Iterable[list[ExportImage]], label_ids: dict[str, int], dropped: Counter[str]
) -> Iterator[list[dict[str, Any]]]:
    """COCO `annotations` entries, numbered from 1, their image ids as `_image_pages` gives."""
    image_id = annotation_id = 0
    for page in pages:
        entries = []
        for image in page:
            image_id += 1
            for annotation in image["annotations"]:
                entry = _coco_annotation(annotation)
                if entry is None:
                    dropped[annotation["type"]] += 1
                    continue
                annotation_id += 1
                entry["id"] = annotation_id
                entry["image_id"] = image_id
                entry["category_id"] = label_ids[annotation["label"]]
                entry["iscrowd"] = 0
                if (
                    annotation.get("confidence") is not None
                    or annotation.get("attributes")
                    or annotation.get("metadata")
                ):
                    entry |= _extras(annotation)
                entries.append(entry)
        yield entries


def _coco_annotation(annotation: dict[str, Any]) -> dict[str, Any] | None:
    """The geometry of an upload-format annotation as COCO fields, None for a line."""
    kind = annotation["type"]
    if kind == "rectangle":
        bbox = annotation["bbox"]
        return {"bbox": bbox, "area": bbox[2] * bbox[3], "segmentation": [_box_polygon(bbox)]}
    if kind == "polygon":
        points = annotation["polygon"]
        return {
            "bbox": _bounds(points),
            "area": _polygon_area(points),
            "segmentation": [_flat(points)],
        }
    if kind == "points":
        points = annotation["points"]
        bbox = _bounds(points)
        return {
            "bbox": bbox,
            "area": bbox[2] * bbox[3],
            "segmentation": [_box_polygon(bbox)],
            "keypoints": [value for x, y in points for value in (x, y, VISIBLE)],
            "num_keypoints": len(points),
        }
    return None


def _extras(annotation: dict[str, Any]) -> dict[str, Any]:
    """`score`, `attributes` and `metadata` of an annotation, where it has them."""
    extras: dict[str, Any] = {}
    if annotation.get("confidence") is not None:
        extras["score"] = annotation["confidence"]
    if annotation.get("attributes"):
        extras["attributes"] = {
            name: _plain_value(values) for name, values in annotation["attributes"].items()
        }
    if annotation.get("metadata"):
        extras["metadata"] = annotation["metadata"]
    return extras


def _plain_value(values: list[dict[str, Any]]) -> Any:
    """One attribute as written: its value alone if that is all it has, else the full list."""
    if len(values) == 1 and values[0].keys() == {"value"}:
        return values[0]["value"]
    return values


def _box_polygon(bbox: list[Any]) -> list[Any]:
    """A box's corners as a flat COCO polygon, clockwise from the top left."""
    x, y, w, h = bbox
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def _flat(points: Iterable[Iterable[Any]]) -> list[Any]:
    """Points as one flat COCO polygon `[x1, y1, x2, y2, ...]`."""
    return [value for point in points for value in point]


def _bounds(points: list[list[Any]]) -> list[Any]:
    """The `[x, y, w, h]` box around some points."""
    xs = [point[0] for point in points]
    ys = [point[1] for point in points]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def _polygon_area(points: list[list[Any]]) -> float:
    """The area a polygon encloses (shoelace formula)."""
    twice = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        twice += x1 * y2 - x2 * y1
    return abs(twice) / 2


@dataclass(frozen=True)
class _Source:
    """One COCO JSON of a folder: its split and where its images may be, best first."""

    path: Path
    split: str
    image_dirs: tuple[Path, ...]


def read_folder(folder: Path, is_normalized: bool | None = None) -> ImportedDataset:
    """Read a COCO folder: ours (`annotations/instances_<split>.json`, `images/<split>/`),
    FiftyOne's (`labels.json`, `data/`) or one JSON with its images beside it or in `images/`.

    Raises InvalidDatasetFolderError naming the file, entry and field of the first problem.
    """
    if is_normalized:
        raise InvalidArgumentError(
            "COCO coordinates are pixels: is_normalized=True does not apply to a COCO folder "
            "(leave it unset)"
        )
    files: dict[str, Path] = {}
    splits: dict[str, str] = {}
    where_named: dict[str, str] = {}
    entries = []
    for source in _sources(folder):
        for name, path, where, shapes in _read_source(folder, source):
            if name in files:
                raise InvalidDatasetFolderError(
                    f"{where}: another image is named {name!r} ({where_named[name]}, split "
                    f"{splits[name]!r}): file names must be unique across the whole folder"
                )
            files[name], splits[name], where_named[name] = path, source.split, where
            entries.append({"image": name, "annotations": shapes})
    return ImportedDataset(files=files, document={"images": entries}, splits=splits)


def _sources(folder: Path) -> list[_Source]:
    """The COCO JSON files of a folder, by the first layout it matches."""
    if not folder.is_dir():
        raise InvalidDatasetFolderError(f"{folder}: not a folder")
    instances = sorted((folder / "annotations").glob("instances_*.json"))
    if instances:
        found = []
        for path in instances:
            name = path.stem.removeprefix("instances_")
            dirs = (folder / "images" / name, folder / name, folder / "images", folder)
            found.append(_Source(path, _split(folder, path, name), dirs))
        return sorted(found, key=lambda source: SPLITS.index(source.split))
    if (folder / "labels.json").is_file():
        return [_Source(folder / "labels.json", DEFAULT_SPLIT, (folder / "data",))]
    loose = sorted(folder.glob("*.json"))
    if len(loose) == 1:
        return [_Source(loose[0], DEFAULT_SPLIT, (folder, folder / "images"))]
    raise InvalidDatasetFolderError(
        f"{folder}: no COCO annotations: expected annotations/instances_<split>.json, "
        f"labels.json (FiftyOne's layout) or a single .json file, found {len(loose)} .json files"
    )


def _split(folder: Path, path: Path, name: str) -> str:
    """The split an `instances_<name>.json` holds (`train2017` is train, `val` validation)."""
    split = re.sub(r"\d+$", "", name)
    split = SPLIT_ALIASES.get(split, split)
    if split not in SPLITS:
        raise InvalidDatasetFolderError(
            f"{_relative(folder, path)}: {name!r} is not a split: name the file "
            f"instances_<split>.json with a split of {', '.join(SPLITS)}"
        )
    return split


def _read_source(
    folder: Path, source: _Source
) -> Iterator[tuple[str, Path, str, list[dict[str, Any]]]]:
    """(file name, path, where it is listed, upload-format annotations) of every image."""
    file = _relative(folder, source.path)
    data = _load(source.path, file)
    labels = _categories(data["categories"], file)
    images = _images(data["images"], file, folder, source.image_dirs)
    notes: Counter[str] = Counter()
    annotations = _annotations(data["annotations"], file, images, labels, notes)
    if notes:
        logger.warning("%s: %s", file, ", ".join(f"{n} {what}" for what, n in notes.items()))
    for image_id, (name, path, where) in images.items():
        yield name, path, where, annotations.get(image_id, [])


def _relative(folder: Path, path: Path) -> str:
    """How messages name a file: relative to the folder, `/`-separated."""
    return path.relative_to(folder).as_posix()


def _load(path: Path, file: str) -> dict[str, Any]:
    """The parsed JSON, with its three lists checked to be there."""
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidDatasetFolderError(f"{file}: not valid JSON: {exc}") from None
    if type(data) is not dict:
        raise InvalidDatasetFolderError(f"{file}: must be a JSON object with images, ...")
    for key in ("images", "annotations", "categories"):
        if type(data.get(key)) is not list:
            raise InvalidDatasetFolderError(f"{file}: {key}: must be a list (COCO's {key!r})")
    return data


def _fail(where: str, problem: str) -> InvalidDatasetFolderError:
    """The error for a problem at `where` (`file: entry[index].field`)."""
    return InvalidDatasetFolderError(f"{where}: {problem}")


def _entry(value: Any, where: str) -> dict[str, Any]:
    """An item of one of the lists, which must be an object."""
    if type(value) is not dict:
        raise _fail(where, "must be an object")
    return value


def _entry_id(entry: dict[str, Any], where: str, seen: dict[int, Any]) -> int:
    """An entry's `id`: an integer not seen before in its list."""
    id_ = entry.get("id")
    if type(id_) is not int:
        raise _fail(f"{where}.id", f"must be an integer, not {id_!r}")
    if id_ in seen:
        raise _fail(f"{where}.id", f"{id_} is used twice")
    return id_


def _categories(categories: list[Any], file: str) -> dict[int, str]:
    """Category id -> name, each name a valid lake label."""
    labels: dict[int, str] = {}
    for index, value in enumerate(categories):
        where = f"{file}: categories[{index}]"
        category = _entry(value, where)
        id_ = _entry_id(category, where, labels)
        name = category.get("name")
        if type(name) is not str or not name.strip() or len(name) > MAX_LABEL_LENGTH:
            raise _fail(
                f"{where}.name", f"must be a non-empty string of at most {MAX_LABEL_LENGTH}"
            )
        if problem := name_problem(name):
            raise _fail(f"{where}.name", problem)
        labels[id_] = name
    return labels


def _images(
    images: list[Any], file: str, folder: Path, dirs: tuple[Path, ...]
) -> dict[int, tuple[str, Path, str]]:
    """Image id -> (file name, path on disk, where it is listed)."""
    found: dict[int, tuple[str, Path, str]] = {}
    for index, value in enumerate(images):
        where = f"{file}: images[{index}]"
        image = _entry(value, where)
        id_ = _entry_id(image, where, found)
        file_name = image.get("file_name")
        if type(file_name) is not str or not file_name:
            raise _fail(f"{where}.file_name", f"must be a non-empty string, not {file_name!r}")
        relative = PurePosixPath(file_name)
        if relative.is_absolute() or ".." in relative.parts:
            raise _fail(f"{where}.file_name", f"{file_name!r} must be a path inside the folder")
        path = next((d / relative for d in dirs if (d / relative).is_file()), None)
        if path is None:
            looked = ", ".join(_relative(folder, d) + "/" if d != folder else "." for d in dirs)
            raise _fail(f"{where}.file_name", f"{file_name!r} is in none of {looked}")
        found[id_] = (relative.name, path, f"{where}.file_name")
    return found


def _annotations(
    annotations: list[Any],
    file: str,
    images: dict[int, Any],
    labels: dict[int, str],
    notes: Counter[str],
) -> dict[int, list[dict[str, Any]]]:
    """Image id -> its annotations in the upload format, each checked as an upload would."""
    by_image: dict[int, list[dict[str, Any]]] = {}
    for index, value in enumerate(annotations):
        where = f"{file}: annotations[{index}]"
        annotation = _entry(value, where)
        image_id = annotation.get("image_id")
        if type(image_id) is not int or image_id not in images:
            raise _fail(f"{where}.image_id", f"{image_id!r} is not the id of an image")
        category_id = annotation.get("category_id")
        if type(category_id) is not int or category_id not in labels:
            raise _fail(f"{where}.category_id", f"{category_id!r} is not the id of a category")
        upload = _upload(annotation, where, notes) | {"label": labels[category_id]}
        _check(upload, where)
        by_image.setdefault(image_id, []).append(upload)
    return by_image


COCO_FIELDS = {"polygon": "segmentation", "points": "keypoints", "confidence": "score"}
"""The COCO field an upload-format field came from, to name it in messages."""


def _check(upload: dict[str, Any], where: str) -> None:
    """Check a converted annotation as an upload would, naming the COCO field at fault."""
    try:
        parse_shape(upload, normalized=False)
    except ShapeError as exc:
        head, sep, rest = exc.field.partition(".")
        head = re.sub(r"^(\w+)", lambda m: COCO_FIELDS.get(m.group(1), m.group(1)), head)
        raise _fail(f"{where}.{head}{sep}{rest}", exc.problem) from None
    if problem := value_problem(upload):
        raise _fail(where, problem)


def _upload(annotation: dict[str, Any], where: str, notes: Counter[str]) -> dict[str, Any]:
    """A COCO annotation in the upload format, but for its label."""
    bbox = annotation.get("bbox")
    if type(bbox) is not list or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
        raise _fail(f"{where}.bbox", f"must be 4 numbers [x, y, width, height], not {bbox!r}")
    upload = _geometry(annotation, bbox, where, notes)
    if annotation.get("score") is not None:
        upload["confidence"] = annotation["score"]
    attributes = annotation.get("attributes")
    if type(attributes) is dict:
        attributes = {
            name: values if type(values) is list else [{"value": values}]
            for name, values in attributes.items()
        }
    if attributes is not None:
        upload["attributes"] = attributes
    if annotation.get("metadata") is not None:
        upload["metadata"] = annotation["metadata"]
    return upload


def _geometry(
    annotation: dict[str, Any], bbox: list[Any], where: str, notes: Counter[str]
) -> dict[str, Any]:
    """Points from visible keypoints, else a polygon from the segmentation, else the box."""
    keypoints = annotation.get("keypoints")
    if keypoints is not None:
        points = _visible_points(keypoints, f"{where}.keypoints")
        if points:
            return {"type": "points", "points": points}
    polygon = _polygon(annotation.get("segmentation"), bbox, f"{where}.segmentation", notes)
    if polygon is not None:
        return {"type": "polygon", "polygon": polygon}
    return {"type": "rectangle", "bbox": bbox}


def _visible_points(keypoints: Any, where: str) -> list[list[Any]]:
    """The `[x, y]` of keypoints whose visibility is above 0."""
    if type(keypoints) is not list or len(keypoints) % 3 or not all(map(_is_number, keypoints)):
        raise _fail(where, "must be numbers [x1, y1, v1, x2, y2, v2, ...]")
    triples = zip(keypoints[::3], keypoints[1::3], keypoints[2::3], strict=True)
    return [[x, y] for x, y, visibility in triples if visibility > 0]


def _polygon(
    segmentation: Any, bbox: list[Any], where: str, notes: Counter[str]
) -> list[list[Any]] | None:
    """The polygon of a segmentation, None for none, for RLE (read as its box: decoding masks
    is not this module's job) and for the box's own corners (a rectangle). Of several polygons
    (an object in parts) the largest is kept."""
    if not segmentation:
        return None
    if type(segmentation) is dict:
        notes["RLE segmentations read as their bbox"] += 1
        return None
    if type(segmentation) is not list:
        raise _fail(where, "must be a list of polygons [[x1, y1, x2, y2, ...], ...] or RLE")
    polygons = []
    for index, flat in enumerate(segmentation):
        if type(flat) is not list or len(flat) % 2 or len(flat) < 6:
            raise _fail(f"{where}[{index}]", "must be a polygon [x1, y1, x2, y2, ...] of 3+ points")
        if not all(_is_number(value) for value in flat):
            raise _fail(f"{where}[{index}]", "must be numbers")
        polygons.append([[x, y] for x, y in zip(flat[::2], flat[1::2], strict=True)])
    if len(polygons) > 1:
        notes["segmentations in parts read as their largest part"] += 1
    polygon = max(polygons, key=_polygon_area)
    corners = _box_polygon(bbox)
    if len(polygon) == 4 and {tuple(p) for p in polygon} == set(
        zip(corners[::2], corners[1::2], strict=True)
    ):
        return None
    return polygon


def _is_number(value: Any) -> bool:
    """A finite int or float, not a bool (JSON has no NaN or infinity)."""
    return type(value) in (int, float)
