"""Downloading a collection: its annotations as one JSON file, and its files under `data/`.

The JSON is written page by page as the pages arrive, and at most two pages of files are in
flight, so memory stays flat however large the collection. Files are fetched several at a time,
each to a temporary name that is renamed only once its size is checked; a file already there with
the right size is kept, so a download that was cut off resumes where it stopped.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import httpx
from tqdm import tqdm

from metalake.blobs.keys import check_key
from metalake.client.wire import redact_http_logs, redact_signed_urls
from metalake.errors import InvalidPathError
from metalake.lake import answers
from metalake.lake.annotations.exports import (
    ANNOTATION_FILE,
    DOCUMENT_HEAD,
    DOCUMENT_TAIL,
    MEDIA_FOLDER,
    document_entry,
)

log = logging.getLogger(__name__)

PAGE_ITEMS = 1000
PARALLEL_FILES = 8
ATTEMPTS = 3

PageFetcher = Callable[[str | None], dict[str, Any]]
"""Returns the page of a collection after a cursor (None for the first page)."""


class FetchFailedError(Exception):
    """A file could not be fetched, or arrived with the wrong size (reported in the result)."""


@dataclass
class DownloadTally:
    images: int = 0
    annotations: int = 0
    downloaded: int = 0
    kept: int = 0
    failures: list[str] = field(default_factory=list)

    def fetched(self) -> str:
        """How the file fetches went, with the first failures."""
        summary = (
            f"{self.downloaded} downloaded, {self.kept} already there, {len(self.failures)} failed"
        )
        if self.failures:
            summary += " (" + "; ".join(self.failures[:5]) + ")"
        return summary

    def result(self, folder: Path, target: Path, include_media: bool) -> dict[str, Any]:
        """What `download_collection` returns."""
        message = f"{self.images} files with {self.annotations} annotations written to {target}"
        if include_media:
            message += f"; files: {self.fetched()}"
        return answers.DOWNLOADS.answer(
            not self.failures,
            message=message,
            path=str(folder),
            annotation_file=str(target),
            image_count=self.images,
            annotation_count=self.annotations,
            downloaded_count=self.downloaded,
            kept_count=self.kept,
            failed_count=len(self.failures),
        )


def download_root(custom_download_path: str | None) -> Path:
    """Where a download goes: the absolute `custom_download_path` (created if missing) or CWD."""
    if not custom_download_path:
        return Path.cwd()
    root = Path(custom_download_path)
    if not root.is_absolute():
        raise InvalidPathError(
            f"custom_download_path {custom_download_path!r} must be absolute, "
            f"e.g. {Path.cwd() / custom_download_path}"
        )
    if root.exists() and not root.is_dir():
        raise InvalidPathError(f"custom_download_path {root} is a file, not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as exc:
        raise InvalidPathError(
            f"custom_download_path {root} is not a folder files can be written to "
            f"({exc.strerror or exc})"
        ) from exc
    return root


class MediaFetcher:
    """Copies `file://` URLs and GETs the others (signed URLs: no credentials are sent)."""

    def __init__(self, timeout_s: float = 120.0) -> None:
        redact_http_logs()
        limits = httpx.Limits(max_connections=PARALLEL_FILES * 2)
        self._http = httpx.Client(timeout=timeout_s, limits=limits, follow_redirects=True)

    def close(self) -> None:
        self._http.close()

    def fetch(self, url: str, size: int, destination: Path) -> bool:
        """Put the file at `destination`; False if a file of that size was there already."""
        if destination.is_file() and destination.stat().st_size == size:
            return False
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")
        problem = ""
        for _ in range(ATTEMPTS):
            try:
                self._fetch_once(url, partial)
            except (OSError, httpx.HTTPError) as exc:
                problem = redact_signed_urls(f"{type(exc).__name__}: {exc}")
                continue
            got = partial.stat().st_size
            if got == size:
                partial.replace(destination)
                return True
            problem = f"received {got} bytes, expected {size}"
        partial.unlink(missing_ok=True)
        raise FetchFailedError(f"{destination.name}: {problem}")

    def _fetch_once(self, url: str, partial: Path) -> None:
        parsed = urlparse(url)
        if parsed.scheme == "file":
            shutil.copyfile(unquote(parsed.path), partial)
            return
        with self._http.stream("GET", url) as response:
            response.raise_for_status()
            with partial.open("wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)


def download_collection(
    fetch_page: PageFetcher,
    root: Path,
    include_media: bool,
    total: int,
    show_progress: bool | None,
) -> dict[str, Any]:
    """Write `<root>/<storage name>/annotations.json` and, with media, `data/<unique name>`."""
    page = fetch_page(None)
    folder = root / check_key(page["storage_name"])
    media = folder / MEDIA_FOLDER
    (media if include_media else folder).mkdir(parents=True, exist_ok=True)
    target = folder / ANNOTATION_FILE
    partial = target.with_name(target.name + ".part")
    tally = DownloadTally()
    fetcher = MediaFetcher()
    disable = None if show_progress is None else not show_progress
    try:
        with (
            partial.open("wb") as out,
            ThreadPoolExecutor(PARALLEL_FILES) as pool,
            tqdm(total=total, unit="file", desc=f"download {folder.name}", disable=disable) as bar,
        ):
            out.write(DOCUMENT_HEAD)
            in_flight: list[tuple[str, Future[bool]]] = []
            while True:
                previous, in_flight = in_flight, []
                for image in page["images"]:
                    out.write(document_entry(image, tally.images == 0))
                    tally.images += 1
                    tally.annotations += len(image["annotations"])
                    if include_media:
                        destination = media / check_key(image["image"])
                        job = pool.submit(fetcher.fetch, image["url"], image["size"], destination)
                        in_flight.append((image["image"], job))
                    else:
                        bar.update()
                settle(previous, tally, bar)
                if page["next"] is None:
                    break
                page = fetch_page(page["next"])
            settle(in_flight, tally, bar)
            out.write(DOCUMENT_TAIL)
        partial.replace(target)
    finally:
        fetcher.close()
        partial.unlink(missing_ok=True)
    return tally.result(folder, target, include_media)


def settle(in_flight: list[tuple[str, Future[bool]]], tally: DownloadTally, bar: tqdm) -> None:
    for name, job in in_flight:
        try:
            if job.result():
                tally.downloaded += 1
            else:
                tally.kept += 1
        except FetchFailedError as exc:
            tally.failures.append(str(exc))
            log.warning("could not download %s: %s", name, exc)
        bar.update()


def download_files(
    files: list[dict[str, Any]], folder: Path, show_progress: bool | None
) -> DownloadTally:
    """Fetch items (with `unique_name`, `url`, `size`) into `folder`, named by unique name."""
    folder.mkdir(parents=True, exist_ok=True)
    tally = DownloadTally(images=len(files))
    fetcher = MediaFetcher()
    disable = None if show_progress is None else not show_progress
    try:
        with (
            ThreadPoolExecutor(PARALLEL_FILES) as pool,
            tqdm(
                total=len(files), unit="file", desc=f"download {folder.name}", disable=disable
            ) as bar,
        ):
            in_flight = [
                (
                    item["unique_name"],
                    pool.submit(
                        fetcher.fetch,
                        item["url"],
                        item["size"],
                        folder / check_key(item["unique_name"]),
                    ),
                )
                for item in files
            ]
            settle(in_flight, tally, bar)
    finally:
        fetcher.close()
    return tally


def page_result(tally: DownloadTally, folder: Path, page_index: int) -> dict[str, Any]:
    """What `download_files_from_metalake` and `_from_collection` return for one page."""
    return answers.DOWNLOADS.answer(
        not tally.failures,
        message=f"page {page_index}: {tally.images} files in {folder}: {tally.fetched()}",
        path=str(folder),
        file_count=tally.images,
        downloaded_count=tally.downloaded,
        kept_count=tally.kept,
        failed_count=len(tally.failures),
    )
