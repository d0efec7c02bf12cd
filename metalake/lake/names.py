"""How collection names become storage names, unique names and storage keys (design.md)."""

from __future__ import annotations

import re

from metalake.blobs.keys import check_file_name, check_user_key

DEFAULT_BUCKET = "default"
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
