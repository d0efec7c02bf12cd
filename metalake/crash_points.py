"""Named instants at which a test can make this process die at once, as kill -9 would.

`METALAKE_CRASH_AT=name` (or `name:N` for the N-th time the point is reached) makes the process
SIGKILL itself there. The fault tests use it to put a crash exactly inside the windows that
matter (bytes moved but not registered, registered but staging not yet freed), which a kill
timed from outside hits only by luck. Unset, a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import threading

CRASH_ENV = "METALAKE_CRASH_AT"
_hits: dict[str, int] = {}
_lock = threading.Lock()


def crash_point(name: str) -> None:
    """Die here if `METALAKE_CRASH_AT` names this point (and its count is reached)."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    wanted, _, count = spec.partition(":")
    if wanted != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        hits = _hits[name]
    if hits >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
