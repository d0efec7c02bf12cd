"""Our REST API (`/api/v1`): each route parses, authorises, calls the Lake and serialises.

Sync routes run on the server's thread pool, as the Lake's calls block on the database.
"""

from __future__ import annotations

import contextlib
import os
from typing import IO, Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from metalake.errors import InvalidArgumentError, InvalidQueryError, PayloadTooLargeError
from metalake.lake.annotations.documents import AnnotationFile
from metalake.lake.annotations.store import AnnotationSelection
from metalake.lake.datasets.formats.registry import dataset_format, export_name
from metalake.lake.datasets.versions import VersionRequest
from metalake.lake.facets import DEFAULT_TOP, MAX_TOP
from metalake.lake.file_targets import FileTarget
from metalake.lake.ingest import request_from_json
from metalake.lake.lake import Lake
from metalake.lake.limits import DEFAULT_JOB_LIST, MAX_CATALOG_PAGE
from metalake.lake.metadata import parse_file_metadata, parse_metadata_object
from metalake.lake.selection import ItemSelection, SortOrder
from metalake.lake.signing import expiry_from_text
from metalake.lake.upload_sessions import DEFAULT_PART_SIZE, MAX_BUNDLE_BYTES
from metalake.media.thumbnails import THUMBNAIL_SIZE
from metalake.server.auth import KeyDep, LakeDep, get_lake
from metalake.server.bodies import capped_body, capped_chunks, refusal_past
from metalake.server.links import LinksDep, check_signed
from metalake.server.protocol import (
    BLOB_ROUTE,
    BUNDLE_FILES_HEADER,
    CHECKSUM_HEADER,
    CHECKSUM_NAME,
    MAX_REQUEST_ID_HEADER,
    REQUEST_ID_HEADER,
    blob_path,
    bundle_path,
    part_path,
)


class ErrorBody(BaseModel):
    """What every refused request answers: a stable code and a message saying what to do."""

    error: str = Field(description="stable code, e.g. invalid_argument, item_not_found")
    message: str


ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": ErrorBody,
        "description": "Refused: 400 invalid argument, 401 missing or wrong API key, "
        "403 expired or altered signature, 404 not found, 413 past a size limit, 429 too many "
        "failed logins (Retry-After)",
    }
}
"""The answers the error handlers give, documented on every route (instead of FastAPI's 422,
which this server never sends: it answers invalid requests 400 like every other refusal)."""

api = APIRouter(prefix="/api/v1", responses=ERRORS)
signed = APIRouter(responses=ERRORS)


class StrictBody(BaseModel):
    """A request body that refuses keys it does not define (a misspelt key is an error)."""

    model_config = ConfigDict(extra="forbid")


class UploadSessionBody(StrictBody):
    request: dict[str, Any] = Field(
        description="collection, content type, files with sizes, optional file_metadata"
    )
    fingerprint: str = Field(description="same for a repeated call: resumes its session")
    part_size: int = DEFAULT_PART_SIZE


class FinishFileBody(StrictBody):
    etags: list[str] = []
    sha256: str


class CollectionMetadataBody(StrictBody):
    collection_name: str
    content_type: str
    metadata: dict[str, Any] = {}
    apply_to_files: bool = True


class FileMetadataBody(StrictBody):
    target: dict[str, str | None]
    document: dict[str, Any] = Field(description='{"files": [{"file": ..., "metadata": {...}}]}')


class SelectionBody(StrictBody):
    selection: dict[str, Any] = Field(description="content_type or collection_id, query, filter")


class ListBody(SelectionBody):
    sort_order: dict[str, Any] = {}
    page_index: int = 0
    page_size: int = 20
    with_urls: bool = False


class EmptyTrashBody(StrictBody):
    older_than_days: float


class AddToCollectionBody(SelectionBody):
    collection_name: str
    content_type: str


class DatasetVersionBody(StrictBody):
    dataset_name: str
    request: dict[str, Any] = Field(
        description="collection_id or content_type, query, filter, annotation_type, "
        "operation_id_list, labels, split_info, seed, with_annotations, snapshot_id"
    )


