"""Staged bytes of remote uploads: where they live, and removing them once their fate is known.

A remote upload's files arrive under `.staging/<session>/<seq>` before its job registers them.
The job moves each registered file to its key; what is left (files skipped or failed, files
never sent, the whole staging of a failed job) is removed when the job ends (`job_finished`).
A sweep, run by the job runner when a lake opens and then at most every `SWEEP_EVERY` while it
runs jobs, removes what a crash or an abandoned session left: staging of finished sessions,
of sessions idle for longer than the staging age (`METALAKE_STAGING_MAX_AGE`, default 24 h),
and staging without any session once older than that age.

Lakes before this version staged under `.uploads`, a name SeaweedFS hides from listings (its
own multipart folder), so leaked objects there were invisible. The first sweep of such a lake
moves the staging of open sessions to `.staging` (parts of unfinished S3 multipart uploads
cannot move: those files are sent again) and deletes the legacy keys of every other session
by name, which needs no listing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from metalake.blobs.store import BlobStore, StoredObject
from metalake.errors import MetaLakeError
from metalake.lake.clock import as_utc, utcnow
from metalake.lake.ingest import DONE, STAGED
from metalake.lake.jobs import COMPLETED, FAILED, Job
from metalake.settings import env_number
from metalake.store.database import Database
from metalake.store.schema import job_files, jobs, upload_files, upload_parts, upload_sessions

log = logging.getLogger(__name__)

STAGING = ".staging"
"""Where remote uploads stage their files: listed by every S3-compatible store we know."""
LEGACY_STAGING = ".uploads"
"""Where lakes before `.staging` staged (hidden from listings by SeaweedFS)."""
STAGING_PREFIXES = (STAGING, LEGACY_STAGING)
LEGACY_DONE = f"{STAGING}/legacy-uploads-adopted"
"""Written once the legacy staging of a store has been adopted or deleted."""
DEFAULT_MAX_AGE = timedelta(hours=24)
SWEEP_EVERY = timedelta(minutes=10)
OPEN_SESSION, AWAITING = "open", "awaiting"
"""An upload session still receiving files, and a file not received yet (as `upload_sessions`
names them)."""
ABANDONED = "abandoned"


def staging_key(session_id: str, seq: int) -> str:
    """The key under which file `seq` of an upload session arrives."""
    return f"{STAGING}/{session_id}/{seq}"


def session_of(key: str) -> str | None:
    """The upload session a staging key belongs to, or None if `key` is no session's file."""
    parts = key.split("/")
    if len(parts) == 3 and parts[0] in STAGING_PREFIXES and not parts[1].startswith("."):
        return parts[1]
    return None


def staging_max_age() -> timedelta:
    """How long staging of an idle session (or of none) is kept: `$METALAKE_STAGING_MAX_AGE`
    seconds, default 24 hours."""
    name = "METALAKE_STAGING_MAX_AGE"
    return timedelta(seconds=env_number(name, DEFAULT_MAX_AGE.total_seconds()))


def _older(objects: list[StoredObject], cutoff: datetime) -> bool:
    """True if every object was last written before `cutoff` (also if there is none)."""
    return all(as_utc(o.modified) < cutoff for o in objects)


def staged_objects(blobs: BlobStore) -> dict[str, list[StoredObject]]:
    """The staged objects a listing finds, by upload session id (keys of no session under "")."""
    found: dict[str, list[StoredObject]] = {}
    for prefix in STAGING_PREFIXES:
        for obj in blobs.list_objects(prefix):
            if obj.key != LEGACY_DONE:
                found.setdefault(session_of(obj.key) or "", []).append(obj)
    return found


def session_states(db: Database, session_ids: Iterable[str]) -> dict[str, SessionState]:
    """What the database knows of these upload sessions, by id (missing ones are absent)."""
    ids = list(session_ids)
    states: dict[str, SessionState] = {}
    query = sa.select(
        upload_sessions.c.id, upload_sessions.c.status, upload_sessions.c.created, jobs.c.status
    ).select_from(upload_sessions.outerjoin(jobs, jobs.c.id == upload_sessions.c.job_id))
    with db.read() as conn:
        for start in range(0, len(ids), 500):
            rows = conn.execute(query.where(upload_sessions.c.id.in_(ids[start : start + 500])))
            for sid, status, created, job_status in rows:
                states[sid] = SessionState(sid, status, as_utc(created), job_status)
    return states


