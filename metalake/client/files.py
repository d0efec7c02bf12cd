"""Choosing the files an upload sends, from the path and content type the caller gave."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from metalake.errors import ContentTypeMismatchError, InvalidPathError
from metalake.lake.content_types import accepts, describe_extensions, describe_skipped

log = logging.getLogger(__name__)


def absolute_path(path: str | os.PathLike[str], what: str = "path") -> Path:
    """`path` as a Path, which must be absolute and exist."""
    if not isinstance(path, str | os.PathLike) or not str(path):
        raise InvalidPathError(f"{what} must be a non-empty absolute path, not {path!r}")
    resolved = Path(path)
    if not resolved.is_absolute():
        raise InvalidPathError(f"{what} {str(path)!r} must be absolute, e.g. {Path.cwd() / path}")
    if not resolved.exists():
        raise InvalidPathError(f"{what} {resolved} does not exist")
    return resolved


def files_to_upload(path: Path, content_type: str) -> tuple[list[Path], list[str]]:
    """The files of a single-file path or a folder (not recursive) that suit the content type,
    and the names of the folder's files left out because their extension does not.

    Hidden files (names starting with '.') in a folder are left out silently; a folder with no
    suitable file, or a single file of the wrong kind, is an error rather than an empty upload.
    """
    if path.is_file():
        if not accepts(content_type, path.name):
            raise ContentTypeMismatchError(
                f"{path.name} cannot be uploaded as {content_type} "
                f"(accepted extensions: {describe_extensions(content_type)})"
            )
        return [path], []
    if not path.is_dir():
        raise InvalidPathError(f"{path} is neither a file nor a folder")
    chosen: list[str] = []
    others: list[str] = []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file():
                continue
            (chosen if accepts(content_type, entry.name) else others).append(entry.name)
    if not chosen:
        found = f"; it has {len(others)} other files, e.g. {sorted(others)[0]}" if others else ""
        raise ContentTypeMismatchError(
            f"{path} has no {content_type} files "
            f"(accepted extensions: {describe_extensions(content_type)}){found}"
        )
    if others:
        log.info("%s", describe_skipped(content_type, others))
    return [path / name for name in sorted(chosen)], sorted(others)
