"""Downloading a dataset version in a training format: pages of one split at a time, written to
a folder as the format's entries come, files fetched a few at a time.

Generated files (instances JSON, label files, data.yaml, ...) are written to a `.part` name and
renamed when complete; media go through the collection download's fetcher, which keeps a file
already there with the right size, so a download cut short resumes.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from metalake.blobs.keys import check_key
from metalake.client.downloads import (
    PAGE_ITEMS,
    PARALLEL_FILES,
    DownloadTally,
    MediaFetcher,
    download_root,
    settle,
)
from metalake.lake import answers
from metalake.lake.datasets.formats.registry import DatasetFormat, dataset_format, export_name
from metalake.lake.datasets.records import ExportEntry, ExportImage, VersionSummary

if TYPE_CHECKING:
    from metalake.client.transport import Transport

log = logging.getLogger(__name__)

IN_FLIGHT = PARALLEL_FILES * 32
"""Media fetches queued at most before the download waits for the oldest half."""


def download_dataset(
    transport: Transport,
    version_id: str,
    export_type: str,
    custom_download_path: str | None,
    include_media: bool,
    show_progress: bool | None,
) -> dict[str, Any]:
    """Write the version in `export_type` under `custom_download_path` (see `export_folder`)."""
    found = dataset_format(export_type)
    version = transport.dataset_version(version_id)
    folder = download_root(custom_download_path) / check_key(export_name(version, found))
    folder.mkdir(parents=True, exist_ok=True)
    summary = VersionSummary.of(version)
    urls: dict[str, tuple[str, int]] = {}
    first_pass: set[str] = set()
    tally = DownloadTally()
    dropped: Counter[str] = Counter()
    fetcher = MediaFetcher()
    disable = None if show_progress is None else not show_progress

    def read_split(split: str, with_annotations: bool = True) -> Iterator[list[ExportImage]]:
        counting = with_annotations and split not in first_pass
        if with_annotations:
            first_pass.add(split)
        after = None
        while True:
            page = transport.dataset_page(
                version_id,
                split,
                after,
                PAGE_ITEMS,
                include_media,
                with_annotations=with_annotations,
            )
            urls.clear()  # a format writes a page's media before it reads the next page
            images: list[ExportImage] = []
            for entry in page["images"]:
                if include_media:
                    urls[entry["unique_name"]] = (entry["url"], entry["size"])
                images.append(_export_image(entry))
            if counting:
                tally.images += len(images)
                tally.annotations += sum(len(image["annotations"]) for image in images)
                if not include_media:
                    bar.update(len(images))
            yield images
            after = page["next"]
            if after is None:
                return

    try:
        with (
            ThreadPoolExecutor(PARALLEL_FILES) as pool,
            tqdm(
                total=version["file_count"], unit="file", desc=folder.name, disable=disable
            ) as bar,
        ):
            in_flight: list[tuple[str, Future[bool]]] = []
            generated = GeneratedFiles(folder)
            entries = found.export_entries(summary, read_split, include_media, dropped)
            for entry in entries:
                if entry.chunks is not None:
                    generated.write(entry)
                    continue
                in_flight.append(_fetch(pool, fetcher, folder, entry, urls))
                if len(in_flight) >= IN_FLIGHT:
                    settle(in_flight[: IN_FLIGHT // 2], tally, bar)
                    del in_flight[: IN_FLIGHT // 2]
            settle(in_flight, tally, bar)
    finally:
        fetcher.close()
    return _answer(found, version, folder, tally, dropped, include_media)


def _export_image(entry: dict[str, Any]) -> ExportImage:
    return ExportImage(
        unique_name=entry["unique_name"],
        file=entry["file"],
        split=entry["split"],
        width=entry["width"],
        height=entry["height"],
        annotations=entry["annotations"],
    )


class GeneratedFiles:
    """Writes generated files whole under a `.part` name, then renames them; parent folders are
    made once each (a YOLO export writes a label file per image: syscalls count)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._made: set[Path] = set()

    def write(self, entry: ExportEntry) -> None:
        assert entry.chunks is not None
        target = self._folder / check_key(entry.path)
        if target.parent not in self._made:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(target.parent)
        partial = target.with_name(target.name + ".part")
        try:
            with partial.open("wb") as out:
                for chunk in entry.chunks:
                    out.write(chunk)
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise


def _fetch(
    pool: ThreadPoolExecutor,
    fetcher: MediaFetcher,
    folder: Path,
    entry: ExportEntry,
    urls: dict[str, tuple[str, int]],
) -> tuple[str, Future[bool]]:
    assert entry.unique_name is not None
    url, size = urls[entry.unique_name]
    destination = folder / check_key(entry.path)
    return entry.unique_name, pool.submit(fetcher.fetch, url, size, destination)


def _answer(
    found: DatasetFormat,
    version: dict[str, Any],
    folder: Path,
    tally: DownloadTally,
    dropped: Counter[str],
    include_media: bool,
) -> dict[str, Any]:
    message = (
        f"version {version['version']} of dataset {version['dataset_name']!r} written as "
        f"{found.name} to {folder}: {tally.images} files, {tally.annotations} annotations"
    )
    if dropped:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(dropped.items()))
        message += f"; {found.name} has no place for {kinds} (left out)"
    if include_media:
        message += f"; files: {tally.fetched()}"
    return answers.DATASETS.answer(
        not tally.failures,
        message=message,
        path=str(folder),
        export_type=found.name,
        file_count=tally.images,
        annotation_count=tally.annotations,
        dropped=dict(sorted(dropped.items())),
        downloaded_count=tally.downloaded,
        kept_count=tally.kept,
        failed_count=len(tally.failures),
    )
