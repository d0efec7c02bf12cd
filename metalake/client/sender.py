"""Sending an upload's files to a server: resumable, several files at once, checked per part.

The server answers an upload session with the parts still missing and a URL for each (its own
signed route, or presigned S3 URLs). Each part goes with its Content-MD5, which the receiver
checks; failed parts are retried with back-off. Calling the same upload again (same files,
sizes and modification times) resumes the same session, so finished files are not sent again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from metalake.client.wire import raise_for_error, with_retries
from metalake.errors import ChecksumMismatchError, MetaLakeError
from metalake.lake.ingest import UploadFile, UploadRequest, request_to_json
from metalake.lake.upload_sessions import DEFAULT_PART_SIZE

log = logging.getLogger(__name__)

Call = Callable[..., Any]
AWAITING = "awaiting"


def fingerprint(request: UploadRequest, stats: list[os.stat_result], part_size: int) -> str:
    """Same for the same call on unchanged files: what makes a repeated upload resume."""
    document = {
        "request": request_to_json(request),
        "sources": [f.source for f in request.files],
        "mtimes": [s.st_mtime_ns for s in stats],
        "part_size": part_size,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


class UploadSender:
    def __init__(
        self,
        call: Call,
        *,
        retries: int,
        part_size: int | None,
        parallel_files: int,
        show_progress: bool | None,
        timeout_s: float,
    ) -> None:
        self._call = call
        self._retries = retries
        self._part_size = part_size or DEFAULT_PART_SIZE
        self._parallel = max(1, parallel_files)
        self._show_progress = show_progress
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        # Part URLs carry their own signature: no credentials go to them (nor to S3).
        self._parts = httpx.Client(timeout=timeout_s, limits=limits)

    def close(self) -> None:
        self._parts.close()

    def send(self, request: UploadRequest) -> dict[str, Any]:
        """Open (or resume) the session, send what is missing, and start the upload job."""
        stats = [Path(f.source).stat() for f in request.files]
        sized = replace(
            request,
            files=[replace(f, size=s.st_size) for f, s in zip(request.files, stats, strict=True)],
        )
        body = {
            "request": request_to_json(sized),
            "fingerprint": fingerprint(sized, stats, self._part_size),
            "part_size": self._part_size,
        }
        session = self._call("POST", "/uploads", json=body)
        todo = [f for f in session["files"] if f["state"] == AWAITING]
        remaining = sum(p["size"] for f in todo for p in f["parts"] if p["url"])
        disable = None if self._show_progress is None else not self._show_progress
        with (
            tqdm(total=remaining, unit="B", unit_scale=True, desc="upload", disable=disable) as bar,
            ThreadPoolExecutor(self._parallel, thread_name_prefix="metalake-send") as pool,
        ):
            lock = threading.Lock()
            done = [len(session["files"]) - len(todo)]

            def advance(nbytes: int, finished: bool) -> None:
                with lock:
                    bar.update(nbytes)
                    if finished:
                        done[0] += 1
                        bar.set_postfix(files=f"{done[0]}/{len(session['files'])}")

            sources = {f.file_name: f for f in sized.files}
            futures = [
                pool.submit(
                    self._send_file, session["session_id"], f, sources[f["file_name"]], advance
                )
                for f in todo
            ]
            for future in futures:
                future.result()
        return self._call("POST", f"/uploads/{session['session_id']}/complete")

    def _send_file(
        self,
        session_id: str,
        entry: dict[str, Any],
        source: UploadFile,
        advance: Callable[[int, bool], None],
    ) -> None:
        digest = hashlib.sha256()
        etags: list[str] = []
        state = AWAITING
        with Path(source.source).open("rb") as f:
            for part in entry["parts"]:
                f.seek(part["offset"])
                data = f.read(part["size"])
                if len(data) != part["size"]:
                    raise MetaLakeError(f"{source.source} changed while it was being uploaded")
                digest.update(data)
                if part["url"] is None:
                    etags.append(part["etag"])
                    continue
                etag, state = self._put_part(part["url"], data, source.file_name)
                etags.append(etag)
                advance(len(data), False)
        if state == AWAITING:
            path = f"/uploads/{session_id}/files/{entry['seq']}/done"
            self._call("POST", path, json={"etags": etags, "sha256": digest.hexdigest()})
        advance(0, True)

    def _put_part(self, url: str, data: bytes, file_name: str) -> tuple[str, str]:
        """PUT one part with its Content-MD5; a part damaged in transit is sent again."""
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        for attempt in range(self._retries + 1):
            response = with_retries(
                lambda: self._parts.put(url, content=data, headers={"Content-MD5": md5}),
                f"sending {file_name!r}",
                self._retries,
            )
            try:
                raise_for_error(response)
                break
            except ChecksumMismatchError:
                if attempt == self._retries:
                    raise
                log.warning("a part of %r arrived damaged; sending it again", file_name)
        if "application/json" in response.headers.get("content-type", ""):
            answer = response.json()
            return answer["etag"], answer["state"]
        return response.headers.get("etag", "").strip('"'), AWAITING
