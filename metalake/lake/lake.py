"""The Lake: one metadata database, one object store, one job runner, and every rule of the domain.

The embedded client and (later) the server both call these methods; nothing above this layer
decides what an upload, a metadata update or a listing means.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa

from metalake.blobs.store import open_blob_store
from metalake.errors import (
    InvalidArgumentError,
    InvalidPathError,
    ItemNotFoundError,
    JobNotFoundError,
    StorageError,
)
from metalake.lake import (
    answers,
    catalog,
    collection_exports,
    collections,
    file_targets,
    listing,
    records,
    snapshots,
    trash,
    web_sessions,
)
from metalake.lake.annotations.documents import AnnotationFile
from metalake.lake.annotations.exports import collection_page
from metalake.lake.annotations.store import AnnotationSelection, add_colors, annotation_dicts
from metalake.lake.annotations.store import remove_annotations as remove_operation_annotations
from metalake.lake.annotations.uploads import ANNOTATIONS, AnnotationJob
from metalake.lake.clock import utcnow
from metalake.lake.collection_exports import MediaOpener
from metalake.lake.content_types import check_content_type
from metalake.lake.cursors import decode_cursor, encode_cursor
from metalake.lake.datasets import holds, parts, versions
from metalake.lake.datasets.formats.registry import DatasetFormat, dataset_format
from metalake.lake.datasets.records import ExportEntry, ExportImage, VersionSummary
from metalake.lake.datasets.versions import VersionRequest
from metalake.lake.facets import check_facets, facets
from metalake.lake.file_targets import FileTarget
from metalake.lake.ingest import UPLOAD, UploadJob, UploadRequest, start_upload
from metalake.lake.item_metadata import apply_change, apply_changes
from metalake.lake.jobs import (
    COMPLETED,
    FAILED,
    Handler,
    JobRunner,
    job_dict,
    load_job,
    recent_jobs,
)
from metalake.lake.limits import DEFAULT_JOB_LIST, MAX_CATALOG_PAGE
from metalake.lake.links import Links
from metalake.lake.logins import LoginLimiter, LoginLimits
from metalake.lake.metadata import FileMetadataEntry, MetadataChange, changes_by_file
from metalake.lake.names import check_text
from metalake.lake.query.bitmaps import MatchCache, QueryBitmaps
from metalake.lake.query.compiler import QueryCompiler
from metalake.lake.query.parser import parse
from metalake.lake.query.term_store import TermStore
from metalake.lake.request_ids import RequestResults
from metalake.lake.selection import ItemSelection, SortOrder
from metalake.lake.signing import UrlSigner, expiry_seconds, load_secret
from metalake.lake.staging import StagingSweeper
from metalake.lake.trash import thumbnail_key
from metalake.lake.upload_sessions import UploadSessions
from metalake.lake.web_sessions import WebSession
from metalake.media.thumbnails import THUMBNAIL_SIZE, check_thumbnail_size, make_thumbnail
from metalake.settings import url_expiry_s
from metalake.store.database import Database, sqlite_url
from metalake.store.lake_info import lake_id
from metalake.store.schema import TIMESTAMP, collection_items, dataset_files, items
from metalake.store.schema import collections as collections_table
from metalake.store.upsert import insert_ignore

JOB_POLL_S = 0.05


def lake_database(home: Path, database_url: str | None = None) -> Database:
    """The lake's metadata database, migrated to the current schema."""
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidPathError(
            f"the lake folder {home} cannot be used: {exc.strerror or exc}"
        ) from exc
    if database_url is not None and not isinstance(database_url, str):
        raise InvalidArgumentError(f"database_url must be a URL string, not {database_url!r}")
    try:
        db = Database(database_url or sqlite_url(home / "lake.db"))
        db.migrate()
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise InvalidArgumentError(
            f"database_url {_shown(database_url)} is not one MetaLake can open: use "
            "postgresql://user@host:5432/db, or none for the lake folder's SQLite file"
        ) from exc
    except sa.exc.OperationalError as exc:
        raise StorageError(
            f"the database {_shown(database_url)} cannot be reached or opened: "
            f"{str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__}"
        ) from exc
    return db


