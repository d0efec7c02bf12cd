"""Where a lake lives when nobody says: the `METALAKE_*` environment variables and defaults."""

from __future__ import annotations

import os
from pathlib import Path

from metalake.errors import InvalidArgumentError

DEFAULT_HOME = "metalake-data"
DEFAULT_PORT = 8642


def lake_home(home: str | os.PathLike[str] | None) -> Path:
    """The lake folder: `home`, else `$METALAKE_HOME`, else `./metalake-data`."""
    return Path(home or os.environ.get("METALAKE_HOME") or DEFAULT_HOME)


def url_expiry_s() -> float:
    """How long download URLs work: `$METALAKE_URL_EXPIRY` seconds, default one hour."""
    text = os.environ.get("METALAKE_URL_EXPIRY") or "3600"
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise InvalidArgumentError(f"METALAKE_URL_EXPIRY must be a number of seconds, not {text!r}")
    return value
