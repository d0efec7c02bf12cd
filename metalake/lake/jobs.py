"""Durable background jobs: records in the database, run by one worker thread per lake.

A job is claimed by writing this process's owner tag onto it. A job whose owner died (its process
is gone on this host, or its heartbeat is stale) is claimed again and resumed; job handlers keep
their work idempotent, so a resumed job never duplicates what its first run finished.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from metalake.errors import (
    InvalidArgumentError,
    JobLostError,
    JobNotFoundError,
    MetaLakeError,
    StorageFullError,
)
from metalake.ids import new_id
from metalake.lake.clock import as_utc, iso, utcnow
from metalake.lake.limits import MAX_JOB_LIST
from metalake.lake.outages import BUDGET_ENV, Outage, is_transient
from metalake.processes import owner_tag, tag_is_dead, writer_of
from metalake.store.database import Database
from metalake.store.schema import job_payloads, jobs

log = logging.getLogger(__name__)

QUEUED, RUNNING, COMPLETED, FAILED = "queued", "running", "completed", "failed"
MAX_ERRORS = 100
STALE_AFTER = timedelta(minutes=2)
LOCAL_WAIT_S = 1.0
"""How long a wait for a job this process runs sleeps between looks at it, at most: its end
wakes the wait at once (see `JobRunner.pause`)."""


@dataclass(frozen=True)
class Job:
    id: str
    type: str
    params: dict[str, Any]
    collection_id: str | None


Handler = Callable[[Job, "JobProgress"], None]
Finisher = Callable[[Job], None]
"""Runs once a job of its type has ended (completed or failed), e.g. to drop its leftovers."""


@runtime_checkable
class Abandonable(Protocol):
    """A handler that can close a job it will not finish: it counts the units left as failed
    (with `reason`) and frees what they hold, so a failed job's counts add up to its total."""

    def give_up(self, job: Job, progress: JobProgress, reason: str) -> None: ...


def counts_message(row: RowMapping) -> str:
    return f"{row['done']} done, {row['skipped']} skipped, {row['failed']} failed"


