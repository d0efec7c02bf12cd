"""A collection streamed out as `download_collection` writes it: its `annotations.json` alone, or
a zip of that file and every file's bytes, produced a page at a time and never held whole.

The zip is written to a sink that hands over what has been written after each file's chunk, so a
server streams it as it is made, with data descriptors, so nothing is seeked back to. Files are
deflated at level 0 (stored blocks: images and videos are compressed already), not stored: a
stored entry followed by a data descriptor has no length a streaming reader can find (Java's
ZipInputStream refuses it), while a deflate stream ends itself.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, BinaryIO

from metalake.blobs.store import BlobStore
from metalake.lake.annotations.exports import (
    ANNOTATION_FILE,
    DOCUMENT_HEAD,
    DOCUMENT_TAIL,
    MEDIA_FOLDER,
    document_entry,
)
from metalake.lake.datasets.records import ExportEntry

PageReader = Callable[[str | None], dict[str, Any]]
"""`Lake.annotation_page` with its collection and selection bound: the page after a cursor."""
CHUNK = 1 << 20
ZIP64_FROM = (1 << 31) - (1 << 24)
"""Files from this size on get zip64 headers, written ahead: zipfile refuses an entry without
them past 2 GiB - 1, and deflating at level 0 adds 5 bytes per 64 KiB block. Smaller files get
none: Java's ZipInputStream reads a zip64 entry's data descriptor as 32-bit below 4 GiB."""


def pages(read_page: PageReader) -> Iterator[dict[str, Any]]:
    """Every page of a collection's files, in order."""
    page = read_page(None)
    yield page
    while page["next"] is not None:
        page = read_page(page["next"])
        yield page


def annotation_document(read_page: PageReader) -> Iterator[bytes]:
    """`annotations.json` of a collection, one page of files per chunk."""
    yield DOCUMENT_HEAD
    first = True
    for page in pages(read_page):
        chunk = bytearray()
        for image in page["images"]:
            chunk += document_entry(image, first)
            first = False
        yield bytes(chunk)
    yield DOCUMENT_TAIL


class _Sink:
    """A write-only file for ZipFile whose written bytes are taken out as they come."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._written = 0

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """What was written stays until taken."""

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


MediaOpener = Callable[[str], tuple[int, AbstractContextManager[BinaryIO]]]
"""The size of a lake file named by its unique name, and what opens its bytes."""


def entries_zip(entries: Iterable[ExportEntry], open_media: MediaOpener) -> Iterator[bytes]:
    """A zip of a training-format export's entries (generated files and media), as it is made.
    A generated file is limited to 2 GiB here (its size is not known ahead; see ZIP64_FROM)."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, compresslevel=0) as archive:
        for entry in entries:
            if entry.chunks is not None:
                with archive.open(entry.path, "w") as target:
                    for chunk in entry.chunks:
                        target.write(chunk)
                        yield sink.take()
            else:
                assert entry.unique_name is not None
                size, media = open_media(entry.unique_name)
                big = size >= ZIP64_FROM
                with media as source, archive.open(entry.path, "w", force_zip64=big) as target:
                    while data := source.read(CHUNK):
                        target.write(data)
                        yield sink.take()
            yield sink.take()
    yield sink.take()


def collection_zip(
    read_page: PageReader, blobs: BlobStore, storage_keys: Callable[[list[str]], dict[str, str]]
) -> Iterator[bytes]:
    """A zip of `<storage name>/data/<unique name>` for every file and then
    `<storage name>/annotations.json`; `storage_keys` maps unique names to storage keys."""
    sink = _Sink()
    with (
        zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, compresslevel=0) as archive,
        tempfile.SpooledTemporaryFile(CHUNK * 8) as document,
    ):
        document.write(DOCUMENT_HEAD)
        first = True
        folder = None
        for page in pages(read_page):
            folder = page["storage_name"]
            keys = storage_keys([image["image"] for image in page["images"]])
            for image in page["images"]:
                document.write(document_entry(image, first))
                first = False
                name = f"{folder}/{MEDIA_FOLDER}/{image['image']}"
                big = image["size"] >= ZIP64_FROM
                with (
                    blobs.open(keys[image["image"]]) as source,
                    archive.open(name, "w", force_zip64=big) as target,
                ):
                    while data := source.read(CHUNK):
                        target.write(data)
                        yield sink.take()
                yield sink.take()
        document.write(DOCUMENT_TAIL)
        big = document.tell() >= ZIP64_FROM
        document.seek(0)
        with archive.open(f"{folder}/{ANNOTATION_FILE}", "w", force_zip64=big) as target:
            while data := document.read(CHUNK):
                target.write(data)
    yield sink.take()
