"""Validation of storage keys: names from users never become paths without these checks."""

from __future__ import annotations

import re

from metalake.errors import InvalidPathError

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Unicode's control characters (category Cc), NUL among them: never in a name a user gives."""
MAX_KEY_LENGTH = 1024
MAX_SEGMENT_BYTES = 255
"""Bytes in one file or folder name, as most file systems allow."""


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative object key, else raise `InvalidPathError`.

    A safe key is non-empty, relative, uses `/` as its only separator, and has no empty, `.` or
    `..` segment and no NUL or backslash, so it cannot name anything outside its store.
    """
    if not isinstance(key, str):
        raise InvalidPathError(f"a storage key must be a string, not {type(key).__name__}")
    if not key or "\x00" in key or "\\" in key:
        raise InvalidPathError(f"storage key {key!r} is empty or has a NUL or backslash")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidPathError(
            f"storage key {key[:40]!r}... has {len(key)} characters; at most {MAX_KEY_LENGTH}"
        )
    if key.startswith("/"):
        raise InvalidPathError(f"storage key {key!r} must be relative (no leading '/')")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidPathError(
                f"storage key {key!r} has an empty, '.' or '..' segment; use plain folder names"
            )
    return key


def check_user_key(key: str) -> str:
    """`check_key`, and also refuse what a user may not name: control characters, names longer
    than a file system takes, and segments starting with `.`, which are the lake's own
    (`.thumbnails`, `.staging`, `.uploads`, `.tmp`): no key a user gives can reach them."""
    check_key(key)
    for segment in key.split("/"):
        _check_user_name(segment, f"storage key {key[:40]!r}: the name {segment[:40]!r}")
    return key


def check_file_name(name: str) -> str:
    """Return `name` if it is a plain file name a user may give, else raise: no folders, no NUL
    or control characters, not starting with `.`, at most MAX_SEGMENT_BYTES bytes."""
    if not isinstance(name, str):
        raise InvalidPathError(f"a file name must be a string, not {type(name).__name__}")
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise InvalidPathError(f"{name!r} is not a plain file name")
    _check_user_name(name, f"file name {name[:40]!r}")
    return name


def _check_user_name(name: str, what: str) -> None:
    """The rules of one file or folder name a user gives; `what` says which name, in messages."""
    if CONTROL_CHARACTERS.search(name):
        raise InvalidPathError(f"{what} has a control character")
    if name.startswith("."):
        raise InvalidPathError(
            f"{what} starts with '.'; such names are reserved for the lake's own objects"
        )
    if len(name.encode()) > MAX_SEGMENT_BYTES:
        raise InvalidPathError(
            f"{what}... has {len(name.encode())} bytes; at most {MAX_SEGMENT_BYTES}"
        )
