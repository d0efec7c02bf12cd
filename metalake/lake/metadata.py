"""Custom metadata: validation of metadata objects and per-file metadata JSON documents.

A metadata object maps field names to scalar values; its `Tags` entry (any case) is not a field
but a list of tags, which are added to a file's tags, while fields are set.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from metalake.errors import InvalidArgumentError, InvalidMetadataFileError, InvalidPathError

Scalar = str | int | float | bool
MAX_KEY_LENGTH = 255
TAGS_KEY = "tags"


@dataclass(frozen=True)
class MetadataChange:
    """Fields to set and tags to add on one file or collection."""

    fields: dict[str, Scalar] = field(default_factory=dict)
    tags: tuple[str, ...] = ()

    def merged(self, other: MetadataChange) -> MetadataChange:
        """This change followed by `other`: its fields win, tags are united."""
        tags = tuple(dict.fromkeys(self.tags + other.tags))
        return MetadataChange({**self.fields, **other.fields}, tags)

    def is_empty(self) -> bool:
        return not self.fields and not self.tags

    def to_json(self) -> dict[str, Any]:
        return {"fields": self.fields, "tags": list(self.tags)}

    def to_object(self) -> dict[str, Any]:
        """The metadata object this change was parsed from (`parse_metadata_object` inverse)."""
        return {**self.fields, "Tags": list(self.tags)} if self.tags else dict(self.fields)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> MetadataChange:
        if not data:
            return cls()
        return cls(dict(data["fields"]), tuple(data["tags"]))


def parse_metadata_object(obj: Any, where: str = "metadata") -> MetadataChange:
    """Validate a metadata object and split it into fields and tags.

    `where` names the object in error messages (for example `files[3].metadata`).
    """
    if obj is None or obj == "":
        return MetadataChange()
    if not isinstance(obj, dict):
        raise InvalidArgumentError(f"{where}: must be an object of field: value pairs")
    fields: dict[str, Scalar] = {}
    tags: list[str] = []
    for key, value in obj.items():
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise InvalidArgumentError(
                f"{where}: field name {key!r} must be a non-empty string of at most "
                f"{MAX_KEY_LENGTH} characters"
            )
        if key.lower() == TAGS_KEY:
            tags.extend(_parse_tags(value, f"{where}.{key}"))
            continue
        fields[key] = _check_scalar(value, f"{where}.{key}")
    return MetadataChange(fields, tuple(dict.fromkeys(tags)))


def _parse_tags(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise InvalidArgumentError(f"{where}: must be a list of non-empty strings")
    return [t.strip() for t in value]


def _check_scalar(value: Any, where: str) -> Scalar:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgumentError(f"{where}: {value} is not a finite number")
    if isinstance(value, str | int | float | bool):
        return value
    raise InvalidArgumentError(
        f"{where}: value must be a string, number or boolean, not {type(value).__name__}"
    )


@dataclass(frozen=True)
class FileMetadataEntry:
    """One entry of a per-file metadata document: the file it names and its change."""

    file: str
    change: MetadataChange


def parse_file_metadata(document: Any, source: str) -> list[FileMetadataEntry]:
    """Validate a `{"files": [{"file": ..., "metadata": {...}}, ...]}` document.

    Raises `InvalidMetadataFileError` naming `source`, the entry index and the field at fault.
    """
    if not isinstance(document, dict) or not isinstance(document.get("files"), list):
        raise InvalidMetadataFileError(
            f'{source}: expected an object with a "files" list, '
            f'like {{"files": [{{"file": "a.jpg", "metadata": {{"field": "value"}}}}]}}'
        )
    entries = []
    for index, entry in enumerate(document["files"]):
        where = f"files[{index}]"
        if not isinstance(entry, dict):
            raise InvalidMetadataFileError(f"{source}: {where} must be an object")
        name = entry.get("file")
        if not isinstance(name, str) or not name:
            raise InvalidMetadataFileError(f"{source}: {where}.file must be a non-empty string")
        try:
            change = parse_metadata_object(entry.get("metadata"), f"{where}.metadata")
        except InvalidArgumentError as exc:
            raise InvalidMetadataFileError(f"{source}: {exc}") from None
        entries.append(FileMetadataEntry(name, change))
    return entries


def read_json_file(
    path: str | Path,
    what: str = "metadata file",
    error: type[InvalidArgumentError] = InvalidMetadataFileError,
) -> Any:
    """Parse a JSON file given by absolute path, with errors (of class `error`) that name the
    file and the position of a syntax error."""
    path = Path(path)
    if not path.is_absolute():
        raise InvalidPathError(f"{what} path {str(path)!r} must be absolute")
    if not path.is_file():
        raise InvalidPathError(f"{what} {path} does not exist or is not a file")
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise error(
            f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def text_and_number(value: Scalar) -> tuple[str, float | None]:
    """The indexed text and numeric forms of a metadata value (numbers match their text too)."""
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, int | float):
        return json.dumps(value), float(value)
    return value, None
