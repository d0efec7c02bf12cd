"""Custom metadata: validation of metadata objects and per-file metadata JSON documents.

A metadata object maps field names to scalar values; its `Tags` entry (any case) is not a field
but a list of tags, which are added to a file's tags, while fields are set.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from metalake.blobs.keys import CONTROL_CHARACTERS
from metalake.errors import InvalidArgumentError, InvalidMetadataFileError, InvalidPathError
from metalake.lake.limits import MAX_INTEGER, MIN_INTEGER

Scalar = str | int | float | bool
MAX_KEY_LENGTH = 255
TAGS_KEY = "tags"
MAX_JSON_DEPTH = 254
"""How many lists and objects free-form JSON (annotation files, metadata) may nest: as many as
orjson writes, which is what lets `value_problem` check most values in C."""


def value_problem(value: Any) -> str | None:
    """Why a JSON value cannot be stored the same on SQLite and PostgreSQL, or None if it can:
    a NUL character, an integer beyond 64 bits, a NaN or infinite number, nesting deeper than
    `MAX_JSON_DEPTH`, or something JSON has no form for."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_STRICT_INTEGER)
    except orjson.JSONEncodeError:
        pass  # too deep, not JSON, or an integer beyond 53 bits: the walk below says which
    else:
        # orjson refuses all of the above but NaN and infinities (which it writes as null) and NUL.
        if b"null" not in text and b"\\u0000" not in text:
            return None
    return _walk_for_problem(value)


def _walk_for_problem(value: Any) -> str | None:
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        value, depth = pending.pop()
        kind = type(value)
        if kind is str:
            if "\x00" in value:
                return f"{value!r} contains a NUL character"
        elif kind is int:
            if not MIN_INTEGER <= value <= MAX_INTEGER:
                return "an integer beyond 64 bits (from -2**63 to 2**63-1)"
        elif kind is float:
            if not math.isfinite(value):
                return f"{value} is not a finite number"
        elif kind is list or kind is dict:
            if depth >= MAX_JSON_DEPTH:
                return f"nests deeper than {MAX_JSON_DEPTH} levels"
            if kind is dict:
                for key in value:
                    if type(key) is not str or "\x00" in key:
                        return f"key {key!r} is not a string without NUL"
                pending.extend((v, depth + 1) for v in value.values())
            else:
                pending.extend((v, depth + 1) for v in value)
        elif value is not None and kind is not bool:
            return f"a {kind.__name__} is not a JSON value"
    return None


def name_problem(name: str) -> str | None:
    """Why a name (field, tag, label) is refused, or None: it has a NUL or control character."""
    bad = CONTROL_CHARACTERS.search(name)
    return None if bad is None else f"{name!r} contains the control character {bad.group()!r}"


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
        if (
            not isinstance(key, str)
            or not key.strip()
            or len(key) > MAX_KEY_LENGTH
            or name_problem(key)
        ):
            raise InvalidArgumentError(
                f"{where}: field name {key!r} must be a non-empty string of at most "
                f"{MAX_KEY_LENGTH} characters, without control characters"
            )
        if key.lower() == TAGS_KEY:
            tags.extend(_parse_tags(value, f"{where}.{key}"))
            continue
        fields[key] = _check_scalar(value, f"{where}.{key}")
    return MetadataChange(fields, tuple(dict.fromkeys(tags)))


def _parse_tags(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise InvalidArgumentError(f"{where}: must be a list of non-empty strings")
    tags = [t.strip() for t in value]
    for tag in tags:
        problem = name_problem(tag)
        if problem:
            raise InvalidArgumentError(f"{where}: tag {problem}")
    return tags


def _check_scalar(value: Any, where: str) -> Scalar:
    if isinstance(value, str | int | float | bool):
        problem = value_problem(value)
        if problem:
            raise InvalidArgumentError(f"{where}: {problem}")
        return value
    raise InvalidArgumentError(
        f"{where}: value must be a string, number or boolean, not {type(value).__name__}"
    )


@dataclass(frozen=True)
class FileMetadataEntry:
    """One entry of a per-file metadata document: the file it names and its change."""

    file: str
    change: MetadataChange


def changes_by_file(entries: Iterable[FileMetadataEntry]) -> dict[str, MetadataChange]:
    """One change per file name, in the order files are first named: entries naming a file
    again add to its change (their fields win, tags are united), as if applied in turn."""
    changes: dict[str, MetadataChange] = {}
    for entry in entries:
        changes[entry.file] = changes.get(entry.file, MetadataChange()).merged(entry.change)
    return changes


def file_metadata_document(entries: Iterable[FileMetadataEntry]) -> list[dict[str, Any]]:
    """The `files` list of a per-file metadata document (`parse_file_metadata` inverse)."""
    return [{"file": e.file, "metadata": e.change.to_object()} for e in entries]


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
    return parse_json(read_file_bytes(path, what), path, error)


def read_file_bytes(path: Path, what: str) -> bytes:
    """The bytes of a file given by absolute path (`what` names it in errors)."""
    if not path.is_absolute():
        raise InvalidPathError(f"{what} path {str(path)!r} must be absolute")
    if not path.is_file():
        raise InvalidPathError(f"{what} {path} does not exist or is not a file")
    return path.read_bytes()


def parse_json(
    data: bytes, path: str | Path, error: type[InvalidArgumentError] = InvalidMetadataFileError
) -> Any:
    """The JSON value of a file's bytes; `error` names the file and the position of a syntax
    error."""
    try:
        return orjson.loads(data)
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
