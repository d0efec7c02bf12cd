"""Which processes on this host are alive: how a lake tells a crashed writer from a busy one."""

from __future__ import annotations

import os
import socket

HOST = socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_tag() -> str:
    """`<pid>~<host>`: names a writer so others can check whether it still runs."""
    return f"{os.getpid()}~{HOST}"


def tag_is_dead(tag: str) -> bool:
    """True when the tag names a process on this host that no longer runs."""
    pid, _, host = tag.partition("~")
    return host == HOST and pid.isdigit() and not pid_alive(int(pid))
