"""The fast path of annotation uploads: a typed decode (msgspec) of an annotation file, and checks
of its common shapes without a dict per shape.

It only ever accepts what `parse_document` and `place` accept, with the same shapes as a result:
whatever it is not sure of (an unknown field, a value of another type, any rule broken) makes it
give up (None), and the caller runs the full checker, whose error messages are the only ones.
Uncommon shapes (points, lines, polygons, the deprecated format) go through `parse_shape` here.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from metalake.lake.annotations.shapes import (
    MAX_LABEL_LENGTH,
    TOLERANCE,
    PlacedShape,
    Shape,
    ShapeError,
    _attributes,
    parse_shape,
    place,
)
from metalake.lake.limits import MAX_INTEGER, MIN_INTEGER
from metalake.lake.metadata import MAX_JSON_DEPTH, name_problem, value_problem

SHAPE_DEPTH = 5
"""How deep a shape's field values lie in a document (images, entry, annotations, shape): the
nesting limit of `value_problem` counts from the document."""


class FastShape(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One annotation object of the common form; free-form fields decode as plain JSON."""

    type: str | UnsetType = UNSET
    label: str | UnsetType = UNSET
    bbox: tuple[int | float, int | float, int | float, int | float] | UnsetType = UNSET
    confidence: int | float | None = None
    metadata: Any = UNSET
    attributes: Any = UNSET


class FullShape(FastShape, forbid_unknown_fields=True, gc=False):
    """One annotation object with every field it may carry (points, or a download's extras)."""

    polygon: Any = UNSET
    line: Any = UNSET
    points: Any = UNSET
    operation_id: Any = UNSET
    is_model_run: Any = UNSET
    color: Any = UNSET


FREE_FIELDS = ("polygon", "line", "points", "operation_id", "is_model_run", "color")
"""Fields of a `FullShape` that the checks of a rectangle ignore (a download writes some)."""


