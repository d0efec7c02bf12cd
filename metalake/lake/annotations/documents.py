"""Annotation files: `{"images": [{"image": name, "annotations": [...]}, ...]}`, checked whole.

Every entry is checked before anything is written; the first problem is reported with the file,
the entry index and the field, and the image, type and label of a faulty shape, e.g.
`labels.json: images[3].annotations[0].bbox: ... (image 'a.jpg', rectangle 'car')`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from metalake.errors import InvalidAnnotationFileError, InvalidArgumentError
from metalake.lake.annotations import fast
from metalake.lake.annotations.shapes import (
    SHAPE_TYPES,
    Shape,
    ShapeError,
    parse_shape,
    shape_name,
)
from metalake.lake.metadata import parse_json, value_problem

MAX_OPERATION_ID_LENGTH = 255


@dataclass(frozen=True)
class ImageAnnotations:
    """The annotations a file gives one image (named by file name, storage path, ...)."""

    image: str
    shapes: list[Shape]


def check_operation_id(operation_id: Any) -> str:
    if (
        not isinstance(operation_id, str)
        or not operation_id.strip()
        or len(operation_id) > MAX_OPERATION_ID_LENGTH
        or "\x00" in operation_id
    ):
        raise InvalidArgumentError(
            f"operation_unique_id must be a non-empty string of at most "
            f"{MAX_OPERATION_ID_LENGTH} characters, not {operation_id!r}"
        )
    return operation_id


def _check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be True or False, not {value!r}")
    return value


def parse_document(
    document: Any, source: str, normalized: bool, default_type: str | None = None
) -> list[ImageAnnotations]:
    """Check a whole annotation document; raise InvalidAnnotationFileError at the first fault.

    A `default_type` marks the deprecated format (see `parse_shape`).
    """
    legacy = default_type is not None
    if type(document) is not dict or type(document.get("images")) is not list:
        raise InvalidAnnotationFileError(
            f'{source}: expected an object with an "images" list, like {{"images": [{{"image": '
            f'"a.jpg", "annotations": [{{"type": "rectangle", "bbox": [10, 20, 30, 40], '
            f'"label": "car"}}]}}]}}'
        )
    entries = []
    for index, entry in enumerate(document["images"]):
        where = f"{source}: images[{index}]"
        if type(entry) is not dict:
            raise InvalidAnnotationFileError(f"{where} must be an object")
        image = entry.get("image")
        if type(image) is not str or not image:
            raise InvalidAnnotationFileError(f"{where}.image must be a non-empty string")
        objects = entry.get("annotations")
        if type(objects) is not list:
            raise InvalidAnnotationFileError(f"{where}.annotations must be a list")
        shapes = []
        for number, obj in enumerate(objects):
            try:
                shapes.append(parse_shape(obj, normalized, default_type, legacy))
            except ShapeError as exc:
                fields = obj if type(obj) is dict else {}
                named = shape_name(image, fields.get("type", default_type), fields.get("label"))
                raise InvalidAnnotationFileError(
                    f"{where}.annotations[{number}].{exc.field}: {exc.problem} ({named})"
                ) from None
        entries.append(ImageAnnotations(image, shapes))
    # Metadata, attributes and whatever the checks above ignore are kept as given.
    problem = value_problem(document)
    if problem:
        raise InvalidAnnotationFileError(f"{source}: {problem}")
    return entries


@dataclass(frozen=True)
class AnnotationFile:
    """An annotation document as a caller gave it, and how to read it.

    `shape_type` is the type of annotations that have none (the deprecated upload form);
    `source` names the document in error messages (its path, on the caller's machine).
    A file read by `from_bytes` in the fast path's form has no `document` but its `typed`
    decode and its `text`, which `json_document` parses only if something asks for it.
    """

    document: Any
    operation_id: str
    is_model_run: bool
    is_normalized: bool
    shape_type: str | None = None
    source: str = "annotation file"
    text: bytes | None = field(default=None, repr=False, compare=False)
    typed: fast.TypedDocument | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        operation_id: str,
        is_model_run: bool,
        is_normalized: bool,
        shape_type: str | None,
        path: str | Path,
    ) -> AnnotationFile:
        """A file's bytes, decoded by the fast path if they are in its form, else parsed as
        JSON (with the error of `read_json_file` if they are not JSON)."""
        typed = fast.decode(data)
        if typed is None:
            document = parse_json(data, path, InvalidAnnotationFileError)
            return cls(document, operation_id, is_model_run, is_normalized, shape_type, str(path))
        return cls(
            None, operation_id, is_model_run, is_normalized, shape_type, str(path), data, typed
        )

    def __post_init__(self) -> None:
        check_operation_id(self.operation_id)
        _check_flag(self.is_model_run, "is_model_run")
        _check_flag(self.is_normalized, "is_normalized")
        if self.shape_type is not None and self.shape_type not in SHAPE_TYPES:
            raise InvalidArgumentError(
                f"shape_type must be one of {', '.join(SHAPE_TYPES)}, not {self.shape_type!r}"
            )

    @cached_property
    def json_document(self) -> Any:
        """The document as plain JSON values (parsed from `text` on first use)."""
        if self.text is None:
            return self.document
        return parse_json(self.text, self.source, InvalidAnnotationFileError)

    @cached_property
    def entries(self) -> list[ImageAnnotations]:
        """The checked entries (parsed once, on first use)."""
        return parse_document(self.json_document, self.source, self.is_normalized, self.shape_type)

    @cached_property
    def fast_entries(self) -> fast.FastEntries | None:
        """The entries as the fast path checks them, or None where it leaves them to `entries`
        (a file not in its form, or one that breaks a rule: `entries` then says which)."""
        if self.typed is None:
            return None
        return fast.check(self.typed, self.is_normalized, self.shape_type)

    def to_json(self) -> dict[str, Any]:
        return {
            "document": self.json_document,
            "operation_id": self.operation_id,
            "is_model_run": self.is_model_run,
            "is_normalized": self.is_normalized,
            "shape_type": self.shape_type,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: Any) -> AnnotationFile:
        if type(data) is not dict or "document" not in data:
            raise InvalidArgumentError("annotations must be an object with a document")
        return cls(
            data["document"],
            data.get("operation_id"),  # type: ignore[arg-type]  # checked in __post_init__
            data.get("is_model_run"),  # type: ignore[arg-type]
            data.get("is_normalized"),  # type: ignore[arg-type]
            data.get("shape_type"),
            str(data.get("source") or "annotation file"),
        )
