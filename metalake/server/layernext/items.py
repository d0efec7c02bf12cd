"""The client's selections, trash, listings, counts and download URLs."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from metalake.errors import InvalidArgumentError
from metalake.lake import answers
from metalake.lake.lake import Lake
from metalake.lake.selection import ItemSelection, SortOrder
from metalake.server.auth import KeyDep, LakeDep
from metalake.server.layernext import wire
from metalake.server.layernext.bodies import Body, ok, refused, router, warning_on_refusal
from metalake.server.links import SignedRoutes

routes = router()


@routes.get("/client/{collection_id}/getObjectTypeById")
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


@routes.post("/client/query/getSelectionId")
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
        return ok(selectionTag=snapshot["selection_id"], itemCount=snapshot["item_count"])

    return warning_on_refusal(take)


@routes.post("/client/file/trash")
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
        links=SignedRoutes.of(request),
    )
    past_the_end = answers.paged_past_the_end(page, page_index)
    if past_the_end is not None:
        return refused(past_the_end["message"])
    return [
        {
            "id": item["id"],
            "name": item["file_name"],
            "fileName": item["file_name"],
            "uniqueName": item["unique_name"],
            "url": item["url"],
        }
        for item in page
    ]


@routes.post("/client/explorer/objects/list")
def list_lake(body: Body, request: Request, lake: LakeDep, _key: KeyDep) -> Any:
    """One page of the lake's files of a type that match the query and filter."""
    return _list(body, request, lake, None)


@routes.post("/client/explorer/{collection_id}/objects/list")
def list_collection(
    collection_id: str, body: Body, request: Request, lake: LakeDep, _key: KeyDep
) -> Any:
    """One page of a collection's files that match the query and filter."""
    return _list(body, request, lake, collection_id)


@routes.post("/client/explorer/objects/count")
def count_lake(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    return {"count": lake.count_items(_selection(body))}


@routes.post("/client/explorer/{collection_id}/objects/count")
def count_collection(collection_id: str, body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    return {"count": lake.count_items(_selection(body, collection_id))}


@routes.get("/client/downloadUrl")
def download_url(file_key: str, request: Request, lake: LakeDep, _key: KeyDep) -> JSONResponse:
    """A signed URL of a file (by unique name, or storage key), as a bare JSON string."""
    return JSONResponse(lake.download_url(file_key, links=SignedRoutes.of(request)))