def outage_message(exc: Exception, lasted: float) -> str:
    """Why a job stopped in an outage, and what the user can do about it."""
    return (
        f"stopped after {lasted:.0f} s of trying through an outage: {failure_reason(exc)}. "
        "What was not done counts as failed: run it again once the outage is over "
        f"({BUDGET_ENV} sets how long a job waits)"
    )


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

    def __init__(
        self,
        db: Database,
        handlers: dict[str, Handler],
        finishers: dict[str, Finisher] | None = None,
        housekeeping: Callable[[], object] | None = None,
    ) -> None:
        """`finishers` run after a job of their type ends; `housekeeping` runs whenever the
        worker has looked for jobs (it decides itself how often it does anything)."""
        self._db = db
        self._handlers = handlers
        self._finishers = finishers or {}
        self._housekeeping = housekeeping
        self.owner = f"{owner_tag()}~{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._pending = False
        self._thread: threading.Thread | None = None
        self._stranded: set[str] = set()
        """Jobs of ours that a full disk stopped before their end could be recorded: claimed
        again (their handlers are idempotent) by a later pass, which finds space or not."""
        self._out_of_space = False
        """Whether the last pass stopped for lack of space: then a look at a job wakes again."""
        self._changed = threading.Condition()
        self._running: set[str] = set()
        """Jobs this runner has claimed and not yet left: their end is announced to `pause`."""

    def wake(self) -> None:
        """Make sure a worker is (or will be) looking for claimable jobs."""
        with self._lock:
            self._pending = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="metalake-jobs")
                self._thread.start()

    def wake_if_out_of_space(self) -> None:
        """Wake the worker if its last pass stopped for lack of space, so that once space is
        freed its jobs go on rather than reading `running` or `queued` forever."""
        if self._out_of_space:
            self.wake()

    def pause(self, job_id: str, seconds: float, until_end: bool = False) -> None:
        """Sleep up to `seconds` while waiting for a job, less if one of this runner's jobs is
        claimed or ends; with `until_end` (nobody watches its progress) sleep through a job this
        runner is running until it ends (checking at least every LOCAL_WAIT_S)."""
        with self._changed:
            if until_end and job_id in self._running:
                seconds = max(seconds, LOCAL_WAIT_S)
            self._changed.wait(seconds)

    def _announce(self, job_id: str, running: bool) -> None:
        """Tell `pause` that one of this runner's jobs was claimed (or has been left)."""
        with self._changed:
            if running:
                self._running.add(job_id)
            else:
                self._running.discard(job_id)
            self._changed.notify_all()

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        outage = Outage()
        while True:
            with self._lock:
                self._pending = False
            ran = 0
            try:
                while (job := self._claim_next()) is not None:
                    self._execute(job)
                    ran += 1
                    outage.recovered()
                self._out_of_space = False
            except StorageFullError:
                log.debug("jobs wait: the lake has no space left to record their progress")
                self._out_of_space = True
            except Exception as exc:
                if not is_transient(exc) or (delay := outage.next_delay()) is None:
                    log.error("the job runner stopped: %s", failure_reason(exc))
                    with self._lock:
                        self._thread = None
                    return
                log.warning("the job runner cannot reach the database; trying again shortly")
                time.sleep(delay)
                with self._lock:
                    self._pending = True
            if ran:
                self._refresh_statistics()
            self._housekeep()
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return

    def _refresh_statistics(self) -> None:
        """Jobs add rows in bulk; fresh statistics keep the query planner on the right indexes."""
        try:
            self._db.refresh_statistics()
        except (sa.exc.DBAPIError, StorageFullError) as exc:
            log.warning("could not refresh the query planner's statistics: %s", exc)

    def _housekeep(self) -> None:
        """Run the housekeeping; its failure is logged, never allowed to stop the jobs."""
        if self._housekeeping is None:
            return
        try:
            self._housekeeping()
        except Exception:
            log.exception("housekeeping of the lake failed; it runs again later")

    def _finished(self, job: Job) -> None:
        finisher = self._finishers.get(job.type)
        if finisher is None:
            return
        try:
            finisher(job)
        except Exception:
            log.exception("cleaning up after job %s failed; the next sweep retries", job.id)

    def _claimable(self, row: RowMapping) -> bool:
        if row["status"] == QUEUED:
            return True
        owner = row["owner"] or ""
        if owner == self.owner:
            return row["id"] in self._stranded
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
            self._stranded.discard(row["id"])
            self._announce(row["id"], True)
            if row["status"] == RUNNING:
                log.info("resuming job %s left unfinished by %s", row["id"], row["owner"])
            return Job(row["id"], row["type"], dict(row["params"]), row["collection_id"])
        return None

    def _execute(self, job: Job) -> None:
        """Run a job and record its end; a full disk that keeps even the end from being
        recorded leaves the job to a later pass (see `_stranded`) and ends this one."""
        try:
            self._execute_and_record(job)
        except StorageFullError:
            log.error("job %s stopped: the lake has no space left, not even to record it", job.id)
            self._stranded.add(job.id)
            raise
        finally:
            self._announce(job.id, False)

    def _execute_and_record(self, job: Job) -> None:
        """Run a job's handler; through an outage run it again (it resumes where it stopped)
        until the outage budget is spent, then fail the job with its counts complete."""
        progress = JobProgress(job.id, self.owner)
        handler = self._handlers.get(job.type)
        if handler is None:
            reason = f"job stopped by an error: this lake does not know jobs of type {job.type!r}"
            self._give_up(job, progress, None, reason)
            return
        outage = Outage()
        while True:
            handled = self._handled(job.id)
            try:
                handler(job, progress)
                break
            except JobLostError:
                log.warning("job %s was taken over by another process; leaving it", job.id)
                return
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("job %s failed", job.id)
                    reason = f"job stopped by an error: {failure_reason(exc)}"
                    self._give_up(job, progress, handler, reason)
                    return
                if self._handled(job.id, handled) > handled:
                    outage.recovered()
                delay = outage.next_delay()
                if delay is None:
                    reason = outage_message(exc, outage.lasted)
                    self._give_up(job, progress, handler, reason)
                    return
                log.warning("job %s: %s; trying again in %.1f s", job.id, exc, delay)
                time.sleep(delay)
        row = load_job(self._db, job.id)
        status = FAILED if row["failed"] else COMPLETED
        if self._finish(job.id, status, counts_message(row)):
            self._finished(job)

    def _handled(self, job_id: str, default: int = 0) -> int:
        """How many of a job's units are done, skipped or failed (`default` if unreadable)."""
        try:
            row = load_job(self._db, job_id)
        except sa.exc.DBAPIError:
            return default
        return row["done"] + row["skipped"] + row["failed"]

    def _give_up(
        self, job: Job, progress: JobProgress, handler: Handler | None, reason: str
    ) -> None:
        """Fail a job for good: its unfinished units count as failed, so the counts add up."""
        outage = Outage()
        while True:
            try:
                if isinstance(handler, Abandonable):
                    handler.give_up(job, progress, reason)
                row = load_job(self._db, job.id)
                ended = self._finish(job.id, FAILED, f"{reason}; {counts_message(row)}")
            except StorageFullError:
                raise
            except Exception as exc:
                if not is_transient(exc) or (delay := outage.next_delay()) is None:
                    log.error("could not record that job %s failed: %s", job.id, exc)
                    return
                time.sleep(delay)
                continue
            if ended:
                self._finished(job)
            return

    def _finish(self, job_id: str, status: str, message: str) -> bool:
        """End a job this runner owns; False if another runner has taken it over."""
        with self._db.write() as conn:
            return (
                conn.execute(
                    jobs.update()
                    .where(jobs.c.id == job_id, jobs.c.owner == self.owner)
                    .values(status=status, message=message, finished=utcnow(), heartbeat=utcnow())
                ).rowcount
                == 1
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


def recent_jobs(db: Database, limit: int) -> list[dict[str, Any]]:
    """The `limit` (1 to MAX_JOB_LIST) most recent jobs, newest first."""
    if type(limit) is not int or not 1 <= limit <= MAX_JOB_LIST:
        raise InvalidArgumentError(f"limit must be an integer from 1 to {MAX_JOB_LIST}")
    query = sa.select(jobs).order_by(jobs.c.created.desc(), jobs.c.id.desc()).limit(limit)
    with db.read() as conn:
        return [job_dict(row) for row in conn.execute(query).mappings()]
