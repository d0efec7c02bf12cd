"""Where a lake lives when nobody says: the `METALAKE_*` environment variables and defaults."""

from __future__ import annotations

import math
import os
from pathlib import Path

from metalake.errors import InvalidArgumentError
from metalake.lake.signing import expiry_from_text

DEFAULT_HOME = "metalake-data"
DEFAULT_PORT = 8642


def lake_home(home: str | os.PathLike[str] | None) -> Path:
    """The lake folder: `home`, else `$METALAKE_HOME`, else `./metalake-data`."""
    return Path(home or os.environ.get("METALAKE_HOME") or DEFAULT_HOME)


def url_expiry_s() -> int:
    """How long download URLs work: `$METALAKE_URL_EXPIRY` seconds, default one hour."""
    text = os.environ.get("METALAKE_URL_EXPIRY") or "3600"
    return expiry_from_text(text, "METALAKE_URL_EXPIRY")


def env_number(name: str, default: float, whole: bool = False) -> float:
    """A positive number from `$name` (a whole one if `whole`), else `default`."""
    text = os.environ.get(name) or str(default)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf) or (whole and value != int(value)):
        kind = "a whole number" if whole else "a number"
        raise InvalidArgumentError(f"{name} must be {kind} greater than 0, not {text!r}")
    return value


DEFAULT_CACHE_BYTES = 10 << 30


def cache_folder() -> Path:
    """Where fetched file bytes are kept for the next epoch: `$METALAKE_CACHE_DIR`, else
    `$XDG_CACHE_HOME/metalake/files`, else `~/.cache/metalake/files`."""
    named = os.environ.get("METALAKE_CACHE_DIR")
    if named:
        return Path(named)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "metalake" / "files"


def cache_bytes() -> int:
    """The byte budget of that cache: `$METALAKE_CACHE_BYTES`, default 10 GiB."""
    return int(env_number("METALAKE_CACHE_BYTES", DEFAULT_CACHE_BYTES, whole=True))
