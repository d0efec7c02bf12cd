"""`Client`: the MetaLake SDK, with the seed functions' names, parameters and return values."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metalake.client.files import absolute_path, files_to_upload
from metalake.client.waiting import wait_for_job
from metalake.errors import InvalidAnnotationFileError, InvalidArgumentError, NotSupportedError
from metalake.lake import answers
from metalake.lake.annotations.documents import AnnotationFile
from metalake.lake.annotations.store import AnnotationSelection
from metalake.lake.catalog import check_catalog_page
from metalake.lake.collections import check_collection_name
from metalake.lake.content_types import check_content_type, from_legacy_code
from metalake.lake.datasets.splits import DEFAULT_SPLIT_INFO
from metalake.lake.datasets.versions import VersionRequest
from metalake.lake.file_targets import FileTarget
from metalake.lake.ingest import UploadFile, UploadRequest
from metalake.lake.jobs import check_job_id
from metalake.lake.limits import DEFAULT_FACET_TOP, MAX_CATALOG_PAGE
from metalake.lake.metadata import (
    FileMetadataEntry,
    parse_file_metadata,
    parse_metadata_object,
    read_file_bytes,
    read_json_file,
)
from metalake.lake.names import check_text
from metalake.lake.records import check_page
from metalake.lake.selection import ItemSelection, SortOrder
from metalake.lake.trash import check_trash_age
from metalake.media.thumbnails import THUMBNAIL_SIZE, check_thumbnail_size
from metalake.settings import lake_home

if TYPE_CHECKING:
    from metalake.client.http import HttpTransport
    from metalake.client.transport import Transport
    from metalake.lake.lake import Lake

log = logging.getLogger(__name__)

DEFAULT_SORT_ORDER = SortOrder().to_object()
"""The seeds' default `sort_order`: newest change first."""
DEFAULT_DOWNLOAD_FOLDER = "metalake-download"