@dataclass(frozen=True)
class SessionState:
    """An upload session as a sweep judges it: its status and that of its job (if any)."""

    id: str
    status: str
    created: datetime
    job_status: str | None

    @property
    def finished(self) -> bool:
        """True once nothing will read the session's staging again: its job has ended."""
        return self.status != OPEN_SESSION and self.job_status in (COMPLETED, FAILED, None)


@dataclass
class SweepReport:
    """What one sweep removed: staged objects (and their bytes) and abandoned sessions."""

    objects: int = 0
    bytes: int = 0
    sessions: int = 0


class StagingSweeper:
    """Removes staged bytes whose fate is known, and staging nobody will come back for."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        max_age: timedelta | None = None,
        clock: Callable[[], datetime] = utcnow,
        every: timedelta = SWEEP_EVERY,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self.max_age = staging_max_age() if max_age is None else max_age
        self._clock = clock
        self._every = every
        self._last: datetime | None = None
        self._started = utcnow()
        """Sessions opened since are this version's: never staged under `.uploads`."""
        self._lock = threading.Lock()

    def job_finished(self, job: Job) -> None:
        """Delete the staged bytes of an upload job that has ended: those of files it skipped,
        failed or never reached, and whatever else its session staged."""
        query = sa.select(job_files.c.source).where(
            job_files.c.job_id == job.id,
            job_files.c.state != DONE,
            job_files.c.source.startswith(STAGED),
        )
        sessions = sa.select(upload_sessions.c.id).where(upload_sessions.c.job_id == job.id)
        unfinished = sa.select(
            upload_files.c.session_id, upload_files.c.seq, upload_files.c.multipart_id
        ).where(
            upload_files.c.session_id.in_(sessions),
            upload_files.c.state == AWAITING,
            upload_files.c.multipart_id.is_not(None),
        )
        with self._db.read() as conn:
            keys = [source.removeprefix(STAGED) for source in conn.execute(query).scalars()]
            session_ids = list(conn.execute(sessions).scalars())
            multiparts = conn.execute(unfinished).all()
        for key in keys:
            self._blobs.delete(key)
        for sid, seq, upload_id in multiparts:  # parts of files left out of the upload
            self._abort_multipart(staging_key(sid, seq), upload_id)
        for sid in session_ids:
            self._delete_session_staging(sid)

    def sweep_if_due(self) -> SweepReport | None:
        """Sweep if the last sweep of this lake was at least `every` ago (or never)."""
        now = self._clock()
        if self._last is not None and now - self._last < self._every:
            return None
        return self.sweep()

    def sweep(self) -> SweepReport:
        """Remove stale temp files, staging of finished sessions, of sessions idle for longer
        than the age, and of no session once older than the age."""
        with self._lock:
            now = self._clock()
            self._last = now
            self._blobs.clear_stale_temp()
            self._adopt_legacy_staging()
            report = SweepReport()
            cutoff = now - self.max_age
            found = staged_objects(self._blobs)
            states = session_states(self._db, [sid for sid in found if sid])
            for sid, objects in found.items():
                state = states.get(sid)
                if state.finished if state else _older(objects, cutoff):
                    self._delete(objects, report)
            for state in self._idle_open_sessions(cutoff):
                objects = found.get(state.id, [])
                if _older(objects, cutoff) and self._abandon(state.id, cutoff):
                    report.sessions += 1
                    self._delete(objects, report)
            if report.objects or report.sessions:
                log.info(
                    "removed %d staged objects (%d bytes) and %d abandoned upload sessions",
                    report.objects,
                    report.bytes,
                    report.sessions,
                )
            return report

    def _delete(self, objects: list[StoredObject], report: SweepReport) -> None:
        for obj in objects:
            self._blobs.delete(obj.key)
            report.objects += 1
            report.bytes += obj.size

    def _delete_session_staging(self, session_id: str) -> None:
        for prefix in STAGING_PREFIXES:
            self._blobs.delete_prefix(f"{prefix}/{session_id}")

    def _idle_open_sessions(self, cutoff: datetime) -> list[SessionState]:
        query = sa.select(upload_sessions.c.id, upload_sessions.c.created).where(
            upload_sessions.c.status == OPEN_SESSION, upload_sessions.c.created < cutoff
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [SessionState(sid, OPEN_SESSION, as_utc(created), None) for sid, created in rows]

    def _abandon(self, session_id: str, cutoff: datetime) -> bool:
        """Forget an open session nobody came back to (a client that does is told to upload
        again), and its unfinished multipart uploads. False if it changed meanwhile."""
        with self._db.write() as conn:
            claimed = conn.execute(
                upload_sessions.update()
                .where(
                    upload_sessions.c.id == session_id,
                    upload_sessions.c.status == OPEN_SESSION,
                    upload_sessions.c.created < cutoff,
                )
                .values(status=ABANDONED)
            )
            if claimed.rowcount != 1:
                return False
            multiparts = conn.execute(
                sa.select(upload_files.c.seq, upload_files.c.multipart_id).where(
                    upload_files.c.session_id == session_id,
                    upload_files.c.multipart_id.is_not(None),
                )
            ).all()
            conn.execute(upload_parts.delete().where(upload_parts.c.session_id == session_id))
            conn.execute(upload_files.delete().where(upload_files.c.session_id == session_id))
            conn.execute(upload_sessions.delete().where(upload_sessions.c.id == session_id))
        for seq, upload_id in multiparts:
            self._abort_multipart(staging_key(session_id, seq), upload_id)
        self._delete_session_staging(session_id)
        log.info("upload session %s was abandoned; its staging is removed", session_id)
        return True

    def _abort_multipart(self, key: str, upload_id: str) -> None:
        abort = getattr(self._blobs, "abort_multipart", None)
        if abort is not None:
            abort(key, upload_id)

    def _adopt_legacy_staging(self) -> None:
        """Once per store: move the `.uploads` staging of sessions opened before this version
        ran to `.staging`, and delete the `.uploads` keys of every session whose job has ended
        (by name: no listing needed)."""
        if self._blobs.exists(LEGACY_DONE):
            return
        query = sa.select(
            upload_files.c.session_id,
            upload_files.c.seq,
            upload_files.c.state,
            upload_files.c.multipart_id,
        )
        with self._db.read() as conn:
            files = conn.execute(query).all()
        states = session_states(self._db, {f.session_id for f in files})
        for f in files:
            state = states.get(f.session_id)
            legacy = f"{LEGACY_STAGING}/{f.session_id}/{f.seq}"
            try:
                if state is not None and state.status == OPEN_SESSION:
                    if state.created < self._started:
                        self._adopt(f.session_id, f.seq, f.state, f.multipart_id, legacy)
                elif state is None or state.finished:
                    self._blobs.delete(legacy)
            except MetaLakeError as exc:
                log.warning("could not clear legacy staging %s: %s", legacy, exc)
        for sid, state in states.items():
            if state.status != OPEN_SESSION and state.finished:
                self._blobs.delete_prefix(f"{LEGACY_STAGING}/{sid}")
        self._blobs.put_bytes(LEGACY_DONE, b"")

    def _adopt(
        self, session_id: str, seq: int, state: str, multipart_id: str | None, legacy: str
    ) -> None:
        """Move one file of an open session from its legacy key to its staging key."""
        if multipart_id and state == AWAITING:
            # Parts of an unfinished multipart upload cannot move: send the file again.
            self._abort_multipart(legacy, multipart_id)
            with self._db.write() as conn:
                conn.execute(
                    upload_files.update()
                    .where(upload_files.c.session_id == session_id, upload_files.c.seq == seq)
                    .values(multipart_id=None)
                )
                conn.execute(
                    upload_parts.delete().where(
                        upload_parts.c.session_id == session_id, upload_parts.c.seq == seq
                    )
                )
        elif self._blobs.exists(legacy):
            self._blobs.copy(legacy, staging_key(session_id, seq))
            self._blobs.delete(legacy)
