"""The client's metadata uploads, validators, and collection and file details."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from metalake.errors import InvalidArgumentError
from metalake.lake.file_targets import FileTarget
from metalake.lake.metadata import parse_file_metadata, parse_metadata_object
from metalake.server.auth import KeyDep, LakeDep
from metalake.server.layernext import wire
from metalake.server.layernext.bodies import Body, ok, router
from metalake.server.links import SignedRoutes

routes = router()


@routes.post("/client/metadata/getCollectionIdByName")
def collection_id(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    content_type = wire.content_type_of(body.get("objectType"))
    return ok(collectionId=lake.collection_id(str(body.get("collectionName")), content_type))


def _requested(fields: dict[str, Any], required: Any) -> dict[str, Any]:
    """The fields `requiredMetaObj` asks for (`{name: true}`) that exist."""
    if not isinstance(required, dict):
        return {}
    return {name: fields[name] for name, wanted in required.items() if wanted and name in fields}


@routes.post("/client/metadata/getCollectionDetails")
def collection_details(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    details = lake.collection_details(str(body.get("collectionId")))
    extra = {
        **details["metadata"],
        "Tags": details["tags"],
        "fileCount": details["item_count"],
        "createdAt": details["created"],
        "updatedAt": details["modified"],
    }
    return ok(
        itemDetails={
            "id": details["id"],
            "name": details["name"],
            "contentType": wire.COLLECTION_CODES[details["content_type"]],
            "storagePath": details["storage_name"],
            **_requested(extra, body.get("requiredMetaObj")),
        }
    )


@routes.post("/client/metadata/getItemDetails")
def file_details(body: Body, request: Request, lake: LakeDep, _key: KeyDep) -> dict:
    details = lake.file_details(str(body.get("uniqueFileName")))
    url = lake.download_url(details["unique_name"], links=SignedRoutes.of(request))
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
    return ok(
        itemDetails={
            "id": details["id"],
            "name": details["file_name"],
            "uniqueName": details["unique_name"],
            "url": url,
            **_requested(extra, body.get("requiredMetaObj")),
        }
    )


@routes.post("/client/metadata/validateTags")
def validate_tags(body: Body, _key: KeyDep) -> dict:
    """Tags are checked as any metadata upload checks them (406 with the reason)."""
    parse_metadata_object({"Tags": body.get("tags")}, "tags")
    return ok()


@routes.post("/client/metadata/validateMetaFields")
def validate_fields(body: Body, _key: KeyDep) -> dict:
    """Field names are checked as any metadata upload checks them (406 with the reason)."""
    fields = body.get("fields") or []
    if not isinstance(fields, list):
        raise InvalidArgumentError("fields must be a list of field names")
    parse_metadata_object(dict.fromkeys(fields, ""), "fields")
    return ok()


@routes.post("/client/metadata/uploadMetadataByJson")
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


@routes.post("/client/metadata/uploadMetadataByMetaObject")
def collection_metadata(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    return lake.update_collection_metadata(
        str(body.get("collectionName")),
        wire.content_type_of(body.get("objectType")),
        parse_metadata_object(body.get("metadata"), "metadata"),
        wire.flag(body.get("isApplyToAllFiles", True)),
    )


@routes.post("/client/metadata/collection/create")
def create_collection(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    """Create an empty collection (if new) with metadata on its head."""
    created = lake.create_collection(
        str(body.get("collectionName")),
        wire.content_type_of(body.get("objectType")),
        parse_metadata_object(body.get("customMetaObject"), "customMetaObject"),
    )
    return ok(collectionId=created["collection_id"], message=created["message"])
