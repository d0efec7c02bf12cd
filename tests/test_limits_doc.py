"""docs/limits.md is the truth: every limit it lists has the value the code enforces, and a call
just past it is refused with the error the table names. A limit added to the table without a
check here (or checked here and not documented) fails the first test."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from metalake import (
    AuthenticationError,
    InvalidArgumentError,
    InvalidPathError,
    InvalidQueryError,
    MetaLakeError,
    PayloadTooLargeError,
    TooManyRequestsError,
)
from metalake.blobs.keys import MAX_KEY_LENGTH, MAX_SEGMENT_BYTES, check_file_name, check_user_key
from metalake.lake import (
    catalog,
    collections,
    cursors,
    facets,
    limits,
    records,
    trash,
    upload_sessions,
)
from metalake.lake.annotations import documents, exports, shapes, store
from metalake.lake.annotations.store import AnnotationSelection
from metalake.lake.datasets import splits, versions
from metalake.lake.ingest import UploadFile, UploadRequest, check_upload
from metalake.lake.lake import Lake
from metalake.lake.limits import DEFAULT_JOB_LIST, MAX_JOB_LIST
from metalake.lake.logins import DEFAULT_PER_ADDRESS, DEFAULT_PER_KEY, LoginLimiter, LoginLimits
from metalake.lake.metadata import MAX_KEY_LENGTH as MAX_METADATA_KEY
from metalake.lake.metadata import parse_metadata_object
from metalake.lake.names import MAX_TEXT_ARGUMENT, check_text
from metalake.lake.query import limits as query_limits
from metalake.lake.records import MAX_PAGE_SIZE
from metalake.lake.selection import ItemSelection, SortOrder
from metalake.lake.signing import MAX_EXPIRY_S, expiry_seconds
from metalake.media.thumbnails import THUMBNAIL_SIZES, check_thumbnail_size
from metalake.server import bodies
from metalake.server.app import create_app
from tests import asgi
from tests.conftest import links_of

DOC = Path(__file__).parent.parent / "docs" / "limits.md"
ROW = re.compile(r"^\| `(\w+)` \| (.+?) \| (.+?) \| `(.+?)` \|$")


def documented() -> dict[str, tuple[str, str]]:
    """id -> (limit text, source file) of every row of the table."""
    rows = {}
    for line in DOC.read_text().splitlines():
        if match := ROW.match(line):
            rows[match[1]] = (match[2], match[4])
    return rows


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    lake = Lake(tmp_path_factory.mktemp("limits") / "lake")
    yield lake
    lake.close()


def refused(
    error: type[MetaLakeError], call: Callable[[], object], match: str | None = None
) -> None:
    with pytest.raises(error, match=match):
        call()


def upload(*files: UploadFile, **options: object) -> UploadRequest:
    return UploadRequest("limits", "other", list(files), **options)  # type: ignore[arg-type]


def mentions(text: str, *numbers: int) -> None:
    for number in numbers:
        assert str(number) in text.replace(",", ""), (number, text)


def open_upload(lake: Lake, files: list[UploadFile], part_size: int = 16 << 20) -> None:
    lake.uploads.open(upload(*files), files[0].file_name, None, part_size, links_of(lake))


def check_object_size(text: str, lake: Lake) -> None:
    mentions(text, limits.DEFAULT_MAX_OBJECT_SIZE)
    big = UploadFile("big.bin", "", size=limits.DEFAULT_MAX_OBJECT_SIZE + 1)
    refused(PayloadTooLargeError, lambda: open_upload(lake, [big], 1 << 30), "at most")


def check_parts_per_file(text: str, lake: Lake) -> None:
    mentions(text, upload_sessions.MAX_PARTS)
    size = upload_sessions.MAX_PARTS * (64 << 10) + 1
    refused(
        PayloadTooLargeError,
        lambda: open_upload(lake, [UploadFile("p.bin", "", size=size)], 64 << 10),
        "parts",
    )


def check_parts_per_upload(text: str, lake: Lake) -> None:
    mentions(text, upload_sessions.MAX_SESSION_PARTS)
    per_file = upload_sessions.MAX_PARTS * (64 << 10)
    files = [UploadFile(f"f{i}.bin", "", size=per_file) for i in range(11)]
    refused(PayloadTooLargeError, lambda: open_upload(lake, files, 64 << 10), "one upload")


def check_part_size(text: str, lake: Lake) -> None:
    low, high = upload_sessions.MIN_PART_SIZE[False], upload_sessions.MAX_PART_SIZE
    mentions(text, low, high)
    one = [UploadFile("s.bin", "", size=10)]
    refused(InvalidArgumentError, lambda: open_upload(lake, one, low - 1), "part_size")
    refused(InvalidArgumentError, lambda: open_upload(lake, one, high + 1), "part_size")


def check_part_body(text: str, lake: Lake) -> None:
    mentions(text, upload_sessions.MAX_BUNDLE_BYTES)
    ten = upload(UploadFile("ten.bin", "", size=10))
    lake.uploads.open(ten, "part-body", None, 64 << 10, links_of(lake))
    session = lake.uploads.open(ten, "part-body", None, 64 << 10, links_of(lake))
    sid = session["session_id"]
    assert lake.uploads.part_limit(sid, 0, 1) == 10
    refused(
        InvalidArgumentError,
        lambda: lake.uploads.receive_part(sid, 0, 1, io.BytesIO(b"x" * 11), None),
        "must be 10 bytes",
    )


def check_request_body(text: str, lake: Lake) -> None:
    mentions(text, limits.MAX_REQUEST_BYTES)
    declared = [(b"content-length", str(limits.MAX_REQUEST_BYTES + 1).encode())]
    status, _ = asgi.post(bodies.BodyLimit(create_app()), "/api/v1/items/count", [], declared)
    assert status == 413


def check_files_per_upload(text: str, lake: Lake) -> None:
    mentions(text, limits.MAX_UPLOAD_FILES)
    files = [UploadFile(f"{i}.bin", "", size=1) for i in range(limits.MAX_UPLOAD_FILES + 1)]
    refused(PayloadTooLargeError, lambda: check_upload(upload(*files)), "at most")


def check_file_name_limit(text: str, lake: Lake) -> None:
    mentions(text, MAX_SEGMENT_BYTES)
    check_file_name("a" * (MAX_SEGMENT_BYTES - 4) + ".jpg")
    for name in ("a" * (MAX_SEGMENT_BYTES - 3) + ".jpg", "a\x00.jpg", "a\x1b.jpg", ".a.jpg"):
        refused(InvalidPathError, lambda name=name: check_file_name(name))


def check_collection_name(text: str, lake: Lake) -> None:
    mentions(text, collections.MAX_NAME_LENGTH)
    collections.check_collection_name("c" * collections.MAX_NAME_LENGTH)
    for name in ("c" * (collections.MAX_NAME_LENGTH + 1), "new\nline", "nul\x00"):
        refused(InvalidArgumentError, lambda name=name: collections.check_collection_name(name))


def check_storage_key(text: str, lake: Lake) -> None:
    mentions(text, MAX_KEY_LENGTH)
    refused(InvalidPathError, lambda: check_user_key("k" * (MAX_KEY_LENGTH + 1)))
    for prefix in (".thumbnails", "a/.uploads", ".staging", ".tmp"):
        refused(InvalidPathError, lambda prefix=prefix: check_user_key(prefix), "reserved")


def check_lookup_text(text: str, lake: Lake) -> None:
    mentions(text, MAX_TEXT_ARGUMENT)
    check_text("n" * MAX_TEXT_ARGUMENT, "name")
    refused(InvalidArgumentError, lambda: check_text("n" * (MAX_TEXT_ARGUMENT + 1), "name"))
    refused(InvalidArgumentError, lambda: lake.file_details("a\x00b"))


def count(lake: Lake, query: str) -> int:
    return lake.count_items(ItemSelection(content_type="image", query=query))


def query_check(limit: int, within: str, past: str) -> Callable[[str, Lake], None]:
    def check(text: str, lake: Lake) -> None:
        mentions(text, limit)
        assert count(lake, within) == 0
        refused(InvalidQueryError, lambda: count(lake, past))

    return check


def check_query_numbers(text: str, lake: Lake) -> None:
    mentions(text, limits.MIN_INTEGER, limits.MAX_INTEGER)
    assert count(lake, f"size = {limits.MAX_INTEGER}") == 0
    refused(InvalidQueryError, lambda: count(lake, f"size = {limits.MAX_INTEGER + 1}"))
    refused(InvalidQueryError, lambda: count(lake, "count() >= 1e400"))


def check_query_characters(text: str, lake: Lake) -> None:
    assert count(lake, "name = a\t") == 0
    for bad in ("name = a\x00", "name = a\x1b"):
        refused(InvalidQueryError, lambda bad=bad: count(lake, bad))


def page_check(error_match: str) -> Callable[[str, Lake], None]:
    def check(text: str, lake: Lake) -> None:
        if error_match == "page_size":
            mentions(text, records.MAX_PAGE_SIZE)
            records.check_page(0, records.MAX_PAGE_SIZE)
            refused(InvalidArgumentError, lambda: records.check_page(0, records.MAX_PAGE_SIZE + 1))
        elif error_match == "depth":
            mentions(text, records.MAX_OFFSET)
            records.check_page(records.MAX_OFFSET // 1000, 1000)
            refused(InvalidArgumentError, lambda: records.check_page(records.MAX_OFFSET, 2))
        elif error_match == "catalog":
            mentions(text, catalog.MAX_CATALOG_PAGE)
            refused(InvalidArgumentError, lambda: lake.list_labels(0, catalog.MAX_CATALOG_PAGE + 1))
        else:
            mentions(text, exports.MAX_PAGE_ITEMS)
            refused(
                InvalidArgumentError, lambda: exports.check_page_limit(exports.MAX_PAGE_ITEMS + 1)
            )

    return check


def check_facet_fields(text: str, lake: Lake) -> None:
    mentions(text, facets.MAX_FIELDS, facets.MAX_KEY_LENGTH)
    everything = ItemSelection.of("image")
    most = [f"metadata.k{i}" for i in range(facets.MAX_FIELDS)]
    assert lake.facets(everything, most, 1)["file_count"] == 0
    refused(InvalidArgumentError, lambda: lake.facets(everything, [*most, "label"], 1), "at most")
    long_key = "metadata." + "k" * (facets.MAX_KEY_LENGTH + 1)
    refused(InvalidArgumentError, lambda: lake.facets(everything, [long_key], 1), "unknown")


def check_facet_top(text: str, lake: Lake) -> None:
    mentions(text, facets.MAX_TOP)
    everything = ItemSelection.of("image")
    assert lake.facets(everything, ["label"], facets.MAX_TOP)["facets"] == {"label": []}
    refused(InvalidArgumentError, lambda: lake.facets(everything, ["label"], facets.MAX_TOP + 1))


def check_page_cursor(text: str, lake: Lake) -> None:
    mentions(text, cursors.MAX_CURSOR_LENGTH)
    everything = ItemSelection.of("image")
    long_cursor = "A" * (cursors.MAX_CURSOR_LENGTH + 1)
    refused(InvalidArgumentError, lambda: lake.item_page(everything, SortOrder(), 10, long_cursor))


def check_selected_operations(text: str, lake: Lake) -> None:
    mentions(text, store.MAX_SELECTED_OPERATIONS)
    many = tuple(f"op{i}" for i in range(store.MAX_SELECTED_OPERATIONS + 1))
    refused(InvalidArgumentError, lambda: store.AnnotationSelection("all", many), "at most")


def check_operation_id(text: str, lake: Lake) -> None:
    mentions(text, documents.MAX_OPERATION_ID_LENGTH)
    long_id = "o" * (documents.MAX_OPERATION_ID_LENGTH + 1)
    refused(
        InvalidArgumentError,
        lambda: documents.AnnotationFile({"images": []}, long_id, False, False),
    )


def check_label(text: str, lake: Lake) -> None:
    mentions(text, shapes.MAX_LABEL_LENGTH)
    shape = {
        "type": "rectangle",
        "bbox": [0, 0, 1, 1],
        "label": "l" * (shapes.MAX_LABEL_LENGTH + 1),
    }
    document = {"images": [{"image": "a.jpg", "annotations": [shape]}]}
    refused(
        InvalidArgumentError,
        lambda: documents.AnnotationFile(document, "op", False, False).entries,
        "label",
    )


def check_metadata_key(text: str, lake: Lake) -> None:
    mentions(text, MAX_METADATA_KEY)
    parse_metadata_object({"k" * MAX_METADATA_KEY: 1}, "m")
    refused(
        InvalidArgumentError, lambda: parse_metadata_object({"k" * (MAX_METADATA_KEY + 1): 1}, "m")
    )


def check_trash_age(text: str, lake: Lake) -> None:
    mentions(text, trash.MAX_TRASH_AGE_DAYS)
    trash.check_trash_age(trash.MAX_TRASH_AGE_DAYS)
    refused(InvalidArgumentError, lambda: lake.empty_trash(trash.MAX_TRASH_AGE_DAYS + 1))


def check_job_list(text: str, lake: Lake) -> None:
    mentions(text, MAX_JOB_LIST, DEFAULT_JOB_LIST)
    assert lake.list_jobs(MAX_JOB_LIST) == []
    for limit in (0, MAX_JOB_LIST + 1):
        refused(InvalidArgumentError, lambda limit=limit: lake.list_jobs(limit))


def check_trash_page(text: str, lake: Lake) -> None:
    mentions(text, MAX_PAGE_SIZE)
    assert lake.trash_page(limit=MAX_PAGE_SIZE)["items"] == []
    for limit in (0, MAX_PAGE_SIZE + 1):
        refused(InvalidArgumentError, lambda limit=limit: lake.trash_page(limit=limit))


def check_dataset_labels(text: str, lake: Lake) -> None:
    mentions(text, versions.MAX_LABELS)
    everything = ItemSelection.of("image")
    names = [f"l{i}" for i in range(versions.MAX_LABELS + 1)]
    request = functools.partial(versions.VersionRequest.of, everything, AnnotationSelection())
    assert request(names[:-1], None, 0).labels == tuple(names[:-1])
    refused(InvalidArgumentError, lambda: request(names, None, 0), "at most")


def check_dataset_split_info(text: str, lake: Lake) -> None:
    mentions(text, 100)
    assert splits.check_split_info({"train": 100, "test": 0}) == {"train": 100, "test": 0}
    for bad in ({"train": 99.5}, {"train": 101, "test": -1}, {"dev": 100}, {"train": "100"}):
        refused(InvalidArgumentError, lambda bad=bad: splits.check_split_info(bad))


def check_dataset_seed(text: str, lake: Lake) -> None:
    mentions(text, splits.MAX_SEED)
    assert splits.check_seed(splits.MAX_SEED) == splits.MAX_SEED
    for bad in (-1, splits.MAX_SEED + 1, 1.5, True):
        refused(InvalidArgumentError, lambda bad=bad: splits.check_seed(bad))


def check_dataset_page(text: str, lake: Lake) -> None:
    mentions(text, exports.MAX_PAGE_ITEMS)
    for limit in (0, exports.MAX_PAGE_ITEMS + 1):
        refused(
            InvalidArgumentError,
            lambda limit=limit: lake.dataset_page("000000000000000000000000", "train", None, limit),
        )


def check_thumbnail_size_limit(text: str, lake: Lake) -> None:
    mentions(text, *THUMBNAIL_SIZES)
    for size in (0, 100, 2048):
        refused(InvalidArgumentError, lambda size=size: check_thumbnail_size(size))


def check_url_expiry(text: str, lake: Lake) -> None:
    mentions(text, MAX_EXPIRY_S)
    assert expiry_seconds(MAX_EXPIRY_S) == MAX_EXPIRY_S
    for bad in (0, 0.5, MAX_EXPIRY_S + 1):
        refused(InvalidArgumentError, lambda bad=bad: expiry_seconds(bad))


def login_check(per_key: bool) -> Callable[[str, Lake], None]:
    def check(text: str, lake: Lake) -> None:
        limit = DEFAULT_PER_KEY if per_key else DEFAULT_PER_ADDRESS
        mentions(text, limit)
        limiter = LoginLimiter(LoginLimits())
        for attempt in range(limit):
            key = "mlk_" + ("0" * 24 if per_key else f"{attempt:024x}")
            refused(
                AuthenticationError, lambda key=key: limiter.authenticate(lake.db, key, "x", "a")
            )
        refused(
            TooManyRequestsError,
            lambda: limiter.authenticate(lake.db, "mlk_" + "0" * 24, "x", "a"),
        )
        other = "mlk_" + "f" * 24
        refused(AuthenticationError, lambda: limiter.authenticate(lake.db, other, "x", "b"))

    return check


CHECKS: dict[str, Callable[[str, Lake], None]] = {
    "object_size": check_object_size,
    "parts_per_file": check_parts_per_file,
    "parts_per_upload": check_parts_per_upload,
    "part_size": check_part_size,
    "part_body": check_part_body,
    "files_per_upload": check_files_per_upload,
    "request_body": check_request_body,
    "file_name": check_file_name_limit,
    "collection_name": check_collection_name,
    "storage_key": check_storage_key,
    "lookup_text": check_lookup_text,
    "query_length": query_check(
        query_limits.MAX_QUERY_LENGTH,
        "name = " + "a" * (query_limits.MAX_QUERY_LENGTH - 7),
        "name = " + "a" * (query_limits.MAX_QUERY_LENGTH - 6),
    ),
    "query_depth": query_check(
        query_limits.MAX_DEPTH,
        "(" * (query_limits.MAX_DEPTH - 1) + "name = a" + ")" * (query_limits.MAX_DEPTH - 1),
        "(" * query_limits.MAX_DEPTH + "name = a" + ")" * query_limits.MAX_DEPTH,
    ),
    "query_terms": query_check(
        query_limits.MAX_TERMS,
        "||".join(f"fps={i}" for i in range(query_limits.MAX_TERMS)),
        "||".join(f"fps={i}" for i in range(query_limits.MAX_TERMS + 1)),
    ),
    "query_in_values": query_check(
        query_limits.MAX_IN_VALUES,
        "name IN [" + ", ".join(f"a{i}" for i in range(query_limits.MAX_IN_VALUES)) + "]",
        "name IN [" + ", ".join(f"a{i}" for i in range(query_limits.MAX_IN_VALUES + 1)) + "]",
    ),
    "query_pattern": query_check(
        query_limits.MAX_PATTERN_LENGTH,
        f'name ~ "{"a" * query_limits.MAX_PATTERN_LENGTH}"',
        f'name ~ "{"a" * (query_limits.MAX_PATTERN_LENGTH + 1)}"',
    ),
    "query_wildcards": query_check(
        query_limits.MAX_WILDCARDS,
        f'name ~ "{"a*" * query_limits.MAX_WILDCARDS}"',
        f'name ~ "{"a*" * (query_limits.MAX_WILDCARDS + 1)}"',
    ),
    "query_numbers": check_query_numbers,
    "query_characters": check_query_characters,
    "page_size": page_check("page_size"),
    "page_depth": page_check("depth"),
    "catalog_page": page_check("catalog"),
    "facet_fields": check_facet_fields,
    "facet_top": check_facet_top,
    "page_cursor": check_page_cursor,
    "annotation_page": page_check("annotations"),
    "selected_operations": check_selected_operations,
    "operation_id": check_operation_id,
    "label": check_label,
    "metadata_key": check_metadata_key,
    "trash_age": check_trash_age,
    "job_list": check_job_list,
    "dataset_labels": check_dataset_labels,
    "dataset_split_info": check_dataset_split_info,
    "dataset_seed": check_dataset_seed,
    "dataset_page": check_dataset_page,
    "trash_page": check_trash_page,
    "thumbnail_size": check_thumbnail_size_limit,
    "url_expiry": check_url_expiry,
    "failed_logins_per_address": login_check(per_key=False),
    "failed_logins_per_key": login_check(per_key=True),
}


def test_every_documented_limit_is_checked_here_and_its_source_exists():
    rows = documented()
    assert set(rows) == set(CHECKS)
    root = DOC.parent.parent
    for limit_id, (_, source) in rows.items():
        assert (root / source).is_file(), (limit_id, source)


@pytest.mark.parametrize("limit_id", sorted(CHECKS))
def test_a_documented_limit_is_enforced(limit_id: str, lake: Lake):
    text, _ = documented()[limit_id]
    CHECKS[limit_id](text, lake)
