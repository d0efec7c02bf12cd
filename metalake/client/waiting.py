"""Waiting for a job with a progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from metalake.errors import JobTimeoutError

FINISHED = ("completed", "failed")


Pause = Callable[[str, float, bool], None]
"""Sleep between looks at a job: (job id, seconds, whether nobody watches its progress); an
embedded lake's wakes early when the job ends (`JobRunner.pause`)."""


def _sleep(_job_id: str, seconds: float, _unwatched: bool) -> None:
    time.sleep(seconds)


def wait_for_job(
    get_job: Callable[[str], dict[str, Any]],
    job_id: str,
    timeout: float | None,
    poll_interval: float,
    show_progress: bool | None,
    pause: Pause = _sleep,
) -> dict[str, Any]:
    """Poll a job until it finishes, showing its progress; return its final record."""
    from tqdm import tqdm  # on first use: it reads package metadata, tens of ms at start-up

    deadline = None if timeout is None else time.monotonic() + timeout
    job = get_job(job_id)
    disable = None if show_progress is None else not show_progress
    with tqdm(total=job["total"], unit="file", desc=f"job {job_id}", disable=disable) as bar:
        while True:
            bar.n = job["done"] + job["skipped"] + job["failed"]
            bar.set_postfix(skipped=job["skipped"], failed=job["failed"], refresh=False)
            bar.refresh()
            if job["status"] in FINISHED:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise JobTimeoutError(
                    f"job {job_id} is still {job['status']} after {timeout} s "
                    f"({job['progress']}% done); call wait_for_job_complete again to keep waiting"
                )
            seconds = poll_interval
            if deadline is not None:
                seconds = max(0.0, min(seconds, deadline - time.monotonic()))
            pause(job_id, seconds, bool(bar.disable) and deadline is None)
            job = get_job(job_id)