def _shown(database_url: str | None) -> str:
    """A database URL as messages show it: without its password."""
    if not database_url:
        return "of the lake folder"
    try:
        return repr(sa.engine.make_url(database_url).render_as_string(hide_password=True))
    except sa.exc.ArgumentError:
        return repr(database_url.split("@")[-1])


class Lake:
    """A data lake in a folder (`home`), optionally with its metadata in another database.

    The calls that change something take a `request_id`: a call repeated with the same id (a
    client's retry) answers what the first one did instead of being applied again (see
    `request_ids`).
    """

    def __init__(
        self, home: Path, database_url: str | None = None, storage: str | None = None
    ) -> None:
        self.home = home
        self.db = lake_database(home, database_url)
        self.blobs = open_blob_store(storage, home)
        self.signer = UrlSigner(load_secret(home))
        self.url_expiry_s = url_expiry_s()
        self.logins = LoginLimiter(LoginLimits.from_environment())
        self.uploads = UploadSessions(self.db, self.blobs)
        self.requests = RequestResults(self.db)
        self.term_bitmaps = MatchCache(store=TermStore(home, lake_id(self.db)))
        self.annotation_jobs = AnnotationJob(self.db)
        handlers: dict[str, Handler] = {
            UPLOAD: UploadJob(self.db, self.blobs),
            ANNOTATIONS: self.annotation_jobs,
        }
        self.staging = StagingSweeper(self.db, self.blobs)
        self.jobs = JobRunner(
            self.db,
            handlers,
            finishers={UPLOAD: self.staging.job_finished},
            housekeeping=self.staging.sweep_if_due,
        )
        self.jobs.wake()

    def authenticate(self, key: str, secret: str, address: str) -> str:
        """The API key if `secret` is its secret (failed logins are limited per `address`)."""
        return self.logins.authenticate(self.db, key, secret, address)

    def open_web_session(self, key: str, secret: str, address: str) -> WebSession:
        """A browser session acting as `key`, if `secret` is its secret."""
        return web_sessions.open_session(self.db, self.authenticate(key, secret, address))

    def open_web_session_from_link(self, token: str) -> WebSession:
        """A browser session from a one-time login link, which is used up."""
        return web_sessions.open_session(self.db, web_sessions.redeem_login_link(self.db, token))

    def web_session(self, token: str) -> WebSession:
        """The live session of a cookie's token (AuthenticationError once it has ended)."""
        return web_sessions.find_session(self.db, token)

    def end_web_session(self, token: str) -> None:
        web_sessions.end_session(self.db, token)

    def create_login_link(self) -> str:
        """The token of a new one-time login link (for `/?token=...`)."""
        return web_sessions.create_login_link(self.db)

    def check_query(self, query: str) -> None:
        """Raise InvalidQueryError, with the column, if `query` would be refused; runs nothing."""
        tree = parse(query)
        if tree is not None:
            QueryCompiler(self.db.dialect).condition(tree)

    def close(self) -> None:
        """Wait for running jobs to finish, then release the database."""
        self.jobs.join()
        self.db.close()

    def upload(self, request: UploadRequest) -> dict[str, Any]:
        """Start an upload job: `job_id`, `collection_id` and, for one file, `unique_name`."""
        result = start_upload(self.db, request)
        self.jobs.wake()
        return result

    def complete_upload(self, session_id: str, drop_unsent: bool = False) -> dict[str, Any]:
        """Start the job of a remote upload whose files have all arrived (see `uploads`;
        `drop_unsent` leaves out files that never did)."""
        result = self.uploads.complete(session_id, drop_unsent)
        self.jobs.wake()
        return result

    def get_job(self, job_id: str) -> dict[str, Any]:
        """A job's record; an upload session's promised job is queued until the session ends."""
        self.jobs.wake_if_out_of_space()
        try:
            return job_dict(load_job(self.db, job_id))
        except JobNotFoundError:
            promised = self.uploads.promised_job(job_id)
            if promised is None:
                raise
            return promised

    def list_jobs(self, limit: int = DEFAULT_JOB_LIST) -> list[dict[str, Any]]:
        """The `limit` most recent jobs, newest first, running or finished."""
        return recent_jobs(self.db, limit)

    def wait_for_job(self, job_id: str, timeout_s: float) -> dict[str, Any]:
        """The job's record once it has finished, or as it is after `timeout_s` seconds."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.get_job(job_id)
            if job["status"] in (COMPLETED, FAILED) or time.monotonic() >= deadline:
                return job
            time.sleep(JOB_POLL_S)

    def update_collection_metadata(
        self, collection_name: str, content_type: str, change: MetadataChange, apply_to_files: bool
    ) -> dict[str, Any]:
        """Set fields and add tags on a collection head and, if asked, on all its files."""
        content_type = check_content_type(content_type)
        with self.db.write() as conn:
            collection = collections.get_by_name(conn, collection_name, content_type)
            head_tags = list(dict.fromkeys([*collection["tags"], *change.tags]))
            conn.execute(
                collections_table.update()
                .where(collections_table.c.id == collection["id"])
                .values(
                    metadata={**collection["metadata"], **change.fields},
                    tags=head_tags,
                    modified=utcnow(),
                )
            )
            count = 0
            if apply_to_files:
                members = sa.select(collection_items.c.item_id.label("id")).where(
                    collection_items.c.collection_id == collection["id"]
                )
                live = sa.select(items.c.id).where(
                    items.c.id.in_(members), items.c.trashed_at.is_(None)
                )
                apply_change(conn, live, change)
                count = records.count(conn, live)
        where = (
            f"collection {collection_name!r} and its {count} files"
            if apply_to_files
            else f"collection {collection_name!r}"
        )
        return answers.METADATA.answer(True, message=f"metadata updated on {where}")

    def create_collection(
        self, collection_name: str, content_type: str, change: MetadataChange
    ) -> dict[str, Any]:
        """Create an empty collection if new, and set fields and add tags on its head."""
        content_type = check_content_type(content_type)
        with self.db.write() as conn:
            name = collections.check_collection_name(collection_name)
            collection = collections.get_or_create(conn, name, content_type)
        result = self.update_collection_metadata(collection_name, content_type, change, False)
        return {**result, "collection_id": collection["id"]}

    def update_files_metadata(
        self, target: FileTarget, entries: Iterable[FileMetadataEntry]
    ) -> dict[str, Any]:
        """Apply per-file metadata entries to the files `target` names, in one transaction.

        Entries for one file add up as an upload's do (`changes_by_file`). Names that match no
        file are listed in the message; the others are still applied.
        """
        by_file = changes_by_file(entries)
        with self.db.write() as conn:
            resolved, description = file_targets.resolve(conn, target, list(by_file))
            changes = [(resolved[name], c) for name, c in by_file.items() if name in resolved]
            apply_changes(conn, changes)
        missing = [name for name in by_file if name not in resolved]
        message = f"metadata updated on {len(changes)} files"
        message += file_targets.unmatched_note(missing, description)
        return answers.METADATA.answer(not missing or bool(changes), message=message)

    def upload_annotations(
        self,
        target: FileTarget,
        annotation_file: AnnotationFile,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Check an annotation file whole and start the job that writes it (`job_id`)."""
        # Only a request id is keyed by the arguments: the file's document is not parsed for
        # them otherwise (the fast path reads it without a plain parse).
        arguments = (
            None
            if request_id is None
            else {"target": dataclasses.asdict(target), "file": annotation_file.to_json()}
        )
        result = self.requests.once(
            request_id,
            "upload_annotations",
            arguments,
            lambda: self.annotation_jobs.start(target, annotation_file),
        )
        self.jobs.wake()
        return result

    def remove_annotations(
        self, collection_id: str, operation_id: str, request_id: str | None = None
    ) -> dict[str, Any]:
        """Remove one operation's annotations from the files of a collection."""
        check_text(collection_id, "collection_id")
        check_text(operation_id, "operation_id")

        def remove() -> dict[str, Any]:
            with self.db.write() as conn:
                collection = collections.get_by_id(conn, collection_id)
                removed = remove_operation_annotations(conn, collection_id, operation_id)
            return answers.ANNOTATIONS.answer(
                True,
                message=f"{removed} annotations of operation {operation_id!r} removed from "
                f"collection {collection['name']!r}",
            )

        arguments = [collection_id, operation_id]
        return self.requests.once(request_id, "remove_annotations", arguments, remove)

    def annotation_page(
        self,
        collection_id: str,
        selection: AnnotationSelection,
        after: str | None = None,
        limit: int = 1000,
        with_urls: bool = False,
        links: Links | None = None,
        skip: int = 0,
    ) -> dict[str, Any]:
        """One page of a collection's files with their selected annotations, for downloads.

        `images` holds `{"image": unique name, "annotations": [...], "size", "url"}` (`url`
        only `with_urls`, as `download_url` makes them); `next` is the `after` of the next page.
        `skip` passes over that many files first, for protocols that page by number.
        """
        with self.db.read() as conn:
            collection = collections.get_by_id(conn, collection_id)
            selection.check_operations_exist(conn)
            entries, cursor = collection_page(conn, collection_id, selection, after, limit, skip)
        images = []
        for row, found in entries:
            image = {"image": row["unique_name"], "annotations": found, "size": row["size"]}
            if with_urls:
                image["url"] = self._blob_url(row["storage_key"], self.url_expiry_s, links)
            images.append(image)
        return {
            "collection_id": collection_id,
            "storage_name": collection["storage_name"],
            "images": images,
            "next": cursor,
        }

    def export_annotations(
        self, collection_id: str, selection: AnnotationSelection
    ) -> Iterator[bytes]:
        """A collection's `annotations.json` (as `download_collection` writes it), in chunks;
        an unknown collection or operation is refused before the first chunk."""
        return collection_exports.annotation_document(self._export_pages(collection_id, selection))

    def export_zip(self, collection_id: str, selection: AnnotationSelection) -> Iterator[bytes]:
        """A zip of a collection's files and `annotations.json`, in chunks, as it is made."""
        read_page = self._export_pages(collection_id, selection)

        def storage_keys(names: list[str]) -> dict[str, str]:
            with self.db.read() as conn:
                query = sa.select(items.c.unique_name, items.c.storage_key)
                return dict(conn.execute(query.where(items.c.unique_name.in_(names))).all())

        return collection_exports.collection_zip(read_page, self.blobs, storage_keys)

    def _export_pages(
        self, collection_id: str, selection: AnnotationSelection
    ) -> collection_exports.PageReader:
        check_text(collection_id, "collection_id")
        with self.db.read() as conn:
            collections.get_by_id(conn, collection_id)
            selection.check_operations_exist(conn)
        return lambda after: self.annotation_page(collection_id, selection, after)

    def collection_id(self, collection_name: str, content_type: str) -> str:
        check_text(collection_name, "collection_name")
        with self.db.read() as conn:
            return collections.get_by_name(conn, collection_name, check_content_type(content_type))[
                "id"
            ]

    def collection_details(self, collection_id: str) -> dict[str, Any]:
        check_text(collection_id, "collection_id")
        with self.db.read() as conn:
            return collections.collection_dict(conn, collections.get_by_id(conn, collection_id))

    def list_collections(
        self,
        content_type: str | None = None,
        page_index: int = 0,
        page_size: int = MAX_CATALOG_PAGE,
    ) -> list[dict[str, Any]]:
        """Collections not in the trash, by name, with their counts of live files."""
        with self.db.read() as conn:
            return catalog.list_collections(conn, content_type, page_index, page_size)

    def list_operations(
        self,
        collection_id: str | None = None,
        page_index: int = 0,
        page_size: int = MAX_CATALOG_PAGE,
    ) -> list[dict[str, Any]]:
        """Operations with their kind and annotation and file counts (within a collection)."""
        with self.db.read() as conn:
            return catalog.list_operations(conn, collection_id, page_index, page_size)

    def list_labels(
        self, page_index: int = 0, page_size: int = MAX_CATALOG_PAGE
    ) -> list[dict[str, Any]]:
        """Labels with their annotation and file counts."""
        with self.db.read() as conn:
            return catalog.list_labels(conn, page_index, page_size)

    def file_details(self, unique_name: str) -> dict[str, Any]:
        """A file's fields, metadata, tags and annotations (of every operation)."""
        check_text(unique_name, "unique_name")
        with self.db.read() as conn:
            item = records.find_item(conn, unique_name)
            details = records.item_dicts(conn, [item])[0]
            details["annotations"] = annotation_dicts(conn, [item["id"]]).get(item["id"], [])
        return details

    def list_items(
        self,
        selection: ItemSelection,
        sort: SortOrder,
        page_index: int,
        page_size: int,
        with_urls: bool = False,
        links: Links | None = None,
    ) -> list[dict[str, Any]]:
        """One page of the selected items in `sort` order; `with_urls` adds each one's `url`
        (as `download_url` makes them)."""
        with self.db.read() as conn:
            bitmaps = QueryBitmaps(self.term_bitmaps, conn)
            found = listing.matches(bitmaps, selection)
            ids = listing.page_ids(bitmaps, selection, found, sort, page_index, page_size)
            page = records.items_in_order(conn, ids)
        if with_urls:
            self._add_urls(page, links)
        return page

    def item_page(
        self,
        selection: ItemSelection,
        sort: SortOrder,
        page_size: int,
        cursor: str | None = None,
        with_urls: bool = False,
        links: Links | None = None,
        with_annotations: bool = False,
    ) -> dict[str, Any]:
        """The page of the selected items that follows `cursor` (the first without one), with
        the `next_cursor` to pass for the page after it (None once the last page is given);
        `with_annotations` adds each item's `annotations` (as `file_details` gives them, with
        each label's `color`)."""
        keys = listing.sort_keys(sort)
        after = None if cursor is None else decode_cursor(sort, cursor, keys)
        with self.db.read() as conn:
            bitmaps = QueryBitmaps(self.term_bitmaps, conn)
            found = listing.matches(bitmaps, selection)
            ids = listing.page_ids(bitmaps, selection, found, sort, 0, page_size, after)
            page = records.items_in_order(conn, ids)
            last = listing.last_keys(conn, sort, ids[-1]) if len(ids) == page_size else None
            if with_annotations:
                shapes = annotation_dicts(conn, ids)
                for item in page:
                    item["annotations"] = add_colors(shapes.get(item["id"], []))
        if with_urls:
            self._add_urls(page, links)
        next_cursor = None if last is None else encode_cursor(sort, last)
        return {"items": page, "next_cursor": next_cursor}

    def item_neighbours(
        self, selection: ItemSelection, sort: SortOrder, unique_name: str
    ) -> dict[str, str | None]:
        """The unique names of the selected items just before and after `unique_name` in `sort`
        order (None at either end), for stepping through a query's files one by one."""
        check_text(unique_name, "unique_name")
        backwards = SortOrder(sort.sort_by_field, "ASC" if sort.sort_order == "DESC" else "DESC")
        found_names: dict[str, str | None] = {}
        with self.db.read() as conn:
            item = records.find_item(conn, unique_name)
            bitmaps = QueryBitmaps(self.term_bitmaps, conn)
            found = listing.matches(bitmaps, selection)
            for side, order in (("previous", backwards), ("next", sort)):
                mine = listing.last_keys(conn, order, item["id"])
                ids = listing.page_ids(bitmaps, selection, found, order, 0, 1, mine)
                found_names[side] = (
                    conn.execute(
                        sa.select(items.c.unique_name).where(items.c.id == ids[0])
                    ).scalar_one()
                    if ids
                    else None
                )
        return found_names

    def item_view(self, unique_name: str) -> dict[str, Any]:
        """What the web app shows of one file: `file_details` with each annotation's label
        `color`, and the live `collections` it belongs to (uploaded to or added to)."""
        details = self.file_details(unique_name)
        add_colors(details["annotations"])
        with self.db.read() as conn:
            details["collections"] = collections.of_item(conn, details["id"])
        return details

    def _add_urls(self, page: list[dict[str, Any]], links: Links | None) -> None:
        """Each item's `url`, as `download_url` makes them."""
        for item in page:
            item["url"] = self._blob_url(item["storage_key"], self.url_expiry_s, links)

    def count_items(self, selection: ItemSelection) -> int:
        with self.db.read() as conn:
            return len(listing.matches(QueryBitmaps(self.term_bitmaps, conn), selection).items)

    def facets(
        self, selection: ItemSelection, fields: list[str] | None, top: int
    ) -> dict[str, Any]:
        """The `top` values of each field among the selected files, with their file counts."""
        names = check_facets(fields, top)
        with self.db.read() as conn:
            bitmaps = QueryBitmaps(self.term_bitmaps, conn)
            selected = listing.matches(bitmaps, selection).items
            return facets(bitmaps, selected, names, top)

    def trash(self, selection: ItemSelection, request_id: str | None = None) -> dict[str, Any]:
        """Move the selected items to the trash (bytes and annotations are kept)."""
        return self.requests.once(
            request_id,
            "trash",
            selection.to_json(),
            lambda: trash.move_to_trash(self.db, selection),
        )

    def trash_collection(self, collection_id: str, request_id: str | None = None) -> dict[str, Any]:
        """Move a collection and the files uploaded to it to the trash (see `trash`)."""
        return self.requests.once(
            request_id,
            "trash_collection",
            collection_id,
            lambda: trash.trash_collection(self.db, collection_id),
        )

    def snapshot(self, selection: ItemSelection) -> dict[str, Any]:
        """Keep the ids the selection picks now under a `selection_id` (for `trash_snapshot`)."""
        return snapshots.take(self.db, selection)

    def snapshot_selection(self, selection_id: str) -> ItemSelection:
        """The selection a snapshot was taken of (SelectionNotFoundError once it is gone)."""
        check_text(selection_id, "selection_id")
        with self.db.read() as conn:
            return snapshots.load(conn, selection_id)[0]

    def trash_snapshot(self, selection_id: str) -> dict[str, Any]:
        """Move the items a snapshot picked to the trash, as `trash` does."""
        return trash.move_snapshot_to_trash(self.db, selection_id)

    def restore_from_trash(
        self, selection: ItemSelection, request_id: str | None = None
    ) -> dict[str, Any]:
        return self.requests.once(
            request_id, "restore", selection.to_json(), lambda: trash.restore(self.db, selection)
        )

    def trash_page(
        self, content_type: str | None = None, after: str | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """Trashed items, most recently trashed first: `{"items", "next"}` (the next `after`)."""
        with self.db.read() as conn:
            return trash.trash_page(conn, content_type, after, limit)

    def empty_trash(self, older_than_days: float, request_id: str | None = None) -> dict[str, Any]:
        """Delete for good what has been in the trash `older_than_days` or longer (a retry of a
        call cut short between its batches empties the rest)."""
        return self.requests.once_keeping(
            request_id,
            "empty_trash",
            older_than_days,
            lambda keep: trash.empty_trash(self.db, self.blobs, older_than_days, keep),
        )

    def add_to_collection(
        self,
        collection_name: str,
        content_type: str,
        selection: ItemSelection,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Create the collection if new and add the selected items to it; they keep their
        unique names, bytes and the collection they were uploaded to."""
        content_type = check_content_type(content_type)
        if selection.collection_id is None and selection.content_type != content_type:
            raise InvalidArgumentError(
                f"a {content_type} collection takes {content_type} files, not "
                f"{selection.content_type} files"
            )
        return self.requests.once(
            request_id,
            "add_to_collection",
            [collection_name, content_type, selection.to_json()],
            lambda: self._add_to_collection(collection_name, content_type, selection),
        )

    def _add_to_collection(
        self, collection_name: str, content_type: str, selection: ItemSelection
    ) -> dict[str, Any]:
        with self.db.write() as conn:
            selected = selection.where(conn)  # refuses a bad query before anything is written
            collection = collections.get_or_create(
                conn, collections.check_collection_name(collection_name), content_type
            )
            before = collections.member_count(conn, collection["id"])
            rows = sa.select(
                sa.literal(collection["id"], sa.String).label("collection_id"),
                items.c.id.label("item_id"),
                sa.literal(utcnow(), TIMESTAMP).label("added"),
            ).where(*selected)
            insert_ignore(conn, collection_items, rows)
            total = collections.member_count(conn, collection["id"])
        return answers.COLLECTIONS.answer(
            True,
            collection_id=collection["id"],
            added_count=total - before,
            item_count=total,
            message=f"{total - before} files added to collection {collection_name!r} "
            f"({total} files in it)",
        )

    def create_dataset(
        self, dataset_name: str, request: VersionRequest, request_id: str | None = None
    ) -> dict[str, Any]:
        """Make version 1 of a new dataset: `request`'s files and annotations, frozen now."""
        return self._new_version(dataset_name, request, True, request_id)

    def update_dataset(
        self, dataset_name: str, request: VersionRequest, request_id: str | None = None
    ) -> dict[str, Any]:
        """Make the next version of a dataset from a new selection (files that stay keep their
        split when the seed is the same)."""
        return self._new_version(dataset_name, request, False, request_id)

    def _new_version(
        self, dataset_name: str, request: VersionRequest, new: bool, request_id: str | None
    ) -> dict[str, Any]:
        def create() -> dict[str, Any]:
            with self.db.write() as conn:
                version = versions.create_version(conn, dataset_name, request, new)
            message = (
                f"version {version['version']} of dataset {dataset_name!r}: "
                f"{version['file_count']} files, {version['annotation_count']} annotations"
            )
            return answers.DATASETS.answer(True, message=message, **version)

        operation = "create_dataset" if new else "update_dataset"
        return self.requests.once(request_id, operation, [dataset_name, request.to_json()], create)

    def get_dataset(self, dataset_name: str) -> dict[str, Any]:
        """A dataset with its versions, their counts per split and label, oldest first."""
        with self.db.read() as conn:
            return versions.dataset_dict(conn, dataset_name)

    def list_datasets(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return versions.list_datasets(conn)

    def dataset_version(self, version_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            return versions.version_dict(conn, version_id)

    def delete_dataset_version(
        self, version_id: str, request_id: str | None = None
    ) -> dict[str, Any]:
        """Delete a version (and the dataset with its last one), and the bytes only it held."""

        def delete() -> dict[str, Any]:
            with self.db.write() as conn:
                gone, keys = versions.delete_version(conn, version_id)
                released = holds.release_held(conn, keys)
            holds.delete_released(self.blobs, released)
            message = f"version {gone['version']} of dataset {gone['dataset_name']!r} deleted"
            return answers.DATASETS.answer(True, message=message, version_id=version_id)

        return self.requests.once(request_id, "delete_dataset_version", version_id, delete)

    def dataset_page(
        self,
        version_id: str,
        split: str,
        after: str | None = None,
        limit: int = 1000,
        with_urls: bool = False,
        links: Links | None = None,
        with_annotations: bool = True,
    ) -> dict[str, Any]:
        """One page of a version's files of one split, by export name, each with its annotations
        (unless not `with_annotations`) and `size`, `sha256` (and `url` when `with_urls`); `next`
        is the `after` of the next."""
        with self.db.read() as conn:
            page, cursor = versions.version_page(
                conn, version_id, split, after, limit, with_annotations
            )
        images: list[dict[str, Any]] = []
        for image, row in page:
            entry: dict[str, Any] = {**image, "size": row["size"], "sha256": row["sha256"]}
            if with_urls:
                entry["url"] = self._blob_url(row["storage_key"], self.url_expiry_s, links)
            images.append(entry)
        return {"version_id": version_id, "split": split, "images": images, "next": cursor}

    def dataset_export(
        self, version_id: str, export_type: str, with_media: bool
    ) -> tuple[DatasetFormat, Iterator[ExportEntry], MediaOpener]:
        """A version in a training format, as entries read page by page from the lake, and what
        opens the bytes of a media entry (valid while its page is the one being read)."""
        found = dataset_format(export_type)
        summary = VersionSummary.of(self.dataset_version(version_id))
        keys: dict[str, tuple[str, int]] = {}

        def read_split(split: str, with_annotations: bool = True) -> Iterator[list[ExportImage]]:
            after = None
            while True:
                with self.db.read() as conn:
                    page, after = versions.version_page(
                        conn, version_id, split, after, 1000, with_annotations
                    )
                keys.clear()
                keys.update(
                    (image["unique_name"], (row["storage_key"], row["size"])) for image, row in page
                )
                yield [image for image, _row in page]
                if after is None:
                    return

        entries = found.export_entries(summary, read_split, with_media, None)

        def open_media(unique_name: str) -> tuple[int, AbstractContextManager[BinaryIO]]:
            key, size = keys[unique_name]
            return size, self.blobs.open(key)

        return found, entries, open_media

    def dataset_media(
        self, version_id: str, skip: int, limit: int, links: Links | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` files of a version after the first `skip`, in export order, each with
        its `split`, export name (`file`) and `url`; and whether more follow."""
        with self.db.read() as conn:
            rows, more = versions.version_files(conn, version_id, skip, limit)
        files = [
            {
                "split": row["split"],
                "file": row["file"],
                "url": self._blob_url(row["storage_key"], self.url_expiry_s, links),
            }
            for row in rows
        ]
        return files, more

    def dataset_part(self, version_id: str, export_type: str, name: str) -> Iterator[bytes]:
        """One download of a version's generated files (see `parts`): a zip of one top-level
        folder, or one file at the export's root, in chunks as it is made."""
        found = dataset_format(export_type)
        splits = VersionSummary.of(self.dataset_version(version_id)).splits
        is_zip = parts.check_part(found, splits, name)
        _found, entries, open_media = self.dataset_export(version_id, export_type, False)
        if is_zip:
            return collection_exports.entries_zip(parts.folder_entries(entries, name), open_media)
        return parts.root_file(entries, name)

    def dataset_zip(self, version_id: str, export_type: str, with_media: bool) -> Iterator[bytes]:
        """A zip of a version in a training format (with its files when `with_media`), in
        chunks as it is made."""
        _found, entries, open_media = self.dataset_export(version_id, export_type, with_media)
        return collection_exports.entries_zip(entries, open_media)

    def download_url(
        self, file_key: str, expires_in: float | None = None, links: Links | None = None
    ) -> str:
        """A URL of the bytes of a file named by unique name or storage key.

        The store's own URL where it serves clients itself (presigned for S3), else one from
        `links` (a server's signed route), else the store's `file://` URL (embedded).
        It works for `expires_in` seconds (default `$METALAKE_URL_EXPIRY`, one hour).
        """
        expires_in = self.url_expiry_s if expires_in is None else expiry_seconds(expires_in)
        check_text(file_key, "file_key")
        with self.db.read() as conn:
            item = records.find_item(conn, file_key)
        return self._blob_url(item["storage_key"], expires_in, links)

    def _blob_url(self, key: str, expires_in: float, links: Links | None) -> str:
        if links is not None and not self.blobs.direct_uploads:
            return links.download(key, expires_in)
        return self.blobs.url(key, expires_in)

    def served_file(self, key: str) -> Path:
        """The local file behind a download link of `key` (its signature checked by the way
        in): ItemNotFoundError once its item is in the trash or deleted."""
        with self.db.read() as conn:
            live = (
                conn.execute(
                    records.live_items().where(items.c.storage_key == key).limit(1)
                ).first()
                or conn.execute(
                    sa.select(dataset_files.c.version_id)
                    .where(dataset_files.c.storage_key == key)
                    .limit(1)
                ).first()
            )
        path = self.blobs.path_of(key)  # type: ignore[attr-defined]  # local stores only
        if live is None or not path.is_file():
            raise ItemNotFoundError(
                "the file of this URL is in the trash or was deleted, and no dataset version "
                "holds it"
            )
        return path

    def thumbnail(self, unique_name: str, size: int = THUMBNAIL_SIZE) -> bytes:
        """A JPEG thumbnail of an image, made on first request and cached in the object store."""
        check_thumbnail_size(size)
        check_text(unique_name, "unique_name")
        with self.db.read() as conn:
            item = records.find_item(conn, unique_name)
        if item["content_type"] != "image":
            raise InvalidArgumentError(f"{unique_name!r} is a {item['content_type']}, not an image")
        key = thumbnail_key(item["id"], size)
        if self.blobs.exists(key):
            return self.blobs.read_bytes(key)
        with self.blobs.open(item["storage_key"]) as source:
            thumbnail = make_thumbnail(source, size)
        self.blobs.put_bytes(key, thumbnail)
        return thumbnail
