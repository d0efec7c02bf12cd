"""The client's dataset service (`/dataset/...`): versions made from a `getSelectionId`
snapshot, deleted, and downloaded in a training format page by page.

Versions are frozen in MetaLake: both of the client's updates make the next version of the
dataset, from the new selection. The client has no format code, so a download lists every file
of the export: the generated ones on page 1 (a zip per top-level folder, a file for each file at
the root, from a signed route of this server), then the media, 250 per page, by signed or
presigned URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from metalake.errors import InvalidArgumentError, NotSupportedError
from metalake.lake.annotations.store import AnnotationSelection
from metalake.lake.datasets.formats.registry import DatasetFormat, dataset_format, export_name
from metalake.lake.datasets.parts import part_names
from metalake.lake.datasets.records import VersionSummary
from metalake.lake.datasets.versions import VersionRequest
from metalake.lake.lake import Lake
from metalake.server.auth import KeyDep, LakeDep
from metalake.server.layernext.bodies import Body, download_page, ok, router
from metalake.server.layernext.errors import DATASET_PREFIX, ERRORS
from metalake.server.links import SignedRoutes, check_signed
from metalake.server.protocol import EXPORT_ROUTE, export_path

routes = router(DATASET_PREFIX)
exports = APIRouter(tags=["layernext"], responses=ERRORS)
"""The signed route of generated files: fetched by the client without credentials."""

WIRE_FORMAT_NAMES = {"YOLO": "YOLO Darknet"}
"""The format name a download answers: the client makes the listed folders even without media
only for "YOLO Darknet"."""
RAW_FILE_NAME = "unused.json"
"""The client reads `rawFileName` on every download page; datasets have no raw file."""
ROOT = "."


def _version_request(lake: Lake, selection_id: str, body: dict[str, Any]) -> VersionRequest:
    """The lake's request from a create or update body: the snapshot's files, the operations
    (`null` all, `[]` none), labels and split; export types are only checked."""
    if body.get("augmentations") is not None:
        raise NotSupportedError(
            "augmentations are not supported: MetaLake versions hold the files as they are; "
            "leave augmentation_list out"
        )
    export_types = body.get("exportTypes") or []
    if not isinstance(export_types, list):
        raise InvalidArgumentError(f"exportTypes must be a list of names, not {export_types!r}")
    for name in export_types:
        dataset_format(name, "each export type")
    operations = body.get("operations")
    if operations is not None and not isinstance(operations, list):
        raise InvalidArgumentError(
            f"operations must be null (all), [] (no annotations) or a list of operation ids, "
            f"not {operations!r}"
        )
    return VersionRequest.of(
        lake.snapshot_selection(selection_id),
        AnnotationSelection("all", tuple(operations or ())),
        body.get("labels"),
        body.get("splitInfo"),
        0,
        with_annotations=operations != [],
        snapshot_id=selection_id,
    )


def _answer(version: dict[str, Any]) -> dict[str, Any]:
    """What the client hands its user unchanged: the ids `download_dataset` and the updates
    take. MetaLake names a dataset by its name, which is its `datasetId`."""
    return ok(
        datasetId=version["dataset_name"],
        versionId=version["version_id"],
        versionNo=version["version"],
        itemCount=version["file_count"],
        message=version["message"],
    )


@routes.get("/client/dataset/create")
def create_dataset(datasetSelectionId: str, body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    """Version 1 of a new dataset: exactly the live files of the selection snapshot."""
    request = _version_request(lake, datasetSelectionId, body)
    return _answer(lake.create_dataset(str(body.get("name") or ""), request))


def _next_version(lake: Lake, selection_id: str, version_id: str, body: dict[str, Any]) -> dict:
    dataset_name = lake.dataset_version(version_id)["dataset_name"]
    request = _version_request(lake, selection_id, body)
    return _answer(lake.update_dataset(dataset_name, request))


@routes.get("/client/dataset/updateNewVersion")
def update_new_version(
    datasetSelectionId: str, datasetVersionId: str, body: Body, lake: LakeDep, _key: KeyDep
) -> dict:
    """The next version of the version's dataset, from the new snapshot."""
    return _next_version(lake, datasetSelectionId, datasetVersionId, body)


@routes.get("/client/dataset/updateExistingVersion")
def update_existing_version(
    datasetSelectionId: str, datasetVersionId: str, body: Body, lake: LakeDep, _key: KeyDep
) -> dict:
    """Versions are frozen: as `updateNewVersion`, the next version (its new `versionId`)."""
    return _next_version(lake, datasetSelectionId, datasetVersionId, body)


@routes.get("/client/dataset/deleteVersion")
def delete_version(datasetVersionId: str, lake: LakeDep, _key: KeyDep) -> dict:
    """Delete a version (and its dataset with its last one); an unknown one answers 406."""
    return ok(message=lake.delete_dataset_version(datasetVersionId)["message"])


def _generated(
    links: SignedRoutes, lake: Lake, version_id: str, found: DatasetFormat, splits: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The generated files as the client fetches them: zips it unzips into their folder, and
    the files at the export's root."""
    resources = []
    for name, is_zip in part_names(found, splits):
        resource: dict[str, Any] = {
            "fileName": name.removesuffix(".zip") if is_zip else name,
            "fileDownloadFolderLocation": ROOT,
            "fileUrl": links.export(version_id, found.slug, name, lake.url_expiry_s),
            "isMediaFile": False,
        }
        if is_zip:
            resource["isUnzipRequired"] = True
        resources.append(resource)
    return resources


@routes.get("/dataset/getVersionData/{version_id}/{export_type}/")
def version_data(
    version_id: str,
    export_type: str,
    request: Request,
    lake: LakeDep,
    _key: KeyDep,
    pageNo: int = 1,
    pageSize: int = 250,
) -> dict:
    """A page (from 1) of a version's export: its generated files on page 1, then its media."""
    if pageNo < 1:
        raise InvalidArgumentError(f"pageNo counts from 1, not {pageNo}")
    found = dataset_format(export_type)
    version = lake.dataset_version(version_id)
    splits = VersionSummary.of(version).splits
    links = SignedRoutes.of(request)
    files, more = lake.dataset_media(version_id, (pageNo - 1) * pageSize, pageSize, links)
    resources = _generated(links, lake, version_id, found, splits) if pageNo == 1 else []
    resources += [
        {
            "fileName": f["file"],
            "fileDownloadFolderLocation": found.media_folder(f["split"]),
            "fileUrl": f["url"],
            "isMediaFile": True,
        }
        for f in files
    ]
    return download_page(
        version_id,
        RAW_FILE_NAME,
        WIRE_FORMAT_NAMES.get(found.name, found.name),
        export_name(version, found),
        [found.media_folder(split) for split in splits],
        resources,
        more,
    )


@exports.get(EXPORT_ROUTE + "/{version_id}/{slug}/{name}")
def export_part(
    version_id: str,
    slug: str,
    name: str,
    lake: LakeDep,
    expires: Annotated[str | None, Query()] = None,
    signature: Annotated[str | None, Query()] = None,
) -> StreamingResponse:
    """A generated file of an export, or a zip of one of its folders, made by this server
    (whatever the storage) behind a signed URL from `getVersionData` (403 if expired or
    altered)."""
    check_signed(lake.signer, "GET", export_path(version_id, slug, name), expires, signature)
    chunks = lake.dataset_part(version_id, slug, name)
    media_type = "application/zip" if name.endswith(".zip") else "application/octet-stream"
    return StreamingResponse(chunks, media_type=media_type)
