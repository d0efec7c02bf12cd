"""The `/datalake/...` routes the public `layernext` 2.3.x client calls, each a thin call into
the Lake: parse the wire form, call the same Lake method our own API calls, answer in the wire
form (spec/layernext-protocol.md, sections 1-10 and 12).

Every route takes the client's API key and secret as HTTP Basic, like our own API.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from metalake.errors import InvalidArgumentError, MetaLakeError, UploadSessionNotFoundError
from metalake.lake.annotations.documents import AnnotationFile
from metalake.lake.annotations.store import AnnotationSelection
from metalake.lake.file_targets import FileTarget
from metalake.lake.ingest import UploadFile, UploadRequest
from metalake.lake.lake import Lake
from metalake.lake.metadata import parse_file_metadata, parse_metadata_object
from metalake.lake.records import NO_MORE_PAGES, past_last_page
from metalake.lake.selection import ItemSelection, SortOrder
from metalake.lake.upload_sessions import SKIP
from metalake.server.api import absolute
from metalake.server.auth import KeyDep, LakeDep
from metalake.server.layernext import wire
from metalake.server.layernext.errors import LAYERNEXT_PREFIX

log = logging.getLogger(__name__)

layernext = APIRouter(prefix=LAYERNEXT_PREFIX + "/api", tags=["layernext"])

SUPPORTED_VERSIONS = re.compile(r"2\.3(\.\d+)*")
PART_SIZE = 100 << 20
"""The client cuts every file into parts of 100 MiB (the last one shorter, possibly empty)."""
STORAGE_TYPE = "AWS_S3"
"""Part PUTs answer 200 with a quoted ETag, as S3 does, whatever the lake's storage."""
JOB_WAIT_S = 600.0
"""How long `complete` and annotation updates wait for their job: the client polls a job that
is not finished only every 30 s, so answering once it is done saves its users that wait."""
ANNOTATION_PAGE_FILE = "annotations.json"
ANNOTATION_FORMAT = "MetaLake JSON"
MEDIA_FOLDER = "data"


async def body_of(request: Request) -> dict[str, Any]:
    """The JSON object in a request body; GETs may carry one too, and empty means `{}`.

    A dependency, read on the event loop, so that the routes themselves can be plain
    functions run in the thread pool (the Lake's calls block on the database)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgumentError(f"the request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidArgumentError("the request body must be a JSON object")
    return body


Body = Annotated[dict[str, Any], Depends(body_of)]


def _ok(**fields: Any) -> dict[str, Any]:
    return {"isSuccess": True, **fields}


def _warning(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Refusals as `200 {"isSuccess": false, "warningMsg"}`: the only failure the selection
    call's client handles."""
    try:
        return call()
    except MetaLakeError as exc:
        return {"isSuccess": False, "warningMsg": str(exc)}


# Connection -----------------------------------------------------------------------------------


@layernext.get("/client/sdk/compatibility/{version}")
def compatibility(version: str, _key: KeyDep) -> dict:
    """Whether this client version works against this server (2.3.x does)."""
    if SUPPORTED_VERSIONS.fullmatch(version):
        return {"isCompatible": True, "message": ""}
    return {
        "isCompatible": False,
        "message": f"layernext {version} is not supported by this MetaLake server; "
        "install layernext==2.3.4",
    }


# Uploads --------------------------------------------------------------------------------------


@layernext.post("/client/uploadMetadataInCollection")
def start_upload(body: Body, lake: LakeDep, key: KeyDep) -> dict:
    """Open an upload of the named files into a collection (created if new)."""
    upload = UploadRequest(
        collection_name=body.get("collectionName") or "",
        content_type=wire.content_type_of(body.get("collectionType")),
        files=[UploadFile(str(name), "") for name in body.get("objectKeyList") or []],
        metadata=parse_metadata_object(body.get("metaDataObject"), "metaDataObject"),
        override_metadata=bool(body.get("isOverrideMetaData")),
        storage_prefix=body.get("storagePrefixPath") or None,
    )
    session = lake.uploads.open_unsized(upload, key, PART_SIZE)
    return {
        "storageType": STORAGE_TYPE,
        "uploadId": session["session_id"],
        "collectionId": session["collection_id"],
        "jobId": session["job_id"],
    }


