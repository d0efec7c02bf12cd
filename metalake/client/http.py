"""`HttpTransport`: the Transport over HTTP to a MetaLake server, with the same answers and errors.

Requests are retried with back-off within a retry budget per call: reads and uploads are
idempotent, and each call that changes something sends a request id of its own (the same on its
retries), which the server answers once. An error answer becomes the exception class the
embedded lake would have raised.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from math import inf
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import orjson

from metalake.client.wire import (
    DEFAULT_RETRY_BUDGET_S,
    RetryBudget,
    check_server_url,
    raise_for_error,
    redact_http_logs,
    with_retries,
)
from metalake.errors import InvalidArgumentError
from metalake.lake.annotations.documents import AnnotationFile
from metalake.lake.annotations.store import AnnotationSelection
from metalake.lake.datasets.versions import VersionRequest
from metalake.lake.file_targets import FileTarget
from metalake.lake.ingest import UploadRequest, check_upload, with_file_metadata
from metalake.lake.metadata import FileMetadataEntry, MetadataChange
from metalake.lake.selection import ItemSelection, SortOrder
from metalake.server.protocol import REQUEST_ID_HEADER
from metalake.settings import env_number

if TYPE_CHECKING:
    from metalake.client.sender import UploadSender

API = "/api/v1"
RETRY_BUDGET_ENV = "METALAKE_RETRY_BUDGET"


def retry_budget(seconds: float | None) -> float:
    """How long a call retries: `seconds`, else `$METALAKE_RETRY_BUDGET`, else 30 s."""
    if seconds is None:
        return env_number(RETRY_BUDGET_ENV, DEFAULT_RETRY_BUDGET_S)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds < inf:
        raise InvalidArgumentError(
            f"retry_budget_s must be a number of seconds greater than 0, not {seconds!r}"
        )
    return float(seconds)


class HttpTransport:
    """Calls a MetaLake server's REST API with an API key and secret (HTTP Basic)."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        secret: str | None,
        *,
        show_progress: bool | None = None,
        part_size: int | None = None,
        parallel_files: int = 8,
        retries: int = 5,
        retry_budget_s: float | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        redact_http_logs()
        self.url = check_server_url(url)
        auth = (api_key, secret or "") if api_key else None
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self._http = httpx.Client(base_url=self.url, auth=auth, timeout=timeout_s, limits=limits)
        self._retries = retries
        self._retry_budget_s = retry_budget(retry_budget_s)
        self._sender_options: dict[str, Any] = {
            "retries": retries,
            "retry_budget_s": self._retry_budget_s,
            "part_size": part_size,
            "parallel_files": parallel_files,
            "show_progress": show_progress,
            "timeout_s": timeout_s,
        }
        self._sender: UploadSender | None = None

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()
        self._http.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        raw: bool = False,
        keyed: bool = False,
        budget: RetryBudget | None = None,
    ) -> Any:
        """Send one request of a call (retried within `budget`, the call's own if None) and
        turn its answer into JSON (bytes if `raw`) or its error into the MetaLake exception.

        A `keyed` request (one that changes something) carries a new request id, sent again
        with each of its retries, so that the server applies it once whatever is retried.
        """
        if params:
            params = {k: v for k, v in params.items() if v is not None}
        content = None if json is None else orjson.dumps(json)
        headers = {} if json is None else {"content-type": "application/json"}
        if keyed:
            headers[REQUEST_ID_HEADER] = uuid.uuid4().hex
        response = with_retries(
            lambda: self._http.request(
                method, API + path, params=params, content=content, headers=headers
            ),
            f"{method} {self.url}{API}{path}",
            self._retries,
            budget=budget or RetryBudget(self._retry_budget_s),
        )
        raise_for_error(response)
        return response.content if raw else orjson.loads(response.content)

    def upload(self, request: UploadRequest) -> dict[str, Any]:
        """Merge its per-file metadata and check the upload as the lake does (so a refusal or a
        warning reads as it does embedded, before any byte is read or sent), then send it."""
        request = with_file_metadata(request)
        check_upload(request)
        if self._sender is None:
            # Made on the first upload: its HTTP client (and TLS context) cost start-up time.
            from metalake.client.sender import UploadSender

            self._sender = UploadSender(self._call, **self._sender_options)
        return self._sender.send(request)

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{quote(job_id, safe='')}")

    def update_collection_metadata(
        self, collection_name: str, content_type: str, change: MetadataChange, apply_to_files: bool
    ) -> dict[str, Any]:
        body = {
            "collection_name": collection_name,
            "content_type": content_type,
            "metadata": change.to_object(),
            "apply_to_files": apply_to_files,
        }
        return self._call("POST", "/collections/metadata", json=body)

    def update_files_metadata(
        self, target: FileTarget, entries: Iterable[FileMetadataEntry]
    ) -> dict[str, Any]:
        document = {"files": [{"file": e.file, "metadata": e.change.to_object()} for e in entries]}
        body = {"target": dataclasses.asdict(target), "document": document}
        return self._call("POST", "/files/metadata", json=body)

    def upload_annotations(
        self, target: FileTarget, annotation_file: AnnotationFile
    ) -> dict[str, Any]:
        body = {"target": dataclasses.asdict(target), "annotations": annotation_file.to_json()}
        return self._call("POST", "/annotations", json=body, keyed=True)

    def remove_annotations(self, collection_id: str, operation_id: str) -> dict[str, Any]:
        path = f"/collections/{quote(collection_id, safe='')}/annotations/remove"
        return self._call("POST", path, json={"operation_id": operation_id}, keyed=True)

    def annotation_page(
        self,
        collection_id: str,
        selection: AnnotationSelection,
        after: str | None,
        limit: int,
        with_urls: bool,
    ) -> dict[str, Any]:
        params = {
            "annotation_type": selection.annotation_type,
            "operation_ids": list(selection.operation_ids) or None,
            "after": after,
            "limit": limit,
            "with_urls": with_urls,
        }
        path = f"/collections/{quote(collection_id, safe='')}/annotations"
        return self._call("GET", path, params=params)

    def collection_id(self, collection_name: str, content_type: str) -> str:
        params = {"name": collection_name, "content_type": content_type}
        return self._call("GET", "/collections/by-name", params=params)["collection_id"]

    def collection_details(self, collection_id: str) -> dict[str, Any]:
        return self._call("GET", f"/collections/{quote(collection_id, safe='')}")

    def file_details(self, unique_name: str) -> dict[str, Any]:
        return self._call("GET", "/files/details", params={"unique_name": unique_name})

    def list_collections(
        self, content_type: str | None, page_index: int, page_size: int
    ) -> list[dict[str, Any]]:
        params = {"content_type": content_type, "page_index": page_index, "page_size": page_size}
        return self._call("GET", "/collections", params=params)

    def list_operations(
        self, collection_id: str | None, page_index: int, page_size: int
    ) -> list[dict[str, Any]]:
        params = {"collection_id": collection_id, "page_index": page_index, "page_size": page_size}
        return self._call("GET", "/operations", params=params)

    def list_labels(self, page_index: int, page_size: int) -> list[dict[str, Any]]:
        params = {"page_index": page_index, "page_size": page_size}
        return self._call("GET", "/labels", params=params)

    def list_items(
        self,
        selection: ItemSelection,
        sort: SortOrder,
        page_index: int,
        page_size: int,
        with_urls: bool = False,
    ) -> list[dict[str, Any]]:
        body = {
            "selection": selection.to_json(),
            "sort_order": sort.to_object(),
            "page_index": page_index,
            "page_size": page_size,
            "with_urls": with_urls,
        }
        return self._call("POST", "/items/list", json=body)

    def item_page(
        self,
        selection: ItemSelection,
        sort: SortOrder,
        page_size: int,
        cursor: str | None = None,
        with_urls: bool = False,
    ) -> dict[str, Any]:
        body = {
            "selection": selection.to_json(),
            "sort_order": sort.to_object(),
            "page_size": page_size,
            "cursor": cursor,
            "with_urls": with_urls,
        }
        return self._call("POST", "/items/page", json=body)

    def count_items(self, selection: ItemSelection) -> int:
        return self._call("POST", "/items/count", json={"selection": selection.to_json()})["count"]

    def facets(
        self, selection: ItemSelection, fields: list[str] | None, top: int
    ) -> dict[str, Any]:
        body = {"selection": selection.to_json(), "fields": fields, "top": top}
        return self._call("POST", "/items/facets", json=body)

    def trash(self, selection: ItemSelection) -> dict[str, Any]:
        return self._call(
            "POST", "/items/trash", json={"selection": selection.to_json()}, keyed=True
        )

    def trash_collection(self, collection_id: str) -> dict[str, Any]:
        return self._call("POST", f"/collections/{quote(collection_id, safe='')}/trash", keyed=True)

    def restore_from_trash(self, selection: ItemSelection) -> dict[str, Any]:
        return self._call(
            "POST", "/items/restore", json={"selection": selection.to_json()}, keyed=True
        )

    def empty_trash(self, older_than_days: float) -> dict[str, Any]:
        return self._call(
            "POST", "/trash/empty", json={"older_than_days": older_than_days}, keyed=True
        )

    def add_to_collection(
        self, collection_name: str, content_type: str, selection: ItemSelection
    ) -> dict[str, Any]:
        body = {
            "collection_name": collection_name,
            "content_type": content_type,
            "selection": selection.to_json(),
        }
        return self._call("POST", "/collections/add", json=body, keyed=True)

    def download_url(self, file_key: str, expires_in: float | None = None) -> str:
        params = {"file_key": file_key, "expires_in": expires_in}
        return self._call("GET", "/files/url", params=params)["url"]

    def create_dataset(self, dataset_name: str, request: VersionRequest) -> dict[str, Any]:
        body = {"dataset_name": dataset_name, "request": request.to_json()}
        return self._call("POST", "/datasets", json=body, keyed=True)

    def update_dataset(self, dataset_name: str, request: VersionRequest) -> dict[str, Any]:
        body = {"dataset_name": dataset_name, "request": request.to_json()}
        return self._call("POST", "/datasets/next-version", json=body, keyed=True)

    def get_dataset(self, dataset_name: str) -> dict[str, Any]:
        return self._call("GET", "/datasets/by-name", params={"dataset_name": dataset_name})

    def list_datasets(self) -> list[dict[str, Any]]:
        return self._call("GET", "/datasets")

    def dataset_version(self, version_id: str) -> dict[str, Any]:
        return self._call("GET", f"/dataset-versions/{quote(version_id, safe='')}")

    def delete_dataset_version(self, version_id: str) -> dict[str, Any]:
        path = f"/dataset-versions/{quote(version_id, safe='')}"
        return self._call("DELETE", path, keyed=True)

    def dataset_page(
        self,
        version_id: str,
        split: str,
        after: str | None,
        limit: int,
        with_urls: bool,
        *,
        with_annotations: bool = True,
    ) -> dict[str, Any]:
        params = {
            "split": split,
            "after": after,
            "limit": limit,
            "with_urls": with_urls,
            "with_annotations": with_annotations,
        }
        path = f"/dataset-versions/{quote(version_id, safe='')}/files"
        return self._call("GET", path, params=params)

    def thumbnail(self, unique_name: str, size: int) -> bytes:
        params = {"unique_name": unique_name, "size": size}
        return self._call("GET", "/files/thumbnail", params=params, raw=True)
