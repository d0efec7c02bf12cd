"""LayerNext wire forms to and from ours: numeric codes, filter and sort objects, annotations.

Pure translations with no rules of their own: what an annotation, a filter or a sort order
means is decided by the lake once the values are in our form.
"""

from __future__ import annotations

from typing import Any

import orjson

from metalake.errors import InvalidArgumentError
from metalake.lake.annotations.shapes import SHAPE_TYPES
from metalake.lake.annotations.store import label_color
from metalake.lake.content_types import LEGACY_CODES, from_legacy_code

FILE_CODES = {2: "image", 1: "video", 6: "other"}
"""ObjectType codes of files; collection codes are `LEGACY_CODES` (5 image, 4 video, 7 other)."""
COLLECTION_CODES = {content_type: code for code, content_type in LEGACY_CODES.items()}
DATASET_CODE = 3
ANNOTATION_TYPE_CODES = {0: "raw", 1: "machine", 2: "human"}
SORT_FIELD_CODES = {1: "date_modified", 2: "date_created", 3: "name", 4: "size", 6: "video_index"}
JOB_STATUS_CODES = {"running": 1, "completed": 2, "queued": 3, "failed": 4}
MACHINE_MODE = 2
DEFAULT_BUCKETS = (None, "", "DEFAULT")


def flag(value: str | bool | None) -> bool:
    """A boolean from a query string, where the client writes Python's `True` / `False`."""
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def content_type_of(code: Any) -> str:
    """The content type of a file or collection ObjectType code (a dataset counts as images)."""
    if type(code) is int and code in FILE_CODES:
        return FILE_CODES[code]
    if type(code) is int and code == DATASET_CODE:
        return "image"
    return from_legacy_code(code if type(code) is int else None)


def bucket_of(name: Any) -> str | None:
    """Our bucket name: the client writes the default bucket as null, "" or "DEFAULT"."""
    if name in DEFAULT_BUCKETS:
        return None
    if not isinstance(name, str):
        raise InvalidArgumentError(f"bucketName must be a string, not {name!r}")
    return name


def item_filter(filter_data: Any) -> dict[str, Any]:
    """Our filter object from `filterData` (`tags`, `labels`, `metadata` are always empty)."""
    if not filter_data:
        return {}
    if not isinstance(filter_data, dict):
        raise InvalidArgumentError("filterData must be an object")
    result: dict[str, Any] = {}
    codes = filter_data.get("annotationTypes") or []
    try:
        types = [ANNOTATION_TYPE_CODES[code] for code in codes]
    except (KeyError, TypeError):
        raise InvalidArgumentError(
            f"filterData.annotationTypes must list 0 (raw), 1 (machine), 2 (human), not {codes!r}"
        ) from None
    if types:
        result["annotation_types"] = types
    dates = filter_data.get("date") or {}
    if not isinstance(dates, dict):
        raise InvalidArgumentError("filterData.date must be an object of fromDate and toDate")
    for wire, ours in (("fromDate", "from_date"), ("toDate", "to_date")):
        if dates.get(wire):
            result[ours] = dates[wire]
    return result


def sort_order(sort_by: Any) -> dict[str, str] | None:
    """Our sort object from `sortBy` (`{}` keeps the default order), or None for the default."""
    if not sort_by:
        return None
    if not isinstance(sort_by, dict):
        raise InvalidArgumentError("sortBy must be an object of sortByField and sortOrder")
    field = sort_by.get("sortByField", 1)
    if type(field) is not int or field not in SORT_FIELD_CODES:
        raise InvalidArgumentError(f"sortBy.sortByField {field!r} is not one of 1, 2, 3, 4, 6")
    return {
        "sort_by_field": SORT_FIELD_CODES[field],
        "sort_order": sort_by.get("sortOrder", "DESC"),
    }


def label_references(labels: dict[str, Any]) -> dict[str, Any]:
    """References for every label, attribute and value asked: each one's text is its reference,
    so annotations sent with them translate back without a lookup."""
    for label, attributes in labels.items():
        if attributes and (
            not isinstance(attributes, dict)
            or not all(
                isinstance(values, list) and all(isinstance(v, str) for v in values)
                for values in attributes.values()
            )
        ):
            raise InvalidArgumentError(
                f"labels.{label} must be an object of attribute: [value texts], not {attributes!r}"
            )
    return {
        label: {
            "ref": label,
            "color": label_color(label),
            "texts": {
                name: {"ref": name, "texts": {value: value for value in values}}
                for name, values in (attributes or {}).items()
            },
        }
        for label, attributes in labels.items()
    }


def metadata_updates(text: Any) -> list[dict[str, Any]]:
    """The entries of `metaUpdatesArray`, a JSON text inside the JSON body."""
    try:
        entries = orjson.loads(text) if isinstance(text, str | bytes) else text
    except orjson.JSONDecodeError as exc:
        raise InvalidArgumentError(f"metaUpdatesArray is not JSON: {exc}") from exc
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidArgumentError("metaUpdatesArray must be a list of objects")
    return entries


def annotation(obj: dict[str, Any]) -> dict[str, Any]:
    """One annotation object as the client transforms it, in our upload format."""
    if not isinstance(obj, dict):
        raise InvalidArgumentError("an annotation object must be an object")
    kind = obj.get("type")
    label = obj.get("label") or {}
    if not isinstance(label, dict):
        raise InvalidArgumentError(f"an annotation's label must be an object, not {label!r}")
    result: dict[str, Any] = {"type": kind, "label": label.get("labelText") or label.get("label")}
    box = obj.get("boxBoundariesAndDimensions")
    if kind == "rectangle" and isinstance(box, dict):
        result["bbox"] = [box.get("x"), box.get("y"), box.get("w"), box.get("h")]
    elif kind == "rectangle":
        result["bbox"] = _box_of(obj.get("points"))
    elif kind in SHAPE_TYPES:
        result[kind] = obj.get("points")
    if "confidence" in obj:
        result["confidence"] = obj["confidence"]
    if obj.get("metadata"):
        result["metadata"] = obj["metadata"]
    attributes = label.get("attributeValues")
    if attributes:
        result["attributes"] = attributes
    return result


def _box_of(points: Any) -> list[Any] | None:
    try:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    except (TypeError, IndexError, KeyError, ValueError):
        return None


def raw_annotation(ours: dict[str, Any]) -> dict[str, Any]:
    """One of our stored annotations as the client's upload format reads it back (lines under
    `line`, which is where layernext 2.3.4 looks for them)."""
    if ours["type"] == "line" and "polygon" in ours:
        ours = {("line" if key == "polygon" else key): value for key, value in ours.items()}
    return ours