class Client:
    """A MetaLake client.

    `Client()` opens the embedded lake in `$METALAKE_HOME` (default `./metalake-data`): SQLite
    and a local folder, no server. `home`, `database_url` (or `$METALAKE_DATABASE_URL`, e.g.
    `postgresql://...`) and `storage` (or `$METALAKE_STORAGE`, e.g. `s3://bucket/prefix`) choose
    another folder, metadata database or object store.

    `Client(url, api_key, secret)` (or `$METALAKE_URL`, `$METALAKE_API_KEY`, `$METALAKE_SECRET`)
    talks to a `metalake serve` server instead, with the same calls, answers and errors.
    `part_size` and `parallel_files` tune its uploads (default 16 MiB parts, 8 files at once).
    `retry_budget_s` (or `$METALAKE_RETRY_BUDGET`, default 30) is how long a call goes on
    retrying a server or store that keeps failing before it raises `ServerUnavailableError`.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        secret: str | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        database_url: str | None = None,
        storage: str | None = None,
        show_progress: bool | None = None,
        part_size: int | None = None,
        parallel_files: int = 8,
        retry_budget_s: float | None = None,
    ) -> None:
        url = url or os.environ.get("METALAKE_URL")
        # The HTTP client and the embedded lake are imported only by the Clients that use them.
        self._lake: Lake | None = None
        self._http: HttpTransport | None = None
        self._show_progress = show_progress
        self._transport: Transport
        self._reopen: dict[str, Any]
        """The arguments that open this lake again, e.g. in a DataLoader worker process."""
        if url:
            from metalake.client.http import HttpTransport

            api_key = api_key or os.environ.get("METALAKE_API_KEY")
            secret = secret or os.environ.get("METALAKE_SECRET")
            self._reopen = {"url": url, "api_key": api_key, "secret": secret}
            self._reopen["retry_budget_s"] = retry_budget_s
            self._transport = self._http = HttpTransport(
                url,
                api_key,
                secret,
                show_progress=show_progress,
                part_size=part_size,
                parallel_files=parallel_files,
                retry_budget_s=retry_budget_s,
            )
            return
        from metalake.client.transport import open_lakes

        self._reopen = {
            "home": str(lake_home(home).resolve()),
            "database_url": database_url or os.environ.get("METALAKE_DATABASE_URL"),
            "storage": storage or os.environ.get("METALAKE_STORAGE"),
        }
        self._lake = open_lakes.acquire(
            Path(self._reopen["home"]), self._reopen["database_url"], self._reopen["storage"]
        )
        self._transport = self._lake

    def close(self) -> None:
        """Release the lake (the last Client of a lake waits for its running jobs first)."""
        if self._lake is not None:
            from metalake.client.transport import open_lakes

            open_lakes.release(self._lake)
            self._lake = None
        elif self._http is not None:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Uploads ------------------------------------------------------------------------------

    def upload_files_to_collection(
        self,
        path: str,
        content_type: str,
        collection_name: str,
        meta_data_object: dict[str, Any] = {},  # noqa: B006 - the seeds' default; never mutated
        meta_data_override: bool = False,
        file_meta_data_json_path: str | None = None,
        storage_prefix_path: str | None = None,
        annotation_data: dict[str, Any] | None = None,
        *,
        metadata_file_path: str | None = None,
    ) -> dict[str, Any]:
        """Upload a file or the files of a folder to a collection, with metadata.

        `annotation_data` (`json_data_file_path`, `operation_unique_id`, `is_normalized`,
        `is_model_run`) gives annotations of the uploaded images by file name; the same job
        applies them once the files are stored. Returns `is_success`, `job_id`,
        `collection_id`, for a single file `unique_name`, and `skipped_by_extension` (the names
        of the folder's files whose extension does not fit the content type) if there are any;
        the files are stored by a background job (see `wait_for_job_complete`).
        """
        return self._upload(
            path,
            content_type,
            collection_name,
            meta_data_object,
            override_metadata=meta_data_override,
            replace_files=False,
            metadata_json=file_meta_data_json_path or metadata_file_path,
            storage_prefix=storage_prefix_path,
            annotations=_upload_annotation_data(annotation_data),
        )

    def file_upload(
        self,
        path: str,
        collection_type: int,
        collection_name: str,
        meta_data_object: dict[str, Any] | str = "",
        override: bool = False,
    ) -> dict[str, Any]:
        """Deprecated: use `upload_files_to_collection`. Type 5 = image, 4 = video, 7 = other.

        With `override=True` files whose name is already in the collection are replaced.
        """
        warnings.warn(
            "file_upload is deprecated; use upload_files_to_collection",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._upload(
            path,
            from_legacy_code(collection_type),
            collection_name,
            meta_data_object,
            override_metadata=override,
            replace_files=override,
            metadata_json=None,
            storage_prefix=None,
        )

    def _upload(
        self,
        path: str,
        content_type: str,
        collection_name: str,
        meta_data_object: dict[str, Any] | str,
        *,
        override_metadata: bool,
        replace_files: bool,
        metadata_json: str | None,
        storage_prefix: str | None,
        annotations: AnnotationFile | None = None,
    ) -> dict[str, Any]:
        content_type = check_content_type(content_type)
        change = parse_metadata_object(meta_data_object, "meta_data_object")
        per_file = [] if metadata_json is None else _read_file_metadata(metadata_json)
        sources, skipped = files_to_upload(absolute_path(path), content_type)
        request = UploadRequest(
            collection_name=collection_name,
            content_type=content_type,
            files=[UploadFile(s.name, str(s)) for s in sources],
            metadata=change,
            override_metadata=override_metadata,
            replace_files=replace_files,
            storage_prefix=storage_prefix,
            annotations=annotations,
            file_metadata=per_file,
        )
        result = answers.UPLOADS.answer(True, **self._transport.upload(request))
        if skipped:
            result["skipped_by_extension"] = skipped
        return result

    # Jobs ---------------------------------------------------------------------------------

    def wait_for_job_complete(
        self, job_id: str, *, timeout: float | None = None, poll_interval: float = 0.2
    ) -> dict[str, Any]:
        """Block until a job finishes, with a progress bar.

        Returns `{"is_success": bool, "job_status": "COMPLETED" | "FAILED"}`; a job with failed
        files is FAILED, and `get_job` tells which files and why.
        """
        job = wait_for_job(
            self._transport.get_job,
            check_job_id(job_id),
            timeout,
            poll_interval,
            self._show_progress,
            *(() if self._lake is None else (self._lake.jobs.pause,)),
        )
        if job["status"] == "failed":
            log.warning("job %s failed: %s", job_id, job["message"])
            return answers.JOBS.answer(False, job_status="FAILED")
        return answers.JOBS.answer(True, job_status="COMPLETED")

    def get_job(self, job_id: str) -> dict[str, Any]:
        """A job's status, progress, counts, message and per-file errors."""
        return self._transport.get_job(check_job_id(job_id))

    # Metadata -----------------------------------------------------------------------------

    def upload_metadata_for_collection(
        self,
        collection_name: str,
        content_type: str,
        metadata_obj: dict[str, Any] = {},  # noqa: B006 - the seeds' default; never mutated
        is_apply_to_all_files: bool = True,
    ) -> dict[str, Any]:
        """Set fields and add tags on a collection and (by default) on all its files."""
        change = parse_metadata_object(metadata_obj, "metadata_obj")
        return self._transport.update_collection_metadata(
            collection_name, content_type, change, bool(is_apply_to_all_files)
        )

    def upload_metadata_for_files(
        self, collection_name: str, content_type: str, file_meta_data_json_path: str
    ) -> dict[str, Any]:
        """Per-file metadata for files uploaded to a collection, named by file name."""
        target = FileTarget(
            "collection", collection_name=collection_name, content_type=content_type
        )
        return self._file_metadata(target, file_meta_data_json_path)

    def upload_metadata_by_job_id(
        self, job_id: str, file_meta_data_json_path: str
    ) -> dict[str, Any]:
        """Per-file metadata for the files of one upload job, named by file name."""
        if not job_id:
            raise InvalidArgumentError("job_id must be the id of an upload job")
        return self._file_metadata(FileTarget("job", job_id=job_id), file_meta_data_json_path)

    def upload_metadata_by_storage_path(
        self, file_meta_data_json_path: str, bucket_name: str | None = None
    ) -> dict[str, Any]:
        """Per-file metadata for files named by storage path (a leading '/' is accepted)."""
        target = FileTarget("storage_path", bucket_name=bucket_name)
        return self._file_metadata(target, file_meta_data_json_path)

    def upload_metadata_by_unique_name(self, file_meta_data_json_path: str) -> dict[str, Any]:
        """Per-file metadata for files named by unique name."""
        return self._file_metadata(FileTarget("unique_name"), file_meta_data_json_path)

    def _file_metadata(self, target: FileTarget, json_path: str) -> dict[str, Any]:
        entries = _read_file_metadata(json_path)
        return self._transport.update_files_metadata(target, entries)

    # Annotations --------------------------------------------------------------------------

    def upload_annotations_for_collection(
        self,
        collection_name: str,
        operation_unique_id: str,
        json_data_file_path: str,
        is_normalized: bool,
        is_model_run: bool,
    ) -> dict[str, Any]:
        """Annotations of images uploaded to an image collection, named by file name.

        Re-uploading with the same `operation_unique_id` replaces that operation's annotations
        on the images the file names. Returns `is_success`, `job_id` and a `message`.
        """
        target = FileTarget("collection", collection_name=collection_name, content_type="image")
        return self._annotations(
            target, operation_unique_id, json_data_file_path, is_normalized, is_model_run
        )

    def upload_annotations_by_storage_path(
        self,
        operation_unique_id: str,
        json_data_file_path: str,
        is_normalized: bool,
        is_model_run: bool,
        bucket_name: str | None = None,
    ) -> dict[str, Any]:
        """Annotations of images named by storage path (a leading '/' is accepted)."""
        target = FileTarget("storage_path", bucket_name=bucket_name)
        return self._annotations(
            target, operation_unique_id, json_data_file_path, is_normalized, is_model_run
        )

    def upload_annotations_by_unique_name(
        self,
        operation_unique_id: str,
        json_data_file_path: str,
        is_normalized: bool,
        is_model_run: bool,
    ) -> dict[str, Any]:
        """Annotations of images named by unique name (what downloads write)."""
        return self._annotations(
            FileTarget("unique_name"),
            operation_unique_id,
            json_data_file_path,
            is_normalized,
            is_model_run,
        )

    def upload_annotations_by_job_id(
        self,
        job_id: str,
        operation_unique_id: str,
        json_data_file_path: str,
        is_normalized: bool,
        is_model_run: bool,
    ) -> dict[str, Any]:
        """Annotations of the images of one upload job, named by file name."""
        if not job_id:
            raise InvalidArgumentError("job_id must be the id of an upload job")
        return self._annotations(
            FileTarget("job", job_id=job_id),
            operation_unique_id,
            json_data_file_path,
            is_normalized,
            is_model_run,
        )

    def upload_annoations_for_folder(
        self,
        collection_name: str,
        operation_unique_id: str,
        json_data_file_path: str,
        shape_type: str,
        is_normalized: bool,
        is_model_run: bool,
        destination_project_id: str | None = None,
    ) -> dict[str, Any]:
        """Deprecated (name misspelt as in the seeds): use `upload_annotations_for_collection`.

        Annotations without a `type` take `shape_type`, and their `metadata` holds attribute
        values. An empty `collection_name` names images by unique name.
        """
        warnings.warn(
            "upload_annoations_for_folder is deprecated; use upload_annotations_for_collection",
            DeprecationWarning,
            stacklevel=2,
        )
        if destination_project_id is not None:
            raise NotSupportedError(
                "destination_project_id attaches a model run to an annotation project, and "
                "MetaLake has no annotation projects; leave it None"
            )
        target = (
            FileTarget("collection", collection_name=collection_name, content_type="image")
            if collection_name
            else FileTarget("unique_name")
        )
        return self._annotations(
            target,
            operation_unique_id,
            json_data_file_path,
            is_normalized,
            is_model_run,
            shape_type=shape_type,
        )

    def _annotations(
        self,
        target: FileTarget,
        operation_id: str,
        json_path: str,
        is_normalized: bool,
        is_model_run: bool,
        shape_type: str | None = None,
    ) -> dict[str, Any]:
        annotation_file = _read_annotation_file(
            json_path, operation_id, is_normalized, is_model_run, shape_type, self._lake is not None
        )
        return self._transport.upload_annotations(target, annotation_file)

    def remove_annotations(self, collection_id: str, operation_id: str) -> dict[str, Any]:
        """Remove one operation's annotations from the files of a collection."""
        return self._transport.remove_annotations(
            check_text(collection_id, "collection_id"), check_text(operation_id, "operation_id")
        )

    def download_collection(
        self,
        collection_id: str,
        annotation_type: str = "all",
        operation_id_list: list[str] = [],  # noqa: B006 - the seeds' default; never mutated
        custom_download_path: str | None = "",
        is_media_include: bool = True,
    ) -> dict[str, Any]:
        """Write `<path>/<collection storage name>/annotations.json` (the upload format, images
        by unique name) and, with media, the files in `data/` beside it.

        `operation_id_list` selects operations; if empty, `annotation_type` (`all`, `human`,
        `machine`) does. Files already there with the right size are kept.
        """
        if isinstance(operation_id_list, str) or not isinstance(operation_id_list, list | tuple):
            raise InvalidArgumentError(
                f"operation_id_list must be a list of operation ids, not {operation_id_list!r}"
            )
        from metalake.client import downloads

        selection = AnnotationSelection(annotation_type, tuple(operation_id_list))
        root = downloads.download_root(custom_download_path)
        include_media = bool(is_media_include)

        def fetch_page(after: str | None) -> dict[str, Any]:
            return self._transport.annotation_page(
                collection_id, selection, after, downloads.PAGE_ITEMS, include_media
            )

        total = self._transport.count_items(ItemSelection(collection_id=collection_id))
        return downloads.download_collection(
            fetch_page, root, include_media, total, self._show_progress
        )

    def download_annotations(
        self,
        collection_id: str,
        model_id: str | None,
        custom_download_path: str | None = "",
        is_media_include: bool = True,
    ) -> dict[str, Any]:
        """Deprecated: use `download_collection`. With `model_id`, that operation's
        annotations; with None, the human (ground truth) ones."""
        warnings.warn(
            "download_annotations is deprecated; use download_collection",
            DeprecationWarning,
            stacklevel=2,
        )
        if model_id is None:
            return self.download_collection(
                collection_id, "human", [], custom_download_path, is_media_include
            )
        return self.download_collection(
            collection_id, "all", [model_id], custom_download_path, is_media_include
        )

    # Reading back -------------------------------------------------------------------------

    def get_downloadable_url(self, file_key: str, *, expires_in: float | None = None) -> str:
        """A URL of a file's bytes; `file_key` is its unique name (or its storage key). It works
        for `expires_in` whole seconds (1 to 604800; default the lake's `METALAKE_URL_EXPIRY`)."""
        return self._transport.download_url(check_text(file_key, "file_key"), expires_in)

    def get_collection_id_by_name(self, collection_name: str, content_type: str = "image") -> str:
        return self._transport.collection_id(
            check_text(collection_name, "collection_name"), check_content_type(content_type)
        )

    def get_collection_details(self, collection_id: str) -> dict[str, Any]:
        return self._transport.collection_details(check_text(collection_id, "collection_id"))

    def get_file_details(self, unique_name: str) -> dict[str, Any]:
        return self._transport.file_details(check_text(unique_name, "unique_name"))

    # What the lake holds ------------------------------------------------------------------
    # Each listing is in name order, paged by number: at most MAX_CATALOG_PAGE (10,000) rows
    # a page, and the default page is that large, so one call answers almost any lake whole.

    def list_collections(
        self,
        content_type: str | None = None,
        *,
        page_index: int = 0,
        page_size: int = MAX_CATALOG_PAGE,
    ) -> list[dict[str, Any]]:
        """Collections (of one content type if given) not in the trash: `id`, `name`,
        `content_type`, `item_count` and `size` (of live files uploaded to it or added to it),
        `created`, and `modified` (its last change, or its files' last change)."""
        check_catalog_page(page_index, page_size)
        if content_type is not None:  # checked here too, as a query string would turn 5 into '5'
            content_type = check_content_type(content_type)
        return self._transport.list_collections(content_type, page_index, page_size)

    def list_operations(
        self,
        collection_id: str | None = None,
        *,
        page_index: int = 0,
        page_size: int = MAX_CATALOG_PAGE,
    ) -> list[dict[str, Any]]:
        """Operations: `operation_id`, `kind` (`human` or `machine`), `annotation_count` and
        `file_count` over live files; with `collection_id`, those with annotations there."""
        check_catalog_page(page_index, page_size)
        return self._transport.list_operations(collection_id or None, page_index, page_size)

    def list_labels(
        self, *, page_index: int = 0, page_size: int = MAX_CATALOG_PAGE
    ) -> list[dict[str, Any]]:
        """Labels: `label`, `annotation_count` and `file_count` over live files."""
        check_catalog_page(page_index, page_size)
        return self._transport.list_labels(page_index, page_size)

    # Finding, trashing and downloading by query -----------------------------------------
    # `query` is the query language (README "Queries"); `filter` is {"annotation_types":
    # [raw|human|machine], "from_date", "to_date"}; `sort_order` is {"sort_by_field":
    # date_modified|date_created|name|size|video_index, "sort_order": ASC|DESC}.

    def get_item_list_from_collection(
        self,
        collection_id: str,
        query: str = "",
        filter: dict[str, Any] = {},  # noqa: B006 - the seeds' default; never mutated
        page_index: int = 0,
        page_size: int = 20,
        sort_order: dict[str, str] = DEFAULT_SORT_ORDER,
    ) -> list[dict[str, Any]]:
        """One page of a collection's files (uploaded to it or added to it) that match."""
        selection = ItemSelection.of(collection_id=collection_id, query=query, filter=filter)
        return self._page(selection, page_index, page_size, sort_order)

    def get_item_count_from_collection(
        self,
        collection_id: str,
        query: str = "",
        filter: dict[str, Any] = {},  # noqa: B006 - the seeds' default; never mutated
    ) -> int:
        selection = ItemSelection.of(collection_id=collection_id, query=query, filter=filter)
        return self._transport.count_items(selection)

    def get_item_list_from_datalake(
        self,
        item_type: str,
        query: str = "",
        filter: dict[str, Any] = {},  # noqa: B006 - the seeds' default; never mutated
        page_index: int = 0,
        page_size: int = 20,
        sort_order: dict[str, str] = DEFAULT_SORT_ORDER,
    ) -> list[dict[str, Any]]:
        """One page of the lake's files of a type that match."""
        selection = ItemSelection.of(item_type, query=query, filter=filter)
        return self._page(selection, page_index, page_size, sort_order)

    def get_item_count_from_metalake(
        self,
        item_type: str,
        query: str = "",
        filter: dict[str, Any] = {},  # noqa: B006 - the seeds' default; never mutated
    ) -> int:
        selection = ItemSelection.of(item_type, query=query, filter=filter)
        return self._transport.count_items(selection)

    def get_item_page(
        self,
        collection_id: str | None = None,
        content_type: str = "image",
        query: str = "",
        filter: dict[str, Any] | None = None,
        sort_order: dict[str, str] = DEFAULT_SORT_ORDER,
        page_size: int = 100,
        cursor: str | None = None,
        with_urls: bool = False,
    ) -> dict[str, Any]:
        """A page of the matching files of a collection (or of the lake's files of
        `content_type`) by cursor: `{"items": [...], "next_cursor": str | None}`. Pass
        `next_cursor` back for the next page; it is None after the last one. Unlike
        `page_index`, a cursor costs the same on every page and never skips or repeats a file
        when files come or go between pages."""
        check_page(0, page_size)
        selection = ItemSelection.of(content_type, collection_id or None, query, filter)
        sort = SortOrder.from_object(sort_order)
        return self._transport.item_page(selection, sort, page_size, cursor, with_urls)

    def get_facets(
        self,
        collection_id: str | None = None,
        content_type: str = "image",
        query: str = "",
        filter: dict[str, Any] | None = None,
        fields: list[str] | None = None,
        top: int = DEFAULT_FACET_TOP,
    ) -> dict[str, Any]:
        """The most frequent values of each field among the matching files of a collection (or
        of the lake's files of `content_type`), with how many files have each.

        `fields` are `label`, `tag`, `operation` and `metadata.<key>` (default: the first
        three). Returns `{"file_count": n, "facets": {field: [{"value", "file_count"}, ...]}}`,
        at most `top` values a field, most files first.
        """
        selection = ItemSelection.of(content_type, collection_id or None, query, filter)
        return self._transport.facets(selection, fields, top)

    def _page(
        self,
        selection: ItemSelection,
        page_index: int,
        page_size: int,
        sort_order: dict[str, str],
        with_urls: bool = False,
    ) -> list[dict[str, Any]]:
        check_page(page_index, page_size)
        sort = SortOrder.from_object(sort_order)
        return self._transport.list_items(selection, sort, page_index, page_size, with_urls)

    def trash_objects_from_collection(
        self,
        collection_id: str,
        query: str = "",
        filter: dict[str, Any] = {},  # noqa: B006 - the seeds' default; never mutated
    ) -> dict[str, Any]:
        """Move a collection's matching files (all of them with no query and no filter) to
        the trash. Bytes, metadata and annotations are kept until the trash is emptied."""
        selection = ItemSelection.of(collection_id=collection_id, query=query, filter=filter)
        return self._transport.trash(selection)

    def trash_collection(self, collection_id: str) -> dict[str, Any]:
        """Move a collection and the files uploaded to it to the trash; files only added to it
        stay live in their own collections. `empty_trash` then removes the collection and
        `restore_from_trash(collection_id)` brings it back with its files."""
        return self._transport.trash_collection(collection_id)

    def trash_objects_from_datalake(
        self,
        datalake_query: str = "",
        datalake_filter: dict[str, Any] = {},  # noqa: B006 - the seeds' default; never mutated
        content_type: str = "image",
    ) -> dict[str, Any]:
        """Move the lake's matching files of a type to the trash; a query or a filter is
        required (an empty pair would trash every file of the type)."""
        selection = ItemSelection.of(content_type, query=datalake_query, filter=datalake_filter)
        return self._transport.trash(selection)

    def restore_from_trash(
        self,
        collection_id: str = "",
        query: str = "",
        filter: dict[str, Any] = {},  # noqa: B006 - never mutated
        content_type: str = "image",
    ) -> dict[str, Any]:
        """Bring trashed files back, with their metadata, tags and annotations: those of a
        collection, or of a content type, that match the query and filter (all with neither)."""
        selection = ItemSelection.of(content_type, collection_id or None, query, filter)
        return self._transport.restore_from_trash(selection)

    def empty_trash(self, older_than_days: float = 30) -> dict[str, Any]:
        """Delete for good, rows and bytes, the files that have been in the trash at least
        `older_than_days` days (0: everything in it). The only call that deletes bytes."""
        return self._transport.empty_trash(check_trash_age(older_than_days))

    def create_or_update_collection(
        self,
        collection_name: str,
        content_type: str,
        query: str = "",
        filter: dict[str, Any] = {},  # noqa: B006 - never mutated
    ) -> dict[str, Any]:
        """Create a collection if it is new and add the lake's matching files of its type to
        it ("Add to collection"). They keep their unique names and the collection they were
        uploaded to; listing, counting, trashing and downloading the collection include them."""
        content_type = check_content_type(content_type)
        selection = ItemSelection.of(content_type, query=query, filter=filter)
        check_collection_name(collection_name)
        return self._transport.add_to_collection(collection_name, content_type, selection)

    def download_files_from_metalake(
        self,
        item_type: str = "image",
        custom_download_path: str = "",
        page_index: int = 0,
        page_size: int = 20,
        query: str = "",
        filter: dict[str, Any] = {},  # noqa: B006 - the seeds' default; never mutated
        sort_order: dict[str, str] = DEFAULT_SORT_ORDER,
    ) -> dict[str, Any]:
        """Download one page of the lake's matching files of a type, named by unique name,
        into `custom_download_path` (absolute) or `./metalake-download`."""
        selection = ItemSelection.of(item_type, query=query, filter=filter)
        return self._download_page(
            selection, custom_download_path, page_index, page_size, sort_order
        )

    def download_files_from_collection(
        self,
        collection_id: str,
        custom_download_path: str = "",
        page_index: int = 0,
        page_size: int = 20,
        query: str = "",
        filter: dict[str, Any] = {},  # noqa: B006 - the seeds' default; never mutated
        sort_order: dict[str, str] = DEFAULT_SORT_ORDER,
    ) -> dict[str, Any]:
        """Download one page of a collection's matching files, as `download_files_from_metalake`."""
        selection = ItemSelection.of(collection_id=collection_id, query=query, filter=filter)
        return self._download_page(
            selection, custom_download_path, page_index, page_size, sort_order
        )

    def _download_page(
        self,
        selection: ItemSelection,
        custom_download_path: str,
        page_index: int,
        page_size: int,
        sort_order: dict[str, str],
    ) -> dict[str, Any]:
        from metalake.client import downloads

        folder = downloads.download_root(custom_download_path)
        if not custom_download_path:
            folder /= DEFAULT_DOWNLOAD_FOLDER
        page = self._page(selection, page_index, page_size, sort_order, with_urls=True)
        past_the_end = answers.paged_past_the_end(page, page_index)
        if past_the_end is not None:
            return past_the_end
        tally = downloads.download_files(page, folder, self._show_progress)
        return downloads.page_result(tally, folder, page_index)

    # Datasets ------------------------------------------------------------------------------

    def create_dataset(
        self,
        dataset_name: str,
        collection_id: str | None = None,
        content_type: str = "image",
        query: str = "",
        filter: dict[str, Any] = {},  # noqa: B006 - never mutated
        operation_id_list: list[str] = [],  # noqa: B006 - never mutated
        annotation_type: str = "all",
        labels: list[str] = [],  # noqa: B006 - never mutated
        split_info: Mapping[str, int | float] = DEFAULT_SPLIT_INFO,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Freeze version 1 of a new dataset: the files of a collection (or of the lake's
        `content_type`) that match `query` and `filter`, with the annotations of
        `operation_id_list` (else of `annotation_type`), only `labels` when named, split by
        `split_info` percentages from `seed`. Returns `version_id` and counts per split."""
        request = _version_request(
            collection_id,
            content_type,
            query,
            filter,
            operation_id_list,
            annotation_type,
            labels,
            split_info,
            seed,
        )
        return self._transport.create_dataset(check_text(dataset_name, "dataset_name"), request)

    def update_dataset(
        self,
        dataset_name: str,
        collection_id: str | None = None,
        content_type: str = "image",
        query: str = "",
        filter: dict[str, Any] = {},  # noqa: B006 - never mutated
        operation_id_list: list[str] = [],  # noqa: B006 - never mutated
        annotation_type: str = "all",
        labels: list[str] = [],  # noqa: B006 - never mutated
        split_info: Mapping[str, int | float] = DEFAULT_SPLIT_INFO,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Freeze the next version of a dataset from a new selection (as `create_dataset`);
        with the same seed, files of the previous version keep their split where the counts
        allow."""
        request = _version_request(
            collection_id,
            content_type,
            query,
            filter,
            operation_id_list,
            annotation_type,
            labels,
            split_info,
            seed,
        )
        return self._transport.update_dataset(check_text(dataset_name, "dataset_name"), request)

    def get_dataset(self, dataset_name: str) -> dict[str, Any]:
        """A dataset's versions, oldest first, each with counts per split and label."""
        return self._transport.get_dataset(check_text(dataset_name, "dataset_name"))

    def list_datasets(self) -> list[dict[str, Any]]:
        """Every dataset by name, with its latest version."""
        return self._transport.list_datasets()

    def dataset_files(
        self, version_id: str, split: str, *, with_urls: bool = False, page_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Every file of one split of a version, by export name, each with its annotations,
        `width`, `height`, `size`, `sha256` (and a download `url` when `with_urls`), read
        `page_size` files at a time."""
        version_id = check_text(version_id, "version_id")
        after = None
        while True:
            page = self._transport.dataset_page(version_id, split, after, page_size, with_urls)
            yield from page["images"]
            after = page["next"]
            if after is None:
                return

    def delete_dataset_version(self, version_id: str) -> dict[str, Any]:
        """Delete a version (its dataset too, if it was the last); bytes that only it held
        (of files emptied from the trash or replaced since) are deleted with it."""
        return self._transport.delete_dataset_version(check_text(version_id, "version_id"))

    def download_dataset(
        self,
        version_id: str,
        export_type: str,
        custom_download_path: str = "",
        is_media_include: bool = True,
    ) -> dict[str, Any]:
        """Write a version as `COCO`, `YOLO`, `PASCAL VOC` or `MetaLake JSON` into
        `<path>/<dataset>_v<version>_<format>/`, page by page; files already there with the
        right size are kept."""
        from metalake.client import dataset_downloads

        return dataset_downloads.download_dataset(
            self._transport,
            check_text(version_id, "version_id"),
            export_type,
            custom_download_path,
            bool(is_media_include),
            self._show_progress,
        )

    def import_dataset(
        self,
        path: str,
        format: str,
        collection_name: str,
        operation_unique_id: str,
        is_model_run: bool = False,
        is_normalized: bool | None = None,
    ) -> dict[str, Any]:
        """Upload a COCO, YOLO or Pascal VOC folder into a collection and its labels as one
        annotation operation, through the ordinary upload and annotation checks; the labels
        are read and checked whole first, so malformed ones upload nothing."""
        from metalake.client import dataset_imports

        return dataset_imports.import_dataset(
            self._transport,
            path,
            format,
            collection_name,
            operation_unique_id,
            is_model_run,
            is_normalized,
        )

    def get_thumbnail(self, unique_name: str, size: int = THUMBNAIL_SIZE) -> bytes:
        """A JPEG thumbnail (at most `size` px a side, one of 64, 128, 256, 512 and 1024) of an
        image, made on first request."""
        return self._transport.thumbnail(
            check_text(unique_name, "unique_name"), check_thumbnail_size(size)
        )


def _version_request(
    collection_id: str | None,
    content_type: str,
    query: str,
    filter: dict[str, Any],
    operation_id_list: list[str],
    annotation_type: str,
    labels: list[str],
    split_info: Mapping[str, int | float],
    seed: int,
) -> VersionRequest:
    if isinstance(operation_id_list, str) or not isinstance(operation_id_list, list | tuple):
        raise InvalidArgumentError(
            f"operation_id_list must be a list of operation ids, not {operation_id_list!r}"
        )
    selection = ItemSelection.of(
        None if collection_id else content_type, collection_id or None, query, filter
    )
    annotations = AnnotationSelection(annotation_type, tuple(operation_id_list))
    return VersionRequest.of(selection, annotations, labels, split_info, seed)


def _read_annotation_file(
    json_path: str,
    operation_id: str,
    is_normalized: bool,
    is_model_run: bool,
    shape_type: str | None = None,
    typed: bool = False,
) -> AnnotationFile:
    """An annotation file read; `typed` decodes it for the fast path of an embedded lake (which
    checks it without a plain JSON parse of the whole document)."""
    if typed:
        data = read_file_bytes(Path(json_path), "annotation file")
        return AnnotationFile.from_bytes(
            data, operation_id, is_model_run, is_normalized, shape_type, json_path
        )
    document = read_json_file(json_path, "annotation file", InvalidAnnotationFileError)
    return AnnotationFile(
        document, operation_id, is_model_run, is_normalized, shape_type, str(json_path)
    )


ANNOTATION_DATA_KEYS = (
    "json_data_file_path",
    "operation_unique_id",
    "is_normalized",
    "is_model_run",
)


def _upload_annotation_data(annotation_data: dict[str, Any] | None) -> AnnotationFile | None:
    """The `annotation_data` argument of an upload, read (None if it names no file)."""
    if annotation_data is None:
        return None
    if not isinstance(annotation_data, dict):
        raise InvalidArgumentError(
            f"annotation_data must be a dict with {', '.join(ANNOTATION_DATA_KEYS)}"
        )
    unknown = set(annotation_data) - set(ANNOTATION_DATA_KEYS)
    if unknown:
        raise InvalidArgumentError(
            f"annotation_data has unknown keys {sorted(unknown)}; "
            f"it takes {', '.join(ANNOTATION_DATA_KEYS)}"
        )
    json_path = annotation_data.get("json_data_file_path")
    if json_path is None:
        return None
    return _read_annotation_file(
        json_path,
        annotation_data.get("operation_unique_id"),  # type: ignore[arg-type]  # checked there
        annotation_data.get("is_normalized", False),
        annotation_data.get("is_model_run", False),
    )


def _read_file_metadata(json_path: str) -> list[FileMetadataEntry]:
    document = read_json_file(json_path, "metadata file")
    return parse_file_metadata(document, str(json_path))
