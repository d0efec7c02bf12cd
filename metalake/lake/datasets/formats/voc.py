"""Pascal VOC: `JPEGImages/<file>`, `Annotations/<stem>.xml` with one `object` per box in pixels,
and `ImageSets/Main/<split>.txt` listing each split's stems (`val.txt` for validation, as VOC
names it). A polygon becomes its bounding box; lines and points have no place and are dropped.

Coordinates are written as they are (0-based pixels, as FiftyOne reads and writes them), an
integer without `.0` and a fraction in full, so a round trip is exact; readers that want integers
(FiftyOne truncates) lose the fraction. A machine box's confidence goes in an object's
`<confidence>`, which FiftyOne's importer reads into the detection's confidence.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from metalake.errors import InvalidDatasetFolderError
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

SET_NAMES = {"train": "train", "validation": "val", "test": "test"}
"""Our split -> its ImageSets/Main file name."""
READ_SETS = {"train": "train", "val": "validation", "validation": "validation", "test": "test"}
"""ImageSets/Main/<name>.txt -> our split; `trainval.txt` is read only when neither train nor val
is there (VOC lists train and val again in it)."""
LAYOUTS = (("Annotations", "JPEGImages"), ("labels", "data"))
"""(xml folder, image folder): VOC's own, then FiftyOne's VOCDetectionDataset export."""
DEPTH = "3"
"""Channels in `size/depth`: the export does not know a file's mode; 3 is what VOC tools expect."""
BOX_FIELDS = ("xmin", "ymin", "xmax", "ymax")


def _bounding_box(annotation: dict[str, Any]) -> tuple[float, float, float, float]:
    """xmin, ymin, xmax, ymax of a rectangle, or of a polygon's points."""
    if annotation["type"] == "rectangle":
        x, y, w, h = annotation["bbox"]
        return x, y, x + w, y + h
    xs = [point[0] for point in annotation["polygon"]]
    ys = [point[1] for point in annotation["polygon"]]
    return min(xs), min(ys), max(xs), max(ys)


