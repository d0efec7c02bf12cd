"""The client's annotation uploads (by batch) and collection downloads (by page)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import Request

from metalake.errors import InvalidArgumentError
from metalake.lake.annotations.documents import AnnotationFile
from metalake.lake.annotations.exports import ANNOTATION_FILE, MEDIA_FOLDER
from metalake.lake.annotations.store import AnnotationSelection
from metalake.lake.file_targets import FileTarget
from metalake.server.auth import KeyDep, LakeDep
from metalake.server.layernext import wire
from metalake.server.layernext.bodies import JOB_WAIT_S, Body, download_page, ok, router
from metalake.server.links import SignedRoutes

log = logging.getLogger(__name__)

routes = router()

ANNOTATION_FORMAT = "MetaLake JSON"


@routes.post("/client/system/label/references")
def label_references(body: Body, _key: KeyDep) -> dict:
    """References for every label, attribute and value of an annotation file."""
    labels = body.get("labels") or {}
    if not isinstance(labels, dict):
        raise InvalidArgumentError("labels must be an object of label: {attribute: [values]}")
    return wire.label_references(labels)


def _annotation_target(entry: dict[str, Any]) -> tuple[FileTarget, str]:
    """How one entry of an annotation batch names its file, and the name."""
    if entry.get("objectKey"):
        return FileTarget("unique_name"), _text(entry, "objectKey")
    if entry.get("jobId"):
        return FileTarget("job", job_id=_text(entry, "jobId")), _text(entry, "fileName")
    if entry.get("storagePath"):
        bucket = wire.bucket_of(entry.get("bucketName"))
        return FileTarget("storage_path", bucket_name=bucket), _text(entry, "storagePath")
    raise InvalidArgumentError("an annotation entry needs objectKey, jobId or storagePath")


def _text(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str):
        raise InvalidArgumentError(f"an annotation entry's {key} must be a string, not {value!r}")
    return value


def _annotation_objects(entry: dict[str, Any]) -> list[Any]:
    """The shapes of one entry: `data.annotationObjects`, a list (absent means none)."""
    data = entry.get("data") or {}
    objects = (data.get("annotationObjects") or []) if isinstance(data, dict) else None
    if not isinstance(objects, list):
        raise InvalidArgumentError("an annotation entry's data.annotationObjects must be a list")
    return objects


@routes.post("/metadata/operationdata/{operation_id}/update")
def upload_annotations(
    operation_id: str, body: Body, lake: LakeDep, _key: KeyDep, isNormalized: str = "False"
) -> dict:
    """One batch of an annotation upload: each image's annotations replace what the operation
    had on it. Answers once the batch is written."""
    documents: dict[FileTarget, list[dict[str, Any]]] = {}
    for entry in wire.metadata_updates(body.get("metaUpdatesArray")):
        target, name = _annotation_target(entry)
        images = documents.setdefault(target, [])
        annotations = [wire.annotation(o) for o in _annotation_objects(entry)]
        images.append({"image": name, "annotations": annotations})
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
        try:
            started = lake.upload_annotations(target, annotation_file)
        except InvalidArgumentError as exc:
            # layernext 2.3.4 drops this answer unread: the server log is where a user can see it.
            log.warning("annotation batch of operation %r refused: %s", operation_id, exc)
            raise
        job = lake.wait_for_job(started["job_id"], JOB_WAIT_S)
        messages.append(f"{started['message']}: {job['message']}")
    return ok(message="; ".join(messages) or "no images in this batch")


@routes.get("/client/collection/deleteAnnotation")
def remove_annotations(collectionId: str, operationId: str, lake: LakeDep, _key: KeyDep) -> dict:
    """Remove one operation's annotations from the files of a collection."""
    return ok(message=lake.remove_annotations(collectionId, operationId)["message"])


@routes.get("/client/getAnnotations/{collection_id}/collection")
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
        operations = orjson.loads(operationIdList) or []
    except orjson.JSONDecodeError as exc:
        raise InvalidArgumentError(f"operationIdList must be a JSON list: {exc}") from exc
    if not isinstance(operations, list):
        raise InvalidArgumentError(f"operationIdList must be a JSON list, not {operationIdList!r}")
    selection = AnnotationSelection(annotationType, tuple(operations))
    page = lake.annotation_page(
        collection_id,
        selection,
        limit=pageSize,
        with_urls=True,
        links=SignedRoutes.of(request),
        skip=pageNo * pageSize,
    )
    resources = [
        {
            "fileName": image["image"],
            "fileDownloadFolderLocation": MEDIA_FOLDER,
            "fileUrl": image["url"],
            "isMediaFile": True,
            "rawAnnotations": {
                "image": image["image"],
                "annotations": [wire.raw_annotation(a) for a in image["annotations"]],
            },
        }
        for image in page["images"]
    ]
    return download_page(
        collection_id,
        ANNOTATION_FILE,
        ANNOTATION_FORMAT,
        page["storage_name"],
        [MEDIA_FOLDER],
        resources,
        page["next"] is not None,
    )


@routes.post("/job/updateJob/basicAuthRequest")
def client_job(body: Body, _key: KeyDep) -> dict:
    """The client's own records of its downloads: accepted and logged, not kept."""
    log.debug("layernext client job %s: status %s", body.get("sessionId"), body.get("status"))
    return {"success": True, "isSuccess": True, "jobId": str(body.get("sessionId") or "")}
