"""Content types, the file extensions each accepts, and the deprecated numeric codes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath

from metalake.errors import InvalidArgumentError

CONTENT_TYPES = ("image", "video", "other")
EXTENSIONS: dict[str, frozenset[str] | None] = {
    "image": frozenset({"jpg", "jpeg", "png"}),
    "video": frozenset({"mp4", "mkv"}),
    "other": None,
}
LEGACY_CODES = {5: "image", 4: "video", 7: "other"}
SKIPPED_NAMES_SHOWN = 5
"""How many of the files an upload leaves out for their extension its message names."""


def check_content_type(content_type: str) -> str:
    """Return the canonical content type, or raise with the accepted values."""
    if isinstance(content_type, str) and content_type.lower() in CONTENT_TYPES:
        return content_type.lower()
    raise InvalidArgumentError(
        f"content type {content_type!r} is not one of 'image', 'video' or 'other'"
    )


def from_legacy_code(code: object) -> str:
    """The content type of a deprecated numeric collection type (5 image, 4 video, 7 other)."""
    for legacy, content_type in LEGACY_CODES.items():
        if code == legacy:
            return content_type
    raise InvalidArgumentError(f"collection type {code!r} is not 5 (image), 4 (video) or 7 (other)")


def accepts(content_type: str, file_name: str) -> bool:
    """Whether a file of this name may be uploaded as `content_type` (by its extension)."""
    allowed = EXTENSIONS[content_type]
    return allowed is None or PurePath(file_name).suffix.lower().lstrip(".") in allowed


def describe_extensions(content_type: str) -> str:
    allowed = EXTENSIONS[content_type]
    return "any" if allowed is None else ", ".join(sorted(allowed))


def describe_skipped(content_type: str, names: Sequence[str]) -> str:
    """What an upload says of the files it left out because their extension does not fit."""
    shown = sorted(names)[:SKIPPED_NAMES_SHOWN]
    more = ", ..." if len(names) > len(shown) else ""
    files = "file whose extension does" if len(names) == 1 else "files whose extension does"
    return (
        f"skipped {len(names)} {files} not fit {content_type} "
        f"({describe_extensions(content_type)}): {', '.join(shown)}{more}"
    )
