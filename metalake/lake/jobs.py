"""Durable background jobs: records in the database, run by one worker thread per lake.

A job is claimed by writing this process's owner tag onto it. A job whose owner died (its process
is gone on this host, or its heartbeat is stale) is claimed again and resumed; job handlers keep
their work idempotent, so a resumed job never duplicates what its first run finished.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from metalake.errors import InvalidArgumentError, JobLostError, JobNotFoundError, MetaLakeError
from metalake.ids import new_id
from metalake.lake.clock import as_utc, iso, utcnow
from metalake.processes import owner_tag, tag_is_dead, writer_of
from metalake.store.database import Database
from metalake.store.schema import job_payloads, jobs

log = logging.getLogger(__name__)

QUEUED, RUNNING, COMPLETED, FAILED = "queued", "running", "completed", "failed"
MAX_ERRORS = 100
STALE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class Job:
    id: str
    type: str
    params: dict[str, Any]
    collection_id: str | None


Handler = Callable[[Job, "JobProgress"], None]


def new_job_row(
    job_type: str, params: dict[str, Any], total: int, collection_id: str | None
) -> dict:
    return {
        "id": new_id(),
        "type": job_type,
        "status": QUEUED,
        "collection_id": collection_id,
        "params": params,
        "total": total,
        "done": 0,
        "skipped": 0,
        "failed": 0,
        "errors": [],
        "message": "",
        "created": utcnow(),
    }


def job_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The public view of a job record."""
    handled = row["done"] + row["skipped"] + row["failed"]
    if row["status"] in (COMPLETED, FAILED):
        progress = 100.0
    else:
        progress = round(100.0 * handled / row["total"], 2) if row["total"] else 0.0
    return {
        "job_id": row["id"],
        "type": row["type"],
        "status": row["status"],
        "progress": progress,
        "total": row["total"],
        "done": row["done"],
        "skipped": row["skipped"],
        "failed": row["failed"],
        "errors": list(row["errors"]),
        "message": row["message"],
        "collection_id": row["collection_id"],
        "created": iso(row["created"]),
        "started": iso(row["started"]),
        "finished": iso(row["finished"]),
    }


def check_job_id(job_id: object) -> str:
    """`job_id` if it is text (ids are 24 hex digits), else raise: a job is named by its id."""
    if not isinstance(job_id, str) or not job_id:
        raise InvalidArgumentError(f"job_id must be a job's id (a string), not {job_id!r}")
    return job_id


def load_job(db: Database, job_id: str) -> RowMapping:
    check_job_id(job_id)
    with db.read() as conn:
        row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
    if row is None:
        raise JobNotFoundError(f"no job with id {job_id!r}")
    return row


