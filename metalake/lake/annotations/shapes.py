"""One annotation: its fields checked, its geometry placed in pixels, and its upload-format dict.

Shapes are plain tuples so that tens of thousands of them parse, travel in a job payload and load
again quickly. A `Shape` holds the geometry as given: `[x, y, w, h]` (top-left origin) for a
rectangle and `[[x, y], ...]` for the other types. A `PlacedShape` is in pixels of its image, with
its bounding box as four numbers (what queries and the rectangle use) and the points of the others.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from metalake.lake.metadata import name_problem

SHAPE_TYPES = ("rectangle", "polygon", "line", "points")
MIN_POINTS = {"polygon": 3, "line": 2, "points": 1}
POINT_KEYS = {
    "polygon": ("polygon", "points"),
    "line": ("line", "polygon", "points"),
    "points": ("points", "polygon"),
}
"""Where each point type's coordinates may stand: the seeds write lines under `polygon`."""
OUTPUT_POINT_KEY = {"polygon": "polygon", "line": "polygon", "points": "points"}
MAX_LABEL_LENGTH = 255
TOLERANCE = 1e-6
"""Relative slack of the bounds checks, for coordinates that went through a float conversion."""


class ShapeError(ValueError):
    """A problem with one field of one annotation; the caller adds where the annotation is."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def shape_name(image: str, shape_type: Any, label: Any) -> str:
    """How an error names one shape to its user, who may not know its index (a LayerNext batch
    is a slice of their file): its image, type and label, e.g. `image 'a.jpg', line 'lane'`."""
    kind = shape_type if shape_type in SHAPE_TYPES else "shape"
    named = f" {label[:MAX_LABEL_LENGTH]!r}" if isinstance(label, str) and label.strip() else ""
    return f"image {image!r}, {kind}{named}"


class Shape(NamedTuple):
    type: str
    label: str
    geometry: list[Any]
    confidence: float | None
    metadata: dict[str, Any] | None
    attributes: dict[str, list[dict[str, Any]]] | None


PlacedShape = tuple[Any, ...]
"""`(type, label, x, y, w, h, points, confidence, metadata, attributes)`: a plain tuple (tens of
thousands are made per upload); `x, y, w, h` is the bounding box, `points` None for a rectangle."""


def _number(value: Any) -> bool:
    """A finite int or float (not a bool, not a numeric string)."""
    kind = type(value)
    if kind is float:
        return value - value == 0.0  # False for inf and nan
    return kind is int


def _fraction(value: float) -> bool:
    return -TOLERANCE <= value <= 1 + TOLERANCE


def _confidence(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if not _number(value) or not 0 <= value <= 1:
        raise ShapeError(field, f"must be a number from 0 to 1, not {value!r}")
    return value


def _rectangle(obj: dict[str, Any], normalized: bool) -> list[Any]:
    bbox = obj.get("bbox")
    if type(bbox) is not list or len(bbox) != 4:
        raise ShapeError("bbox", f"must be 4 numbers [x, y, width, height], not {bbox!r}")
    x, y, w, h = bbox
    if not (_number(x) and _number(y) and _number(w) and _number(h)):
        raise ShapeError("bbox", f"must be 4 numbers [x, y, width, height], not {bbox!r}")
    if w < 0 or h < 0:
        raise ShapeError("bbox", f"width and height must not be negative: {bbox!r}")
    if normalized and not (_fraction(x) and _fraction(y) and _fraction(x + w) and _fraction(y + h)):
        raise ShapeError("bbox", f"is_normalized is True but {bbox!r} is not within 0..1")
    return bbox


def _points(obj: dict[str, Any], shape_type: str, normalized: bool) -> list[Any]:
    key = next((k for k in POINT_KEYS[shape_type] if k in obj), POINT_KEYS[shape_type][0])
    points = obj.get(key)
    least = MIN_POINTS[shape_type]
    if type(points) is not list or len(points) < least:
        raise ShapeError(key, f"a {shape_type} needs a list of at least {least} [x, y] points")
    for index, point in enumerate(points):
        if (
            type(point) is not list
            or len(point) != 2
            or not (_number(point[0]) and _number(point[1]))
        ):
            raise ShapeError(f"{key}[{index}]", f"must be two numbers [x, y], not {point!r}")
        if normalized and not (_fraction(point[0]) and _fraction(point[1])):
            raise ShapeError(
                f"{key}[{index}]", f"is_normalized is True but {point!r} is not within 0..1"
            )
    return points


def _attributes(value: Any) -> dict[str, list[dict[str, Any]]] | None:
    if value is None or value == {}:
        return None
    if type(value) is not dict:
        raise ShapeError("attributes", "must be an object of name: [{value, confidence}, ...]")
    for name, values in value.items():
        if not name:
            raise ShapeError("attributes", "attribute names must be non-empty")
        if problem := name_problem(name):
            raise ShapeError("attributes", f"attribute name {problem}")
        if type(values) is not list:
            raise ShapeError(f"attributes.{name}", "must be a list of {value, confidence} objects")
        for index, entry in enumerate(values):
            field = f"attributes.{name}[{index}]"
            if type(entry) is not dict or "value" not in entry:
                raise ShapeError(field, 'must be an object with a "value"')
            if type(entry["value"]) not in (str, int, float, bool):
                raise ShapeError(f"{field}.value", "must be a string, number or boolean")
            _confidence(entry.get("confidence"), f"{field}.confidence")
            if type(entry.get("metadata", {})) is not dict:
                raise ShapeError(f"{field}.metadata", "must be an object")
    return value


def _legacy_attributes(metadata: dict[str, Any]) -> dict[str, list[dict[str, Any]]] | None:
    """The deprecated format's `metadata` ({attribute: value}) as attributes."""
    for name, value in metadata.items():
        if type(value) not in (str, int, float, bool):
            raise ShapeError(f"metadata.{name}", "must be a string, number or boolean")
    return {name: [{"value": value}] for name, value in metadata.items()} or None