class RemoveAnnotationsBody(StrictBody):
    operation_id: str


def _file_target(fields: Any) -> FileTarget:
    try:
        return FileTarget(**fields)
    except TypeError as exc:
        raise InvalidArgumentError(f"malformed file target: {exc}") from exc


async def request_id(
    key: KeyDep, idempotency_key: Annotated[str | None, Header(alias=REQUEST_ID_HEADER)] = None
) -> str | None:
    """The lake's request id of a call that changes something: the caller's `Idempotency-Key`
    under its API key (so that one key's ids never answer another's), None without one."""
    if idempotency_key is None:
        return None
    if not (
        0 < len(idempotency_key) <= MAX_REQUEST_ID_HEADER
        and idempotency_key.isascii()
        and idempotency_key.isprintable()
    ):
        raise InvalidArgumentError(
            f"{REQUEST_ID_HEADER} must be 1 to {MAX_REQUEST_ID_HEADER} printable ASCII characters"
        )
    return f"{key}:{idempotency_key}"


RequestIdDep = Annotated[str | None, Depends(request_id)]


async def annotation_selection(
    annotation_type: str = "all",
    operation_ids: Annotated[list[str] | None, Query()] = None,
) -> AnnotationSelection:
    """Which annotations a read returns: of a source (human, machine, all) or of operations."""
    return AnnotationSelection(annotation_type, tuple(operation_ids or ()))


AnnotationSelectionDep = Annotated[AnnotationSelection, Depends(annotation_selection)]
"""Sent by the SDK with each call that changes something, the same on its retries: a retry is
answered as the first call was instead of being applied again."""


# Uploads --------------------------------------------------------------------------------------


@api.get("/uploads/protocol", tags=["uploads"])
def upload_protocol(lake: LakeDep, _key: KeyDep) -> dict:
    """How this server's uploads send parts: `checksum` is `sha256` (parts come to the server)
    or `md5` (parts go straight to presigned S3 URLs)."""
    return {"checksum": lake.uploads.part_checksum()}


@api.post("/uploads", tags=["uploads"])
def open_upload(body: UploadSessionBody, links: LinksDep, lake: LakeDep, key: KeyDep) -> dict:
    """Open (or resume) a resumable upload: which parts to send, and where."""
    return lake.uploads.open(
        request_from_json(body.request), body.fingerprint, key, body.part_size, links
    )


class PartBounds:
    """The part sizes of the upload sessions this server received parts of, the most any of
    their parts may have: fixed when a session opens, so a later part's body can be read
    within it before its own limit is looked up (and refusals checked) with the part itself."""

    MOST = 4096

    def __init__(self) -> None:
        self._sizes: dict[str, int] = {}

    def get(self, session_id: str) -> int | None:
        return self._sizes.get(session_id)

    def add(self, session_id: str, part_size: int | None) -> None:
        if part_size is None:
            return
        if len(self._sizes) >= self.MOST:
            self._sizes.clear()
        self._sizes[session_id] = part_size