def _add(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def _object(parent: ET.Element, annotation: dict[str, Any]) -> None:
    obj = ET.SubElement(parent, "object")
    _add(obj, "name", annotation["label"])
    _add(obj, "pose", "Unspecified")
    _add(obj, "truncated", "0")
    _add(obj, "difficult", "0")
    if annotation.get("confidence") is not None:
        _add(obj, "confidence", number(annotation["confidence"]))
    box = ET.SubElement(obj, "bndbox")
    for field, value in zip(BOX_FIELDS, _bounding_box(annotation), strict=True):
        _add(box, field, number(value))


def annotation_xml(image: ExportImage, dropped: Counter[str] | None) -> bytes:
    """One image's annotation file; lines and points are counted in `dropped`."""
    root = ET.Element("annotation")
    _add(root, "folder", "JPEGImages")
    _add(root, "filename", image["file"])
    size = ET.SubElement(root, "size")
    _add(size, "width", str(image["width"] or ""))
    _add(size, "height", str(image["height"] or ""))
    _add(size, "depth", DEPTH)
    _add(root, "segmented", "0")
    for annotation in image["annotations"]:
        if annotation["type"] in ("rectangle", "polygon"):
            _object(root, annotation)
        else:
            count_dropped(dropped, annotation["type"])
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _xml_chunks(image: ExportImage, dropped: Counter[str] | None) -> Iterator[bytes]:
    """The annotation file, made when the consumer reads it."""
    yield annotation_xml(image, dropped)


def _set_chunks(split: str, read_split: SplitReader) -> Iterator[bytes]:
    """A split's ImageSets listing, a page of stems at a time (a second pass over the split)."""
    for page in read_split(split, with_annotations=False):
        yield "".join(f"{stem(image['file'])}\n" for image in page).encode()


def export_entries(
    summary: VersionSummary,
    read_split: SplitReader,
    with_media: bool,
    dropped: Counter[str] | None = None,
) -> Iterator[ExportEntry]:
    """The folder: per file its image (if `with_media`) and its xml, then each split's listing.
    Shapes VOC cannot hold are counted in `dropped` as the xml files are read."""
    for image in version_images(summary, read_split):
        file = image["file"]
        if with_media:
            yield ExportEntry(f"JPEGImages/{file}", unique_name=image["unique_name"])
        yield ExportEntry(f"Annotations/{stem(file)}.xml", chunks=_xml_chunks(image, dropped))
    for split in summary.splits:
        yield ExportEntry(
            f"ImageSets/Main/{SET_NAMES[split]}.txt", chunks=_set_chunks(split, read_split)
        )


def _fault(where: str, problem: str) -> InvalidDatasetFolderError:
    return InvalidDatasetFolderError(f"{where}: {problem}")


def _layout(root: Path) -> tuple[Path, Path]:
    for xml_name, image_name in LAYOUTS:
        if (root / xml_name).is_dir():
            return root / xml_name, root / image_name
    raise _fault(
        str(root), "no Annotations folder (VOC) or labels folder (FiftyOne's VOC export) in it"
    )


def _split_sets(root: Path) -> dict[str, tuple[str, str]]:
    """Stem -> (split, the listing naming it) from ImageSets/Main (empty when there is none)."""
    main = root / "ImageSets" / "Main"
    names = [name for name in READ_SETS if (main / f"{name}.txt").is_file()]
    if not names and (main / "trainval.txt").is_file():
        names = ["trainval"]
    sets: dict[str, tuple[str, str]] = {}
    for name in names:
        split = READ_SETS.get(name, "train")
        listing = relative(root, main / f"{name}.txt")
        try:
            lines = (main / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise _fault(listing, "not UTF-8 text") from None
        for number_, line in enumerate(lines, start=1):
            key = line.strip()
            if key and sets.setdefault(key, (split, listing))[0] != split:
                raise _fault(f"{listing}: line {number_}", f"{key!r} is also in {sets[key][1]}")
    return sets


def _parse(root: Path, xml_file: Path) -> ET.Element:
    try:
        # Expat (2.4 and later) refuses entity expansion bombs, so a hostile file cannot blow up.
        tree = ET.parse(xml_file)
    except ET.ParseError as exc:
        raise _fault(relative(root, xml_file), f"not well-formed XML: {exc}") from None
    element = tree.getroot()
    if element.tag != "annotation":
        raise _fault(relative(root, xml_file), f"root element is <{element.tag}>, not <annotation>")
    return element


def _coordinate(box: ET.Element, field: str, where: str) -> float:
    text = box.findtext(field)
    if text is None:
        raise _fault(where, f"bndbox has no {field}")
    try:
        value = float(text)
    except ValueError:
        raise _fault(where, f"bndbox.{field}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise _fault(where, f"bndbox.{field}: {text.strip()!r} is not a number")
    return value


def _confidence(obj: ET.Element, where: str) -> float | None:
    text = obj.findtext("confidence")
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise _fault(where, f"confidence: {text.strip()!r} is not a number") from None
    if not 0 <= value <= 1:
        raise _fault(where, f"confidence: {text.strip()} is outside 0..1")
    return value


def _shape(obj: ET.Element, where: str) -> dict[str, Any]:
    """One `object` as a rectangle in pixels."""
    name = (obj.findtext("name") or "").strip()
    if not name:
        raise _fault(where, "name is missing or empty")
    if problem := name_problem(name):
        raise _fault(where, f"name {problem}")
    box = obj.find("bndbox")
    if box is None:
        raise _fault(where, "bndbox is missing")
    xmin, ymin, xmax, ymax = (_coordinate(box, field, where) for field in BOX_FIELDS)
    if xmax < xmin:
        raise _fault(where, f"bndbox.xmax {number(xmax)} is less than xmin {number(xmin)}")
    if ymax < ymin:
        raise _fault(where, f"bndbox.ymax {number(ymax)} is less than ymin {number(ymin)}")
    shape: dict[str, Any] = {
        "type": "rectangle",
        "bbox": [xmin, ymin, xmax - xmin, ymax - ymin],
        "label": name,
    }
    confidence = _confidence(obj, where)
    if confidence is not None:
        shape["confidence"] = confidence
    return shape


def read_annotation(root: Path, xml_file: Path) -> tuple[str | None, list[dict[str, Any]]]:
    """The image file name an xml gives (None if none) and its objects as rectangles."""
    element = _parse(root, xml_file)
    where = relative(root, xml_file)
    shapes = [
        _shape(obj, f"{where}: object[{index}]")
        for index, obj in enumerate(element.findall("object"))
    ]
    filename = (element.findtext("filename") or "").strip()
    return filename or None, shapes


def _image_for(root: Path, image_folder: Path, key: str, filename: str | None, where: str) -> Path:
    """The image an xml is for: its `filename` if that file exists, else the one image of its
    stem."""
    if filename and (image_folder / Path(filename).name).is_file():
        return image_folder / Path(filename).name
    found = [
        p for p in image_folder.glob(f"{_glob_escape(key)}.*") if p.suffix.lower() in IMAGE_SUFFIXES
    ]
    if len(found) != 1:
        folder = relative(root, image_folder)
        problem = "no image" if not found else f"{len(found)} images"
        raise _fault(where, f"{problem} of this name in {folder}/ (filename {filename!r})")
    return found[0]


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def read_folder(folder: Path, is_normalized: bool | None = None) -> ImportedDataset:
    """Read a Pascal VOC folder (VOC's layout, or FiftyOne's `labels/` + `data/` export) as files
    and one document in pixels. Coordinates are pixels by definition, so `is_normalized` may
    only be left out or False. Splits come from ImageSets/Main, else every file is `train`;
    with ImageSets the files it lists are the dataset, without it every xml (an image with no
    xml is not read, as FiftyOne does)."""
    check_normalized(is_normalized, False, "Pascal VOC")
    root = folder.resolve()
    xml_folder, image_folder = _layout(root)
    sets = _split_sets(root)
    xml_files = {p.stem: p for p in sorted(xml_folder.glob("*.xml"))}
    keys = list(sets) if sets else list(xml_files)
    files: dict[str, Path] = {}
    images = []
    splits = {}
    for key in keys:
        split, listing = sets.get(key, ("train", ""))
        if key not in xml_files:
            raise _fault(listing, f"{key!r} has no {relative(root, xml_folder)}/{key}.xml")
        where = relative(root, xml_files[key])
        filename, shapes = read_annotation(root, xml_files[key])
        name = add_file(files, root, _image_for(root, image_folder, key, filename, where))
        splits[name] = split
        images.append({"image": name, "annotations": shapes})
    return ImportedDataset(files=files, document={"images": images}, splits=splits)
