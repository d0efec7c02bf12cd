"""The client's uploads: compatibility check, multipart file uploads, and upload jobs."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request

from metalake.errors import InvalidArgumentError, MetaLakeError, UploadSessionNotFoundError
from metalake.lake.ingest import UploadFile, UploadRequest
from metalake.lake.metadata import parse_metadata_object
from metalake.lake.upload_sessions import SKIP
from metalake.server.auth import Credentials, KeyDep, LakeDep, as_caller, get_lake
from metalake.server.layernext import wire
from metalake.server.layernext.bodies import JOB_WAIT_S, Body, ok, refused, router
from metalake.server.links import SignedRoutes

routes = router()

SUPPORTED_VERSIONS = re.compile(r"2\.3(\.\d+)*")
PART_SIZE = 100 << 20
"""The client cuts every file into parts of 100 MiB (the last one shorter, possibly empty)."""
STORAGE_TYPE = "AWS_S3"
"""Part PUTs answer 200 with a quoted ETag, as S3 does, whatever the lake's storage."""


@routes.get("/client/sdk/compatibility/{version}")
def compatibility(version: str, _key: KeyDep) -> dict:
    """Whether this client version works against this server (2.3.x does)."""
    if SUPPORTED_VERSIONS.fullmatch(version):
        return {"isCompatible": True, "message": ""}
    return {
        "isCompatible": False,
        "message": f"layernext {version} is not supported by this MetaLake server; "
        "install layernext==2.3.4",
    }


@routes.post("/client/uploadMetadataInCollection")
def start_upload(body: Body, lake: LakeDep, key: KeyDep) -> dict:
    """Open an upload of the named files into a collection (created if new)."""
    upload = UploadRequest(
        collection_name=body.get("collectionName") or "",
        content_type=wire.content_type_of(body.get("collectionType")),
        files=[UploadFile(str(name), "") for name in body.get("objectKeyList") or []],
        metadata=parse_metadata_object(body.get("metaDataObject"), "metaDataObject"),
        override_metadata=wire.flag(body.get("isOverrideMetaData") or False),
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


@routes.post("/client/fileUpload/initializeMultipartUpload")
async def start_file(body: Body, request: Request, credentials: Credentials) -> dict:
    """Start one file of an upload; `isExisting` tells the client to skip a file the
    collection already has."""
    upload_id = str(body.get("uploadId"))

    def start(_key: str) -> dict:
        f = get_lake(request).uploads.file_by_name(upload_id, str(body.get("fileName")))
        return {
            "fileId": _file_id(upload_id, f["seq"]),
            "fileKey": f["file_name"],
            "isExisting": f["state"] == SKIP,
        }

    return await as_caller(request, credentials, start)


@routes.post("/client/fileUpload/getMultipartPreSignedUrls")
async def part_urls(body: Body, request: Request, credentials: Credentials) -> dict:
    """Signed URLs of a file's parts (again on a retry): PUT them without credentials."""

    def urls(_key: str) -> dict:
        upload_id, seq = _session_file(body.get("fileId"))
        signed = get_lake(request).uploads.part_urls(
            upload_id, seq, body.get("parts"), SignedRoutes.of(request)
        )
        return {
            "parts": [{"PartNumber": n, "signedUrl": url} for n, url in enumerate(signed, start=1)]
        }

    return await as_caller(request, credentials, urls)


@routes.post("/client/fileUpload/finalizeMultipartUpload")
async def finish_file(body: Body, request: Request, credentials: Credentials) -> dict:
    """Assemble a file from its parts, checking each part's ETag."""

    def finish(_key: str) -> dict:
        upload_id, seq = _session_file(body.get("fileId"))
        try:
            etags = {int(p["PartNumber"]): str(p["ETag"]) for p in body.get("parts") or []}
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"parts must be [{{PartNumber, ETag}}]: {exc!r}") from exc
        return ok(**get_lake(request).uploads.finish_parts(upload_id, seq, etags))

    return await as_caller(request, credentials, finish)


@routes.get("/client/collectionUploadingStatus/{upload_id}/complete")
def complete_upload(
    upload_id: str, lake: LakeDep, _key: KeyDep, isReturnedUniqueName: str = "False"
) -> dict:
    """End the upload and answer once its job has processed the files (files that never
    arrived are left out), so the client's first job poll sees it done."""
    result = lake.complete_upload(upload_id, drop_unsent=True)
    job = lake.wait_for_job(result["job_id"], JOB_WAIT_S)
    names = [result["unique_name"]] if "unique_name" in result else []
    return ok(
        uploadedFileList=names if wire.flag(isReturnedUniqueName) else [],
        jobStatus=job["status"],
    )


@routes.get("/client/jobs/{job_id}/getStatus")
def job_status(job_id: str, lake: LakeDep, _key: KeyDep) -> dict:
    """A job's status code (1 running, 2 completed, 3 queued, 4 failed) and progress."""
    try:
        job = lake.get_job(job_id)
    except MetaLakeError as exc:
        return refused(str(exc))
    return ok(status=wire.JOB_STATUS_CODES[job["status"]], progress=job["progress"])
