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


def writer_of(tagged: str) -> str:
    """The `<pid>~<host>` a longer tagged name (a job owner, a temp file) starts with."""
    return "~".join(tagged.split("~")[:2])


def tag_is_dead(tagged: str) -> bool:
    """True when the tagged name's writer is a process on this host that no longer runs."""
    pid, _, host = writer_of(tagged).partition("~")
    return host == HOST and pid.isdigit() and not pid_alive(int(pid))