@signed.put(part_path("{session_id}", "{seq}", "{part}"), tags=["uploads"])
async def put_part(
    session_id: str,
    seq: int,
    part: int,
    request: Request,
    expires: str | None = None,
    signature: str | None = None,
    checksum: Annotated[str | None, Header(alias=CHECKSUM_HEADER)] = None,
) -> JSONResponse:
    """One part of a file (signed URL from `POST /uploads`), with the base64 SHA-256 of its
    bytes in `x-amz-checksum-sha256`, checked before the part counts (optional for sessions
    that learn sizes from the bytes). Answers its ETag, quoted, as S3 does."""
    lake: Lake = get_lake(request)
    check_signed(lake.signer, "PUT", part_path(session_id, seq, part), expires, signature)
    what = f"part {part} of file {seq}"
    bounds: PartBounds = request.app.state.part_bounds
    bound = bounds.get(session_id)
    if bound is None:  # the session's first part here: its bound comes with the limit
        limit, bound = await run_in_threadpool(
            lambda: (
                lake.uploads.part_limit(session_id, seq, part),
                lake.uploads.part_size(session_id),
            )
        )
        bounds.add(session_id, bound)
        async with capped_body(request, limit, what) as first:
            result = await run_in_threadpool(
                lake.uploads.receive_part, session_id, seq, part, first, checksum, CHECKSUM_NAME
            )
        return JSONResponse(result, headers={"ETag": f'"{result["etag"]}"'})

    def receive(body: IO[bytes] | None) -> dict[str, Any]:
        """The part's limit, checked as before its body was read (refusals of the session
        first), then the part; `body` is None for one already past the session's bound."""
        limit = lake.uploads.part_limit(session_id, seq, part)
        if body is None or body.seek(0, os.SEEK_END) > limit:
            raise refusal_past(request, limit, what)
        body.seek(0)
        return lake.uploads.receive_part(session_id, seq, part, body, checksum, CHECKSUM_NAME)

    # Later parts: the body first, within the session's bound, then limit and part together
    # in one trip through the thread pool.
    async with contextlib.AsyncExitStack() as stack:
        body: IO[bytes] | None = None
        with contextlib.suppress(PayloadTooLargeError):
            body = await stack.enter_async_context(capped_body(request, bound, what))
        result = await run_in_threadpool(receive, body)
    return JSONResponse(result, headers={"ETag": f'"{result["etag"]}"'})


@signed.put(bundle_path("{session_id}", "{first}", "{last}"), tags=["uploads"])
async def put_bundle(
    session_id: str,
    first: int,
    last: int,
    request: Request,
    files: Annotated[str, Header(alias=BUNDLE_FILES_HEADER)],
    checksums: Annotated[str, Header(alias=CHECKSUM_HEADER)],
    expires: str | None = None,
    signature: str | None = None,
) -> dict:
    """Several small files in one body (signed URL from `POST /uploads`): their numbers in
    `x-metalake-files` and their base64 SHA-256s in `x-amz-checksum-sha256`, comma-separated."""
    lake: Lake = get_lake(request)
    check_signed(lake.signer, "PUT", bundle_path(session_id, first, last), expires, signature)
    try:
        seqs = [int(seq) for seq in files.split(",")]
    except ValueError as exc:
        raise InvalidArgumentError(f"{BUNDLE_FILES_HEADER} must list file numbers") from exc
    data = await capped_chunks(request, MAX_BUNDLE_BYTES, "a bundle")
    return await run_in_threadpool(
        lake.uploads.receive_bundle,
        session_id,
        (first, last),
        seqs,
        checksums.split(","),
        data,
        CHECKSUM_NAME,
    )


@api.post("/uploads/{session_id}/files/{seq}/done", tags=["uploads"])
def finish_file(
    session_id: str, seq: int, body: FinishFileBody, lake: LakeDep, _key: KeyDep
) -> dict:
    """All parts of a file were sent: check it and mark it received."""
    return lake.uploads.finish_file(session_id, seq, body.etags, body.sha256)


@api.post("/uploads/{session_id}/complete", tags=["uploads"])
def complete_upload(session_id: str, lake: LakeDep, _key: KeyDep) -> dict:
    """Start the upload job: `job_id`, `collection_id` and, for one file, `unique_name`."""
    return lake.complete_upload(session_id)


# Jobs and metadata ----------------------------------------------------------------------------


@api.get("/jobs", tags=["jobs"])
def list_jobs(lake: LakeDep, _key: KeyDep, limit: int = DEFAULT_JOB_LIST) -> list[dict]:
    """The most recent jobs (1 to 500, default 50), newest first, with progress and errors."""
    return lake.list_jobs(limit)


@api.get("/jobs/{job_id}", tags=["jobs"])
def get_job(job_id: str, lake: LakeDep, _key: KeyDep) -> dict:
    return lake.get_job(job_id)