def _file_id(upload_id: str, seq: int) -> str:
    return f"{upload_id}:{seq}"


def _session_file(file_id: Any) -> tuple[str, int]:
    upload_id, _, seq = str(file_id).rpartition(":")
    if not upload_id or not seq.isdigit():
        raise UploadSessionNotFoundError(f"no upload file {file_id!r}")
    return upload_id, int(seq)


@layernext.post("/client/fileUpload/initializeMultipartUpload")
def start_file(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    """Start one file of an upload; `isExisting` tells the client to skip a file the
    collection already has."""
    upload_id = str(body.get("uploadId"))
    f = lake.uploads.file_by_name(upload_id, str(body.get("fileName")))
    return {
        "fileId": _file_id(upload_id, f["seq"]),
        "fileKey": f["file_name"],
        "isExisting": f["state"] == SKIP,
    }


@layernext.post("/client/fileUpload/getMultipartPreSignedUrls")
def part_urls(body: Body, request: Request, lake: LakeDep, _key: KeyDep) -> dict:
    """Signed URLs of a file's parts (again on a retry): PUT them without credentials."""
    upload_id, seq = _session_file(body.get("fileId"))
    urls = lake.uploads.part_urls(upload_id, seq, body.get("parts"))
    return {
        "parts": [
            {"PartNumber": n, "signedUrl": absolute(request, url)}
            for n, url in enumerate(urls, start=1)
        ]
    }


@layernext.post("/client/fileUpload/finalizeMultipartUpload")
def finish_file(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    """Assemble a file from its parts, checking each part's ETag."""
    upload_id, seq = _session_file(body.get("fileId"))
    try:
        etags = {int(p["PartNumber"]): str(p["ETag"]) for p in body.get("parts") or []}
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"parts must be [{{PartNumber, ETag}}]: {exc!r}") from exc
    return _ok(**lake.uploads.finish_parts(upload_id, seq, etags))


@layernext.get("/client/collectionUploadingStatus/{upload_id}/complete")
def complete_upload(
    upload_id: str, lake: LakeDep, _key: KeyDep, isReturnedUniqueName: str = "False"
) -> dict:
    """End the upload and answer once its job has processed the files (files that never
    arrived are left out), so the client's first job poll sees it done."""
    result = lake.complete_upload(upload_id, drop_unsent=True)
    job = lake.wait_for_job(result["job_id"], JOB_WAIT_S)
    names = [result["unique_name"]] if "unique_name" in result else []
    return _ok(
        uploadedFileList=names if wire.flag(isReturnedUniqueName) else [],
        jobStatus=job["status"],
    )


@layernext.get("/client/jobs/{job_id}/getStatus")
def job_status(job_id: str, lake: LakeDep, _key: KeyDep) -> dict:
    """A job's status code (1 running, 2 completed, 3 queued, 4 failed) and progress."""
    try:
        job = lake.get_job(job_id)
    except MetaLakeError as exc:
        return {"isSuccess": False, "message": str(exc)}
    return _ok(status=wire.JOB_STATUS_CODES[job["status"]], progress=job["progress"])


# Annotations ---------------------------------------------------------------------------------


@layernext.post("/client/system/label/references")
def label_references(body: Body, _key: KeyDep) -> dict:
    """References for every label, attribute and value of an annotation file."""
    labels = body.get("labels") or {}
    if not isinstance(labels, dict):
        raise InvalidArgumentError("labels must be an object of label: {attribute: [values]}")
    return wire.label_references(labels)


def _annotation_target(entry: dict[str, Any]) -> tuple[FileTarget, str]:
    """How one entry of an annotation batch names its file, and the name."""
    if entry.get("objectKey"):
        return FileTarget("unique_name"), entry["objectKey"]
    if entry.get("jobId"):
        return FileTarget("job", job_id=entry["jobId"]), str(entry.get("fileName"))
    if entry.get("storagePath"):
        bucket = wire.bucket_of(entry.get("bucketName"))
        return FileTarget("storage_path", bucket_name=bucket), entry["storagePath"]
    raise InvalidArgumentError("an annotation entry needs objectKey, jobId or storagePath")


@layernext.post("/metadata/operationdata/{operation_id}/update")
def upload_annotations(
    operation_id: str, body: Body, lake: LakeDep, _key: KeyDep, isNormalized: str = "False"
) -> dict:
    """One batch of an annotation upload: each image's annotations replace what the operation
    had on it. Answers once the batch is written."""
    documents: dict[FileTarget, list[dict[str, Any]]] = {}
    for entry in wire.metadata_updates(body.get("metaUpdatesArray")):
        target, name = _annotation_target(entry)
        objects = (entry.get("data") or {}).get("annotationObjects") or []
        images = documents.setdefault(target, [])
        images.append({"image": name, "annotations": [wire.annotation(o) for o in objects]})
    files = [
        (
            target,
            AnnotationFile(
                {"images": images},
                operation_id,
                body.get("operationMode") == wire.MACHINE_MODE,
                wire.flag(isNormalized),
                source="the annotation batch",
            ),
        )
        for target, images in documents.items()
    ]
    messages = []
    for target, annotation_file in files:
        started = lake.upload_annotations(target, annotation_file)
        job = lake.wait_for_job(started["job_id"], JOB_WAIT_S)
        messages.append(f"{started['message']}: {job['message']}")
    return _ok(message="; ".join(messages) or "no images in this batch")


@layernext.get("/client/collection/deleteAnnotation")
def remove_annotations(collectionId: str, operationId: str, lake: LakeDep, _key: KeyDep) -> dict:
    """Remove one operation's annotations from the files of a collection."""
    return _ok(message=lake.remove_annotations(collectionId, operationId)["message"])


@layernext.get("/client/getAnnotations/{collection_id}/collection")
def annotation_page(
    collection_id: str,
    request: Request,
    lake: LakeDep,
    _key: KeyDep,
    pageNo: int = 0,
    pageSize: int = 250,
    operationIdList: str = "[]",
    annotationType: str = "all",
) -> dict:
    """A page (by number) of a collection's files with signed URLs and their annotations."""
    try:
        operations = tuple(orjson.loads(operationIdList) or ())
    except orjson.JSONDecodeError as exc:
        raise InvalidArgumentError(f"operationIdList must be a JSON list: {exc}") from exc
    selection = AnnotationSelection(annotationType, operations)
    page = lake.annotation_page(
        collection_id,
        selection,
        limit=pageSize,
        with_urls=True,
        served=True,
        skip=pageNo * pageSize,
    )
    resources = [
        {
            "fileName": image["image"],
            "fileDownloadFolderLocation": MEDIA_FOLDER,
            "fileUrl": absolute(request, image["url"]),
            "isMediaFile": True,
            "rawAnnotations": {
                "image": image["image"],
                "annotations": [wire.raw_annotation(a) for a in image["annotations"]],
            },
        }
        for image in page["images"]
    ]
    return {
        "data": {
            "identifier": collection_id,
            "rawFileName": ANNOTATION_PAGE_FILE,
            "format": ANNOTATION_FORMAT,
            "groupUniqueName": page["storage_name"],
            "creatableDirectories": [MEDIA_FOLDER],
            "nextPage": page["next"] is not None,
            "resourceArray": resources,
        }
    }


@layernext.post("/job/updateJob/basicAuthRequest")
def client_job(body: Body, _key: KeyDep) -> dict:
    """The client's own records of its downloads: accepted and logged, not kept."""
    log.debug("layernext client job %s: status %s", body.get("sessionId"), body.get("status"))
    return {"success": True, "isSuccess": True, "jobId": str(body.get("sessionId") or "")}


# Metadata ------------------------------------------------------------------------------------


@layernext.post("/client/metadata/getCollectionIdByName")
def collection_id(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    content_type = wire.content_type_of(body.get("objectType"))
    return _ok(collectionId=lake.collection_id(str(body.get("collectionName")), content_type))


def _requested(fields: dict[str, Any], required: Any) -> dict[str, Any]:
    """The fields `requiredMetaObj` asks for (`{name: true}`) that exist."""
    if not isinstance(required, dict):
        return {}
    return {name: fields[name] for name, wanted in required.items() if wanted and name in fields}


@layernext.post("/client/metadata/getCollectionDetails")
def collection_details(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    details = lake.collection_details(str(body.get("collectionId")))
    extra = {
        **details["metadata"],
        "Tags": details["tags"],
        "fileCount": details["item_count"],
        "createdAt": details["created"],
        "updatedAt": details["modified"],
    }
    return _ok(
        itemDetails={
            "id": details["id"],
            "name": details["name"],
            "contentType": wire.COLLECTION_CODES[details["content_type"]],
            "storagePath": details["storage_name"],
            **_requested(extra, body.get("requiredMetaObj")),
        }
    )


@layernext.post("/client/metadata/getItemDetails")
def file_details(body: Body, request: Request, lake: LakeDep, _key: KeyDep) -> dict:
    details = lake.file_details(str(body.get("uniqueFileName")))
    url = absolute(request, lake.download_url(details["unique_name"], served=True))
    extra = {
        **details["metadata"],
        "fileSize": details["size"],
        "frameCount": details["frame_count"],
        "frameRate": details["fps"],
        "resolution": {"width": details["width"], "height": details["height"]},
        "storagePath": details["storage_key"],
        "bucketName": details["bucket"],
        "Tags": details["tags"],
        "createdAt": details["created"],
        "updatedAt": details["modified"],
    }
    return _ok(
        itemDetails={
            "id": details["id"],
            "name": details["file_name"],
            "uniqueName": details["unique_name"],
            "url": url,
            **_requested(extra, body.get("requiredMetaObj")),
        }
    )


@layernext.post("/client/metadata/validateTags")
def validate_tags(body: Body, _key: KeyDep) -> dict:
    """Tags are checked as any metadata upload checks them (406 with the reason)."""
    parse_metadata_object({"Tags": body.get("tags")}, "tags")
    return _ok()


@layernext.post("/client/metadata/validateMetaFields")
def validate_fields(body: Body, _key: KeyDep) -> dict:
    """Field names are checked as any metadata upload checks them (406 with the reason)."""
    fields = body.get("fields") or []
    if not isinstance(fields, list):
        raise InvalidArgumentError("fields must be a list of field names")
    parse_metadata_object(dict.fromkeys(fields, ""), "fields")
    return _ok()


@layernext.post("/client/metadata/uploadMetadataByJson")
def files_metadata(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    """Per-file metadata, the files named by collection, job, storage path or unique name."""
    if body.get("collectionId"):
        collection = lake.collection_details(str(body["collectionId"]))
        target = FileTarget(
            "collection",
            collection_name=collection["name"],
            content_type=collection["content_type"],
        )
    elif body.get("jobId"):
        target = FileTarget("job", job_id=str(body["jobId"]))
    elif body.get("bucketName"):
        target = FileTarget("storage_path", bucket_name=wire.bucket_of(body["bucketName"]))
    else:
        target = FileTarget("unique_name")
    entries = parse_file_metadata({"files": body.get("metadata")}, "the metadata")
    return lake.update_files_metadata(target, entries)


@layernext.post("/client/metadata/uploadMetadataByMetaObject")
def collection_metadata(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    return lake.update_collection_metadata(
        str(body.get("collectionName")),
        wire.content_type_of(body.get("objectType")),
        parse_metadata_object(body.get("metadata"), "metadata"),
        bool(body.get("isApplyToAllFiles", True)),
    )


@layernext.post("/client/metadata/collection/create")
def create_collection(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    """Create an empty collection (if new) with metadata on its head."""
    created = lake.create_collection(
        str(body.get("collectionName")),
        wire.content_type_of(body.get("objectType")),
        parse_metadata_object(body.get("customMetaObject"), "customMetaObject"),
    )
    return _ok(collectionId=created["collection_id"], message=created["message"])


# Selections, listing, trash ------------------------------------------------------------------


@layernext.get("/client/{collection_id}/getObjectTypeById")
def object_type(collection_id: str, lake: LakeDep, _key: KeyDep) -> dict:
    details = lake.collection_details(collection_id)
    return {"objectType": wire.COLLECTION_CODES[details["content_type"]]}


def _selection(body: dict[str, Any], collection_id: str | None = None) -> ItemSelection:
    """The items a list, count or selection body picks: a collection's or a content type's."""
    filter_object = wire.item_filter(body.get("filterData"))
    query = body.get("query") or ""
    if collection_id:
        return ItemSelection.of(collection_id=collection_id, query=query, filter=filter_object)
    code = body.get("contentType")
    if code not in wire.FILE_CODES:
        raise InvalidArgumentError(
            f"contentType {code!r} is not a file type (2 image, 1 video, 6 other): MetaLake "
            "lists and selects files, not collections or datasets"
        )
    return ItemSelection.of(wire.FILE_CODES[code], query=query, filter=filter_object)


@layernext.post("/client/query/getSelectionId")
def selection_id(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    """Snapshot what a selection picks now, for the call that acts on it (trash)."""

    def take() -> dict[str, Any]:
        if body.get("isAllSelected"):
            selection = _selection(body, body.get("collectionId") or None)
        else:
            ids = body.get("objectIdList") or []
            if len(ids) != 1:
                raise InvalidArgumentError(
                    "MetaLake selects one whole collection by id, or files by query and filter"
                )
            selection = ItemSelection.of(collection_id=str(ids[0]))
        snapshot = lake.snapshot(selection)
        return _ok(selectionTag=snapshot["selection_id"], itemCount=snapshot["item_count"])

    return _warning(take)


@layernext.post("/client/file/trash")
def trash(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    """Move the files of a selection snapshot to the trash (bytes and annotations are kept)."""
    return lake.trash_snapshot(str(body.get("selectionId")))


def _list(
    body: dict[str, Any], request: Request, lake: Lake, collection_id: str | None
) -> list[dict[str, Any]] | dict[str, Any]:
    page_index = body.get("pageIndex", 0)
    page = lake.list_items(
        _selection(body, collection_id),
        SortOrder.from_object(wire.sort_order(body.get("sortBy"))),
        page_index,
        body.get("pageSize", 20),
        with_urls=True,
        served=True,
    )
    if past_last_page(page, page_index):
        return {"isSuccess": False, "message": NO_MORE_PAGES}
    return [
        {
            "id": item["id"],
            "name": item["file_name"],
            "fileName": item["file_name"],
            "uniqueName": item["unique_name"],
            "url": absolute(request, item["url"]),
        }
        for item in page
    ]


@layernext.post("/client/explorer/objects/list")
def list_lake(body: Body, request: Request, lake: LakeDep, _key: KeyDep) -> Any:
    """One page of the lake's files of a type that match the query and filter."""
    return _list(body, request, lake, None)


@layernext.post("/client/explorer/{collection_id}/objects/list")
def list_collection(
    collection_id: str, body: Body, request: Request, lake: LakeDep, _key: KeyDep
) -> Any:
    """One page of a collection's files that match the query and filter."""
    return _list(body, request, lake, collection_id)


@layernext.post("/client/explorer/objects/count")
def count_lake(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    return {"count": lake.count_items(_selection(body))}


@layernext.post("/client/explorer/{collection_id}/objects/count")
def count_collection(collection_id: str, body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    return {"count": lake.count_items(_selection(body, collection_id))}


@layernext.get("/client/downloadUrl")
def download_url(file_key: str, request: Request, lake: LakeDep, _key: KeyDep) -> JSONResponse:
    """A signed URL of a file (by unique name, or storage key), as a bare JSON string."""
    return JSONResponse(absolute(request, lake.download_url(file_key, served=True)))
