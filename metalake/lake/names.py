"""How collection names become storage names, unique names and storage keys (design.md)."""

from __future__ import annotations

import re

from metalake.blobs.keys import check_file_name, check_user_key
from metalake.errors import InvalidArgumentError

DEFAULT_BUCKET = "default"
MAX_TEXT_ARGUMENT = 1024
"""Characters of a name or id a call looks something up by."""
_UNSAFE = re.compile(r"[^A-Za-z0-9\-_ ]")


def base_storage_name(collection_name: str) -> str:
    """The collection name with every character outside `[A-Za-z0-9-_ ]` replaced by `_`."""
    return _UNSAFE.sub("_", collection_name.replace("%20", " "))


def storage_name_candidates(collection_name: str) -> list[str]:
    """The storage name to try first, then its `_1`, `_2`, ... variants."""
    base = base_storage_name(collection_name)
    return [base] + [f"{base}_{n}" for n in range(1, 1000)]


def unique_name(storage_name: str, file_name: str) -> str:
    return f"{storage_name}_{file_name}"


def storage_key(storage_prefix: str | None, storage_name: str, file_name: str) -> str:
    """`[<prefix>/]<storage name>/<file name>`, checked to be a safe relative key."""
    check_file_name(file_name)
    prefix = (storage_prefix or "").strip("/")
    return check_user_key(
        f"{prefix}/{storage_name}/{file_name}" if prefix else f"{storage_name}/{file_name}"
    )


def check_text(value: object, what: str) -> str:
    """`value` if it is a non-empty string without NUL of at most MAX_TEXT_ARGUMENT characters
    (a name or id to look something up by), else raise naming the argument `what`."""
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{what} must be a non-empty string, not {value!r}")
    if "\x00" in value or len(value) > MAX_TEXT_ARGUMENT:
        raise InvalidArgumentError(
            f"{what} must have at most {MAX_TEXT_ARGUMENT} characters and no NUL"
        )
    return value
