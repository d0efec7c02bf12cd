"""A small thread pool that keeps working while the interpreter shuts down.

`concurrent.futures.ThreadPoolExecutor` refuses new work once the main thread has finished, but
a job started by a script that exits without waiting must still run to its end in the job thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

_STOP = None


class WorkerPool:
    """`submit(fn, *args)` runs fn on one of `size` threads and returns a Future of its result."""

    def __init__(self, size: int, name: str) -> None:
        self._tasks: queue.Queue[tuple[Future, Callable[..., Any], tuple] | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}") for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        self._tasks.put((future, fn, args))
        return future

    def _work(self) -> None:
        while (task := self._tasks.get()) is not _STOP:
            future, fn, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

    def close(self) -> None:
        """Let queued work finish, then stop the threads."""
        for _ in self._threads:
            self._tasks.put(_STOP)
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