@api.post("/collections/metadata", tags=["metadata"])
def collection_metadata(body: CollectionMetadataBody, lake: LakeDep, _key: KeyDep) -> dict:
    change = parse_metadata_object(body.metadata, "metadata_obj")
    return lake.update_collection_metadata(
        body.collection_name, body.content_type, change, body.apply_to_files
    )


class NewCollectionBody(StrictBody):
    collection_name: str
    content_type: str
    metadata: dict[str, Any] = {}


@api.post("/collections", tags=["collections"])
def create_collection(body: NewCollectionBody, lake: LakeDep, _key: KeyDep) -> dict:
    """Create an empty collection if new, with head metadata and tags: its `collection_id`."""
    change = parse_metadata_object(body.metadata, "metadata")
    return lake.create_collection(body.collection_name, body.content_type, change)


@api.post("/files/metadata", tags=["metadata"])
def files_metadata(body: FileMetadataBody, lake: LakeDep, _key: KeyDep) -> dict:
    target = _file_target(body.target)
    entries = parse_file_metadata(body.document, "the metadata document")
    return lake.update_files_metadata(target, entries)


# Annotations ---------------------------------------------------------------------------------


@api.post("/annotations", tags=["annotations"])
async def upload_annotations(
    request: Request, lake: LakeDep, _key: KeyDep, rid: RequestIdDep
) -> dict:
    """Start an annotation upload: `{"target": {kind, ...}, "annotations": {document,
    operation_id, is_model_run, is_normalized, shape_type, source}}` (read raw: files are big)."""
    try:
        body = orjson.loads(await request.body())
        target = _file_target(body["target"])
        annotation_file = AnnotationFile.from_json(body["annotations"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise InvalidArgumentError(f"malformed annotation upload: {exc!r}") from exc
    return await run_in_threadpool(lake.upload_annotations, target, annotation_file, rid)


@api.post("/collections/{collection_id}/annotations/remove", tags=["annotations"])
def remove_annotations(
    collection_id: str, body: RemoveAnnotationsBody, lake: LakeDep, _key: KeyDep, rid: RequestIdDep
) -> dict:
    return lake.remove_annotations(collection_id, body.operation_id, rid)


@api.get("/collections/{collection_id}/annotations", tags=["annotations"])
def annotation_page(
    collection_id: str,
    links: LinksDep,
    lake: LakeDep,
    _key: KeyDep,
    selection: AnnotationSelectionDep,
    after: str | None = None,
    limit: int = 1000,
    with_urls: bool = False,
) -> Response:
    """A page of a collection's files with their annotations; `next` is the next `after`."""
    page = lake.annotation_page(collection_id, selection, after, limit, with_urls, links)
    return Response(orjson.dumps(page), media_type="application/json")


@api.get("/collections/{collection_id}/export.json", tags=["annotations"])
def export_annotations(
    collection_id: str,
    lake: LakeDep,
    _key: KeyDep,
    selection: AnnotationSelectionDep,
) -> StreamingResponse:
    """The collection's `annotations.json`, as `download_collection` writes it, streamed."""
    chunks = lake.export_annotations(collection_id, selection)
    return StreamingResponse(
        chunks, media_type="application/json", headers=_attachment("annotations.json")
    )


@api.get("/collections/{collection_id}/export.zip", tags=["annotations"])
def export_zip(
    collection_id: str,
    lake: LakeDep,
    _key: KeyDep,
    selection: AnnotationSelectionDep,
) -> StreamingResponse:
    """The collection's files and `annotations.json` as a zip, streamed as it is made."""
    name = lake.collection_details(collection_id)["storage_name"]
    chunks = lake.export_zip(collection_id, selection)
    return StreamingResponse(
        chunks, media_type="application/zip", headers=_attachment(f"{name}.zip")
    )


def _attachment(file_name: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(file_name)}"}


# Reading back ---------------------------------------------------------------------------------


@api.get("/collections", tags=["collections"])
def list_collections(
    lake: LakeDep,
    _key: KeyDep,
    content_type: str | None = None,
    page_index: int = 0,
    page_size: int = MAX_CATALOG_PAGE,
) -> list[dict]:
    """Collections not in the trash, by name, with their counts of live files."""
    return lake.list_collections(content_type, page_index, page_size)


@api.get("/operations", tags=["annotations"])
def list_operations(
    lake: LakeDep,
    _key: KeyDep,
    collection_id: str | None = None,
    page_index: int = 0,
    page_size: int = MAX_CATALOG_PAGE,
) -> list[dict]:
    """Operations with their kind and annotation and file counts (within a collection)."""
    return lake.list_operations(collection_id, page_index, page_size)


@api.get("/labels", tags=["annotations"])
def list_labels(
    lake: LakeDep, _key: KeyDep, page_index: int = 0, page_size: int = MAX_CATALOG_PAGE
) -> list[dict]:
    """Labels with their annotation and file counts."""
    return lake.list_labels(page_index, page_size)


@api.post("/collections/{collection_id}/trash", tags=["collections"])
def trash_collection(collection_id: str, lake: LakeDep, _key: KeyDep, rid: RequestIdDep) -> dict:
    """Move a collection and the files uploaded to it to the trash."""
    return lake.trash_collection(collection_id, rid)


@api.get("/collections/by-name", tags=["collections"])
def collection_id(name: str, content_type: str, lake: LakeDep, _key: KeyDep) -> dict:
    return {"collection_id": lake.collection_id(name, content_type)}


@api.get("/collections/{collection_id}", tags=["collections"])
def collection_details(collection_id: str, lake: LakeDep, _key: KeyDep) -> dict:
    return lake.collection_details(collection_id)


@api.get("/files/details", tags=["files"])
def file_details(unique_name: str, lake: LakeDep, _key: KeyDep) -> dict:
    return lake.file_details(unique_name)


@api.get("/files/url", tags=["files"])
def download_url(
    file_key: str,
    links: LinksDep,
    lake: LakeDep,
    _key: KeyDep,
    expires_in: str | None = None,
) -> dict:
    """A URL of the file's bytes that works without credentials until it expires
    (`expires_in` whole seconds, 1 to 604800; default the server's `METALAKE_URL_EXPIRY`)."""
    seconds = None if expires_in is None else expiry_from_text(expires_in, "expires_in")
    return {"url": lake.download_url(file_key, seconds, links)}


@api.get("/files/thumbnail", tags=["files"])
def thumbnail(
    unique_name: str, lake: LakeDep, _key: KeyDep, size: int = THUMBNAIL_SIZE, v: str = ""
) -> Response:
    """A JPEG thumbnail of an image. With `v` (the file's sha256, as the web app asks) the
    answer never changes, so browsers keep it for a year without asking again."""
    cache = "private, max-age=31536000, immutable" if v else "private, no-cache"
    return Response(
        lake.thumbnail(unique_name, size), media_type="image/jpeg", headers={"Cache-Control": cache}
    )


@api.get("/files/view", tags=["files"])
def file_view(unique_name: str, lake: LakeDep, _key: KeyDep) -> dict:
    """A file's details (as `/files/details`), its annotations' label colors, and the
    collections it belongs to (uploaded to or added to)."""
    return lake.item_view(unique_name)


@api.get("/trash", tags=["items"])
def trash_listing(
    lake: LakeDep,
    _key: KeyDep,
    content_type: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Response:
    """Trashed files, most recently trashed first (`next` is the next page's `after`)."""
    page = lake.trash_page(content_type, after, limit)
    return Response(orjson.dumps(page), media_type="application/json")


class NeighboursBody(SelectionBody):
    sort_order: dict[str, Any] = {}
    unique_name: str


@api.post("/items/neighbours", tags=["items"])
def item_neighbours(body: NeighboursBody, lake: LakeDep, _key: KeyDep) -> dict:
    """The selected files just before and after a file in the sort order (`previous`, `next`:
    unique names, or null at either end)."""
    return lake.item_neighbours(
        ItemSelection.from_json(body.selection),
        SortOrder.from_object(body.sort_order),
        body.unique_name,
    )


class QueryCheckBody(StrictBody):
    query: str


@api.post("/query/check", tags=["items"])
def check_query(body: QueryCheckBody, lake: LakeDep, _key: KeyDep) -> dict:
    """Whether a query would be accepted, without running it: `{"valid": true}`, or the Lake's
    `message` and the `column` (from 1) it names."""
    try:
        lake.check_query(body.query)
    except InvalidQueryError as exc:
        return {"valid": False, "message": str(exc), "column": exc.column}
    return {"valid": True}


@api.post("/items/list", tags=["items"], response_model=list[dict[str, Any]])
def list_items(body: ListBody, links: LinksDep, lake: LakeDep, _key: KeyDep) -> Response:
    """One page of the items a selection (scope, query, filter) picks, in the sort order."""
    page = lake.list_items(
        ItemSelection.from_json(body.selection),
        SortOrder.from_object(body.sort_order),
        body.page_index,
        body.page_size,
        with_urls=body.with_urls,
        links=links,
    )
    return Response(orjson.dumps(page), media_type="application/json")


class PageBody(SelectionBody):
    sort_order: dict[str, Any] = {}
    page_size: int = 100
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    with_urls: bool = False
    with_annotations: bool = Field(False, description="add each item's annotations")


@api.post("/items/page", tags=["items"], response_model=dict[str, Any])
def item_page(body: PageBody, links: LinksDep, lake: LakeDep, _key: KeyDep) -> Response:
    """The page of the selected items after `cursor`, and the cursor of the page after it
    (`next_cursor`, null after the last page): every page costs the same, however deep."""
    page = lake.item_page(
        ItemSelection.from_json(body.selection),
        SortOrder.from_object(body.sort_order),
        body.page_size,
        body.cursor,
        with_urls=body.with_urls,
        links=links,
        with_annotations=body.with_annotations,
    )
    return Response(orjson.dumps(page), media_type="application/json")


@api.post("/items/count", tags=["items"])
def count_items(body: SelectionBody, lake: LakeDep, _key: KeyDep) -> dict:
    return {"count": lake.count_items(ItemSelection.from_json(body.selection))}


class FacetsBody(SelectionBody):
    fields: list[str] | None = Field(
        None, description="label, tag, operation or metadata.<key> (default: the first three)"
    )
    top: int = Field(DEFAULT_TOP, description=f"values per field, 1 to {MAX_TOP}")


@api.post("/items/facets", tags=["items"])
def item_facets(body: FacetsBody, lake: LakeDep, _key: KeyDep) -> dict:
    """The most frequent values of each field among the selected files, with file counts."""
    return lake.facets(ItemSelection.from_json(body.selection), body.fields, body.top)


@api.post("/items/trash", tags=["items"])
def trash_items(body: SelectionBody, lake: LakeDep, _key: KeyDep, rid: RequestIdDep) -> dict:
    """Move the selected items to the trash; their bytes and annotations are kept."""
    return lake.trash(ItemSelection.from_json(body.selection), rid)


@api.post("/items/restore", tags=["items"])
def restore_items(body: SelectionBody, lake: LakeDep, _key: KeyDep, rid: RequestIdDep) -> dict:
    """Bring the selected items back from the trash."""
    return lake.restore_from_trash(ItemSelection.from_json(body.selection), rid)


@api.post("/trash/empty", tags=["items"])
def empty_trash(body: EmptyTrashBody, lake: LakeDep, _key: KeyDep, rid: RequestIdDep) -> dict:
    """Delete for good (rows and bytes) what has been in the trash long enough."""
    return lake.empty_trash(body.older_than_days, rid)


@api.post("/collections/add", tags=["collections"])
def add_to_collection(
    body: AddToCollectionBody, lake: LakeDep, _key: KeyDep, rid: RequestIdDep
) -> dict:
    """Create a collection if new and add the selected items to it."""
    selection = ItemSelection.from_json(body.selection)
    return lake.add_to_collection(body.collection_name, body.content_type, selection, rid)


@api.post("/datasets", tags=["datasets"])
def create_dataset(
    body: DatasetVersionBody, lake: LakeDep, _key: KeyDep, rid: RequestIdDep
) -> dict:
    """Make version 1 of a new dataset: the selected files and annotations, frozen now."""
    request = VersionRequest.from_json(body.request)
    return lake.create_dataset(body.dataset_name, request, rid)


@api.post("/datasets/next-version", tags=["datasets"])
def update_dataset(
    body: DatasetVersionBody, lake: LakeDep, _key: KeyDep, rid: RequestIdDep
) -> dict:
    """Make the next version of a dataset from a new selection."""
    request = VersionRequest.from_json(body.request)
    return lake.update_dataset(body.dataset_name, request, rid)


@api.get("/datasets", tags=["datasets"])
def list_datasets(lake: LakeDep, _key: KeyDep) -> list[dict]:
    """Every dataset, with its latest version's counts."""
    return lake.list_datasets()


@api.get("/datasets/by-name", tags=["datasets"])
def get_dataset(dataset_name: str, lake: LakeDep, _key: KeyDep) -> dict:
    """A dataset and its versions with their counts per split and label."""
    return lake.get_dataset(dataset_name)


@api.get("/dataset-versions/{version_id}", tags=["datasets"])
def get_dataset_version(version_id: str, lake: LakeDep, _key: KeyDep) -> dict:
    """One version with its counts per split and label and its categories."""
    return lake.dataset_version(version_id)


@api.delete("/dataset-versions/{version_id}", tags=["datasets"])
def delete_dataset_version(version_id: str, lake: LakeDep, _key: KeyDep, rid: RequestIdDep) -> dict:
    """Delete a version (with its dataset, if it was the last) and the bytes only it held."""
    return lake.delete_dataset_version(version_id, rid)


@api.get("/dataset-versions/{version_id}/files", tags=["datasets"])
def dataset_page(
    version_id: str,
    split: str,
    links: LinksDep,
    lake: LakeDep,
    _key: KeyDep,
    after: str | None = None,
    limit: int = 1000,
    with_urls: bool = False,
    with_annotations: bool = True,
) -> Response:
    """A page of one split's files with their annotations; `next` is the next `after`."""
    page = lake.dataset_page(version_id, split, after, limit, with_urls, links, with_annotations)
    return Response(orjson.dumps(page), media_type="application/json")


@api.get("/dataset-versions/{version_id}/export.zip", tags=["datasets"])
def dataset_zip(
    version_id: str,
    export_type: str,
    lake: LakeDep,
    _key: KeyDep,
    with_media: bool = False,
) -> StreamingResponse:
    """A version in a training format (COCO, YOLO, PASCAL VOC, MetaLake JSON) as a zip, with
    its files when `with_media`, streamed as it is made."""
    found = dataset_format(export_type)
    name = export_name(lake.dataset_version(version_id), found)
    chunks = lake.dataset_zip(version_id, export_type, with_media)
    return StreamingResponse(
        chunks, media_type="application/zip", headers=_attachment(f"{name}.zip")
    )


@signed.get(BLOB_ROUTE + "/{key:path}", tags=["files"])
@signed.head(BLOB_ROUTE + "/{key:path}", tags=["files"])
def get_blob(
    key: str,
    lake: LakeDep,
    expires: Annotated[str | None, Query()] = None,
    signature: Annotated[str | None, Query()] = None,
) -> FileResponse:
    """The bytes behind a signed download URL (supports Range; 403 if expired or altered, 404
    once the file is in the trash or deleted). HEAD answers the same headers (size, ETag, ...)
    without the bytes."""
    check_signed(lake.signer, "GET", blob_path(key), expires, signature)
    path = lake.served_file(key)
    return FileResponse(path, filename=key.rsplit("/", 1)[-1])