class FastEntry(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    image: str
    annotations: list[FastShape]


class FastDocument(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    images: list[FastEntry]


class FullEntry(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    image: str
    annotations: list[FullShape]


class FullDocument(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    images: list[FullEntry]


TypedDocument = FastDocument | FullDocument
_DECODERS = (msgspec.json.Decoder(FastDocument), msgspec.json.Decoder(FullDocument))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a while: a decode makes hundreds of thousands of
    objects (none in cycles), and the collections they would set off cost more than the decode."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


FastEntries = list[tuple[str, list[Any]]]
"""Each entry's image name and its shapes, checked: a rectangle as a PlacedShape in the file's
units (what `place` gives for it before any scaling), any other shape as a `Shape`."""


class Refused(Exception):
    """The fast path is not sure of the input: the full checker decides."""


def decode(data: bytes) -> TypedDocument | None:
    """The document typed, or None if it is not JSON of the fast path's form: the common form
    first (fewest fields to look at), then the one with every field."""
    with _collector_paused():
        for decoder in _DECODERS:
            try:
                return decoder.decode(data)
            except (msgspec.ValidationError, msgspec.DecodeError):
                continue
    return None


def _depth(value: Any) -> int:
    """How many lists and objects nest in a JSON value (0 for a scalar)."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        value, depth = pending.pop()
        if type(value) is dict:
            value = list(value.values())
        elif type(value) is not list:
            continue
        deepest = max(deepest, depth)
        pending.extend((v, depth + 1) for v in value)
    return deepest


def _free(value: Any) -> Any:
    """A free-form field value as the document holds it, if `value_problem` would pass it."""
    if value is None or value is True or value is False:
        return value
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            raise Refused
        return value
    if value_problem(value) is not None or SHAPE_DEPTH + _depth(value) > MAX_JSON_DEPTH:
        raise Refused
    return value


def _shape_dict(shape: FastShape) -> dict[str, Any]:
    """The annotation object as the plain JSON decode gives it."""
    fields = ((name, getattr(shape, name)) for name in shape.__struct_fields__)
    found = {name: value for name, value in fields if value is not UNSET}
    if "bbox" in found:
        found["bbox"] = list(found["bbox"])
    if found.get("confidence", UNSET) is None:
        del found["confidence"]  # absent and null read the same
    return found


def _other_shape(shape: FastShape, normalized: bool, default_type: str | None) -> Shape:
    """A shape the inline checks do not cover, checked by `parse_shape`."""
    obj = _shape_dict(shape)
    for name, value in obj.items():
        if name not in ("type", "label", "confidence"):
            _free(value)
    try:
        return parse_shape(obj, normalized, default_type, default_type is not None)
    except ShapeError:
        raise Refused from None


def check(
    document: TypedDocument, normalized: bool, default_type: str | None = None
) -> FastEntries | None:
    """The document's entries checked as `parse_document` checks them, or None if not sure."""
    free_fields = FREE_FIELDS if isinstance(document, FullDocument) else ()
    try:
        with _collector_paused():
            return _check(document, normalized, default_type, free_fields)
    except Refused:
        return None


def _check(
    document: TypedDocument,
    normalized: bool,
    default_type: str | None,
    free_fields: tuple[str, ...],
) -> FastEntries:
    labels: set[str] = set()
    entries: FastEntries = []
    legacy = default_type is not None
    low, high, low_fraction, high_fraction = MIN_INTEGER, MAX_INTEGER, -TOLERANCE, 1 + TOLERANCE
    for entry in document.images:
        image = entry.image
        if not image or "\x00" in image:
            raise Refused
        shapes: list[Any] = []
        append = shapes.append
        for shape in entry.annotations:
            bbox = shape.bbox
            if legacy or bbox is UNSET or shape.type != "rectangle":
                append(_other_shape(shape, normalized, default_type))
                continue
            x, y, w, h = bbox
            if not (low <= x <= high and low <= y <= high and 0 <= w <= high and 0 <= h <= high):
                raise Refused
            if normalized and not (
                low_fraction <= x <= high_fraction
                and low_fraction <= y <= high_fraction
                and low_fraction <= x + w <= high_fraction
                and low_fraction <= y + h <= high_fraction
            ):
                raise Refused
            label = shape.label
            if label not in labels:
                if (
                    type(label) is not str
                    or not label.strip()
                    or len(label) > MAX_LABEL_LENGTH
                    or name_problem(label)
                ):
                    raise Refused
                labels.add(label)
            confidence = shape.confidence
            if confidence is not None and not 0 <= confidence <= 1:
                raise Refused
            metadata = shape.metadata
            if metadata is UNSET or metadata is None:
                metadata = None
            elif type(metadata) is not dict:
                raise Refused
            elif metadata:
                _free(metadata)
            else:
                metadata = None
            attributes = shape.attributes
            if attributes is UNSET or attributes is None or attributes == {}:
                attributes = None
            else:
                try:
                    attributes = _attributes(attributes)
                except ShapeError:
                    raise Refused from None
                _free(attributes)
            for name in free_fields:
                value = getattr(shape, name)
                if value is not UNSET:
                    _free(value)
            append(("rectangle", label, x, y, w, h, None, confidence, metadata, attributes))
        entries.append((image, shapes))
    return entries


def placed(
    shapes: list[Any], width: int, height: int, normalized: bool
) -> list[PlacedShape] | None:
    """The checked shapes of one entry in pixels of its image, or None if one lies outside it."""
    slack_x, slack_y = TOLERANCE * width, TOLERANCE * height
    low_x, low_y, high_x, high_y = -slack_x, -slack_y, width + slack_x, height + slack_y
    result: list[PlacedShape] = []
    for shape in shapes:
        if type(shape) is not tuple:
            try:
                result.append(place(shape, width, height, normalized))
            except ShapeError:
                return None
            continue
        _, label, x, y, w, h, _, confidence, metadata, attributes = shape
        if normalized:
            x, y, w, h = x * width, y * height, w * width, h * height
            shape = ("rectangle", label, x, y, w, h, None, confidence, metadata, attributes)
        if x < low_x or y < low_y or x + w > high_x or y + h > high_y:
            return None
        result.append(shape)
    return result
