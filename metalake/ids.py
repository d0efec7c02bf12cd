"""Time-ordered 24-hex ids, like the ObjectIds the seeds show."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """Return 4 bytes of Unix seconds then 8 random bytes, as 24 lowercase hex characters."""
    return int(time.time()).to_bytes(4, "big").hex() + os.urandom(8).hex()