class JobProgress:
    """What a running handler reports: counts, per-file errors, and a heartbeat on each call."""

    def __init__(self, job_id: str, owner: str) -> None:
        self._job_id = job_id
        self._owner = owner

    def record(
        self,
        conn: sa.Connection,
        done: int = 0,
        skipped: int = 0,
        failed: int = 0,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        """Add to the counts in the handler's own write transaction, so both commit together."""
        values: dict[str, Any] = {
            "done": jobs.c.done + done,
            "skipped": jobs.c.skipped + skipped,
            "failed": jobs.c.failed + failed,
            "heartbeat": utcnow(),
        }
        if errors:
            current = conn.execute(sa.select(jobs.c.errors).where(jobs.c.id == self._job_id))
            kept = list(current.scalar_one())
            values["errors"] = (kept + errors)[:MAX_ERRORS]
        owned = jobs.c.id == self._job_id, jobs.c.owner == self._owner
        if conn.execute(jobs.update().where(*owned).values(**values)).rowcount != 1:
            raise JobLostError(f"job {self._job_id} was taken over by another process")


class JobRunner:
    """Runs queued jobs of one lake in a worker thread, claiming each job before it runs it."""

    def __init__(self, db: Database, handlers: dict[str, Handler]) -> None:
        self._db = db
        self._handlers = handlers
        self.owner = f"{owner_tag()}~{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._pending = False
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Make sure a worker is (or will be) looking for claimable jobs."""
        with self._lock:
            self._pending = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="metalake-jobs")
                self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._pending = False
            ran = 0
            while (job := self._claim_next()) is not None:
                self._execute(job)
                ran += 1
            if ran:
                self._refresh_statistics()
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return

    def _refresh_statistics(self) -> None:
        """Jobs add rows in bulk; fresh statistics keep the query planner on the right indexes."""
        try:
            self._db.refresh_statistics()
        except sa.exc.DBAPIError as exc:
            log.warning("could not refresh the query planner's statistics: %s", exc)

    def _claimable(self, row: RowMapping) -> bool:
        if row["status"] == QUEUED:
            return True
        owner = row["owner"] or ""
        if owner == self.owner:
            return False
        if writer_of(owner) == owner_tag():
            return False
        if tag_is_dead(owner):
            return True
        heartbeat = row["heartbeat"]
        if heartbeat is None:
            return True
        return utcnow() - as_utc(heartbeat) > STALE_AFTER

    def _claim_next(self) -> Job | None:
        query = sa.select(jobs).where(jobs.c.status.in_((QUEUED, RUNNING))).order_by(jobs.c.id)
        with self._db.read() as conn:
            candidates = conn.execute(query).mappings().all()
        for row in candidates:
            if not self._claimable(row):
                continue
            same_owner = (
                jobs.c.owner.is_(None) if row["owner"] is None else jobs.c.owner == row["owner"]
            )
            claim = (
                jobs.update()
                .where(jobs.c.id == row["id"], jobs.c.status == row["status"], same_owner)
                .values(status=RUNNING, owner=self.owner, heartbeat=utcnow(), started=utcnow())
            )
            with self._db.write() as conn:
                if conn.execute(claim).rowcount != 1:
                    continue
            if row["status"] == RUNNING:
                log.info("resuming job %s left unfinished by %s", row["id"], row["owner"])
            return Job(row["id"], row["type"], dict(row["params"]), row["collection_id"])
        return None

    def _execute(self, job: Job) -> None:
        progress = JobProgress(job.id, self.owner)
        try:
            self._handlers[job.type](job, progress)
        except JobLostError:
            log.warning("job %s was taken over by another process; leaving it", job.id)
            return
        except Exception as exc:
            log.exception("job %s failed", job.id)
            self._finish(job.id, FAILED, f"job stopped by an error: {failure_reason(exc)}")
            return
        row = load_job(self._db, job.id)
        status = FAILED if row["failed"] else COMPLETED
        message = f"{row['done']} done, {row['skipped']} skipped, {row['failed']} failed"
        self._finish(job.id, status, message)

    def _finish(self, job_id: str, status: str, message: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.owner == self.owner)
                .values(status=status, message=message, finished=utcnow(), heartbeat=utcnow())
            )


def save_payload(conn: sa.Connection, job_id: str, data: bytes) -> None:
    """Keep a job's input (too large for its params) with the job, in the same transaction."""
    conn.execute(job_payloads.insert().values(job_id=job_id, data=data))


def load_payload(db: Database, job_id: str) -> bytes | None:
    """A job's input, or None once the job has applied it (see `drop_payload`)."""
    with db.read() as conn:
        query = sa.select(job_payloads.c.data).where(job_payloads.c.job_id == job_id)
        return conn.execute(query).scalar()


def drop_payload(conn: sa.Connection, job_id: str) -> None:
    """Forget a job's input, in the transaction that applies its last part: a resumed job
    then knows there is nothing left to apply."""
    conn.execute(job_payloads.delete().where(job_payloads.c.job_id == job_id))


def failure_reason(exc: Exception) -> str:
    """What a job tells of an error: our own message, or the kind of system error without its
    file name (which would show the server's paths) or driver text (which may hold SQL)."""
    if isinstance(exc, MetaLakeError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"the file could not be read or written: {exc.strerror or type(exc).__name__}"
    log.error("unexpected error in a job", exc_info=exc)
    return f"an unexpected error ({type(exc).__name__}); the lake's log has the details"