def parse_shape(
    obj: Any, normalized: bool, default_type: str | None = None, legacy: bool = False
) -> Shape:
    """Check one annotation object of an upload file; raise ShapeError naming the field.

    `legacy` reads the deprecated format (`upload_annoations_for_folder`): a missing `type` is
    `default_type`, and `metadata` holds attribute values.
    """
    if type(obj) is not dict:
        raise ShapeError("annotation", "must be an object")
    shape_type = obj.get("type", default_type)
    if shape_type not in SHAPE_TYPES:
        raise ShapeError("type", f"must be one of {', '.join(SHAPE_TYPES)}, not {shape_type!r}")
    if shape_type == "rectangle":
        geometry = _rectangle(obj, normalized)
    else:
        geometry = _points(obj, shape_type, normalized)
    label = obj.get("label")
    if type(label) is not str or not label.strip() or len(label) > MAX_LABEL_LENGTH:
        raise ShapeError("label", f"must be a non-empty string of at most {MAX_LABEL_LENGTH}")
    if problem := name_problem(label):
        raise ShapeError("label", problem)
    metadata = obj.get("metadata")
    if metadata is not None and type(metadata) is not dict:
        raise ShapeError("metadata", "must be an object")
    attributes = _attributes(obj.get("attributes"))
    if legacy and metadata:
        attributes = {**(_legacy_attributes(metadata) or {}), **(attributes or {})}
        metadata = None
    return Shape(
        shape_type,
        label,
        geometry,
        _confidence(obj.get("confidence"), "confidence"),
        metadata or None,
        attributes,
    )


def place(shape: Shape, width: int, height: int, normalized: bool) -> PlacedShape:
    """The shape in pixels of a `width` x `height` image; ShapeError if it lies outside it."""
    slack_x, slack_y = TOLERANCE * width, TOLERANCE * height
    if shape.type == "rectangle":
        x, y, w, h = shape.geometry
        if normalized:
            x, y, w, h = x * width, y * height, w * width, h * height
        if x < -slack_x or y < -slack_y or x + w > width + slack_x or y + h > height + slack_y:
            raise ShapeError("bbox", f"{shape.geometry!r} lies outside the {width}x{height} image")
        return ("rectangle", shape.label, x, y, w, h, None, *shape[3:])
    points = shape.geometry
    if normalized:
        points = [[px * width, py * height] for px, py in points]
    for index, (px, py) in enumerate(points):
        if not (-slack_x <= px <= width + slack_x and -slack_y <= py <= height + slack_y):
            raise ShapeError(
                f"{OUTPUT_POINT_KEY[shape.type]}[{index}]",
                f"{shape.geometry[index]!r} lies outside the {width}x{height} image",
            )
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    left, top = min(xs), min(ys)
    return (shape.type, shape.label, left, top, max(xs) - left, max(ys) - top, points, *shape[3:])


def shape_dict(
    kind: str,
    label: str,
    x: float,
    y: float,
    w: float,
    h: float,
    points: list[Any] | None,
    confidence: float | None,
    metadata: dict[str, Any] | None,
    attributes: dict[str, Any] | None,
) -> dict[str, Any]:
    """The annotation in the upload format (what a download writes and re-upload reads), from
    the fields of a `PlacedShape` (as a database row holds them)."""
    if points is None:
        result: dict[str, Any] = {"type": kind, "bbox": [x, y, w, h], "label": label}
    else:
        result = {"type": kind, OUTPUT_POINT_KEY[kind]: points, "label": label}
    if confidence is not None:
        result["confidence"] = confidence
    result["metadata"] = metadata or {}
    result["attributes"] = attributes or {}
    return result
