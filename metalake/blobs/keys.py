"""Validation of storage keys: names from users never become paths without these checks."""

from __future__ import annotations

from metalake.errors import InvalidPathError


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative object key, else raise `InvalidPathError`.

    A safe key is non-empty, relative, uses `/` as its only separator, and has no empty, `.` or
    `..` segment and no NUL or backslash, so it cannot name anything outside its store.
    """
    if not key or "\x00" in key or "\\" in key:
        raise InvalidPathError(f"storage key {key!r} is empty or has a NUL or backslash")
    if key.startswith("/"):
        raise InvalidPathError(f"storage key {key!r} must be relative (no leading '/')")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidPathError(
                f"storage key {key!r} has an empty, '.' or '..' segment; use plain folder names"
            )
    return key


def check_file_name(name: str) -> str:
    """Return `name` if it is a plain file name (no folders, no NUL), else raise."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise InvalidPathError(f"{name!r} is not a plain file name")
    return name
