"""The same bad input raises the same exception class with the same message, embedded and remote.

One embedded lake and one served lake hold the same small collection; every row of the table is
called on both clients and must fail alike (and as the row expects).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from metalake import (
    Client,
    CollectionNotFoundError,
    InvalidArgumentError,
    InvalidPathError,
    InvalidQueryError,
    ItemNotFoundError,
    JobNotFoundError,
    MetaLakeError,
    OperationNotFoundError,
)
from tests.conftest import upload_and_wait
from tests.media_factory import make_folder
from tests.servers import serve

NO_ID = "0" * 24
PLACES: dict[str, str] = {}
"""Where the module's files are (set by the `clients` fixture)."""
IMAGE = "parity_img_000.jpg"
Call = Callable[[Client, str], Any]


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Client, str]]]:
    """{"embedded": (client, collection id), "remote": (client, collection id)}."""
    root = tmp_path_factory.mktemp("parity")
    images = make_folder(root / "images", 2)
    PLACES["images"] = str(images)
    with serve(root / "served") as server:
        embedded = Client(home=root / "embedded", show_progress=False)
        remote = Client(server.url, server.key, server.secret, show_progress=False)
        found = {}
        for name, client in (("embedded", embedded), ("remote", remote)):
            found[name] = (
                client,
                upload_and_wait(client, str(images), "image", "parity")["collection_id"],
            )
        yield found
        embedded.close()
        remote.close()


ROWS: list[tuple[str, Call, type[MetaLakeError], str]] = [
    (
        "upload storage_prefix_path=5",
        lambda c, _: c.upload_files_to_collection(
            PLACES["images"], "image", "x", storage_prefix_path=5
        ),
        InvalidArgumentError,
        "storage_prefix_path must be a string",
    ),
    (
        "upload collection_name=None",
        lambda c, _: c.upload_files_to_collection(PLACES["images"], "image", None),
        InvalidArgumentError,
        "collection name must be",
    ),
    ("get_job(None)", lambda c, _: c.get_job(None), InvalidArgumentError, "job_id must be"),
    ("get_job(5)", lambda c, _: c.get_job(5), InvalidArgumentError, "job_id must be"),
    ("get_job unknown", lambda c, _: c.get_job(NO_ID), JobNotFoundError, "no job with id"),
    (
        "wait_for_job_complete(None)",
        lambda c, _: c.wait_for_job_complete(None),
        InvalidArgumentError,
        "job_id must be",
    ),
    (
        "thumbnail size 0",
        lambda c, _: c.get_thumbnail(IMAGE, 0),
        InvalidArgumentError,
        "thumbnail size must be one of",
    ),
    (
        "thumbnail size -5",
        lambda c, _: c.get_thumbnail(IMAGE, -5),
        InvalidArgumentError,
        "thumbnail size must be one of",
    ),
    (
        "thumbnail size 10**6",
        lambda c, _: c.get_thumbnail(IMAGE, 10**6),
        InvalidArgumentError,
        "thumbnail size must be one of",
    ),
    (
        "thumbnail size '256'",
        lambda c, _: c.get_thumbnail(IMAGE, "256"),
        InvalidArgumentError,
        "thumbnail size must be one of",
    ),
    (
        "download into /proc/self",
        lambda c, cid: c.download_collection(cid, custom_download_path="/proc/self"),
        InvalidPathError,
        "is not a folder files can be written to",
    ),
    (
        "download unknown operation",
        lambda c, cid: c.download_collection(
            cid,
            operation_id_list=["nope"],
            is_media_include=False,
            custom_download_path="/tmp/metalake-parity",
        ),
        OperationNotFoundError,
        "no annotation operation with id 'nope'",
    ),
    (
        "page_index 10**18",
        lambda c, cid: c.get_item_list_from_collection(cid, page_index=10**18),
        InvalidArgumentError,
        "the deepest a page may start",
    ),
    (
        "page_size 0",
        lambda c, cid: c.get_item_list_from_collection(cid, page_size=0),
        InvalidArgumentError,
        "page_size must be between",
    ),
    (
        "page_index -1",
        lambda c, cid: c.get_item_list_from_collection(cid, page_index=-1),
        InvalidArgumentError,
        "page_index must be",
    ),
    (
        "empty_trash 1e12",
        lambda c, _: c.empty_trash(1e12),
        InvalidArgumentError,
        "older_than_days must be",
    ),
    (
        "empty_trash nan",
        lambda c, _: c.empty_trash(float("nan")),
        InvalidArgumentError,
        "older_than_days must be",
    ),
    (
        "empty_trash inf",
        lambda c, _: c.empty_trash(float("inf")),
        InvalidArgumentError,
        "older_than_days must be",
    ),
    (
        "empty_trash -1",
        lambda c, _: c.empty_trash(-1),
        InvalidArgumentError,
        "older_than_days must be",
    ),
    (
        "empty_trash '3'",
        lambda c, _: c.empty_trash("3"),
        InvalidArgumentError,
        "older_than_days must be",
    ),
    (
        "details None",
        lambda c, _: c.get_file_details(None),
        InvalidArgumentError,
        "unique_name must be",
    ),
    (
        "details unknown",
        lambda c, _: c.get_file_details("nope.jpg"),
        ItemNotFoundError,
        "no file with unique name",
    ),
    (
        "url None",
        lambda c, _: c.get_downloadable_url(None),
        InvalidArgumentError,
        "file_key must be",
    ),
    (
        "collection id None",
        lambda c, _: c.get_collection_details(None),
        InvalidArgumentError,
        "collection_id must be",
    ),
    (
        "collection unknown",
        lambda c, _: c.get_collection_details(NO_ID),
        CollectionNotFoundError,
        "no collection with id",
    ),
    (
        "collection by name None",
        lambda c, _: c.get_collection_id_by_name(None),
        InvalidArgumentError,
        "collection_name must be",
    ),
    (
        "collection by name, bad type",
        lambda c, _: c.get_collection_id_by_name("parity", "sound"),
        InvalidArgumentError,
        "content type 'sound' is not one of",
    ),
    (
        "count, bad query",
        lambda c, cid: c.get_item_count_from_collection(cid, "width >"),
        InvalidQueryError,
        "query error at column",
    ),
    (
        "count, huge number",
        lambda c, cid: c.get_item_count_from_collection(cid, "count() >= 99999999999999999999999"),
        InvalidQueryError,
        "query error",
    ),
    (
        "count, unknown filter key",
        lambda c, cid: c.get_item_count_from_collection(cid, "", {"colour": "red"}),
        InvalidArgumentError,
        "colour",
    ),
    (
        "list, bad sort",
        lambda c, cid: c.get_item_list_from_collection(cid, sort_order={"sort_by_field": "colour"}),
        InvalidArgumentError,
        "sort_by_field",
    ),
    (
        "remove annotations, unknown op",
        lambda c, cid: c.remove_annotations(cid, "nope"),
        OperationNotFoundError,
        "no annotation operation",
    ),
    (
        "remove annotations, op None",
        lambda c, cid: c.remove_annotations(cid, None),
        InvalidArgumentError,
        "operation_id must be",
    ),
    (
        "trash datalake, no query",
        lambda c, _: c.trash_objects_from_datalake("", {}, "image"),
        InvalidArgumentError,
        "",
    ),
    (
        "metadata of unknown collection",
        lambda c, _: c.upload_metadata_for_collection("nope", "image", {"a": 1}),
        CollectionNotFoundError,
        "no image collection named 'nope'",
    ),
    (
        "metadata with a list value",
        lambda c, _: c.upload_metadata_for_collection("parity", "image", {"a": [1]}),
        InvalidArgumentError,
        "metadata_obj",
    ),
    (
        "metadata beyond 64 bits",
        lambda c, _: c.upload_metadata_for_collection("parity", "image", {"a": 2**70}),
        InvalidArgumentError,
        "64",
    ),
    (
        "metadata nan",
        lambda c, _: c.upload_metadata_for_collection("parity", "image", {"a": float("nan")}),
        InvalidArgumentError,
        "finite",
    ),
    (
        "metadata NUL key",
        lambda c, _: c.upload_metadata_for_collection("parity", "image", {"a\x00": 1}),
        InvalidArgumentError,
        "control characters",
    ),
    (
        "add to collection, None name",
        lambda c, _: c.create_or_update_collection(None, "image", "name = a"),
        InvalidArgumentError,
        "collection name must be",
    ),
]


@pytest.mark.parametrize(
    ("call", "expected", "message"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_bad_input_fails_alike_embedded_and_remote(clients, call: Call, expected, message: str):
    raised = {}
    for name, (client, collection_id) in clients.items():
        with pytest.raises(MetaLakeError) as info:
            call(client, collection_id)
        raised[name] = (type(info.value), str(info.value))
    assert raised["embedded"] == raised["remote"]
    assert issubclass(raised["embedded"][0], expected), raised["embedded"]
    assert message in raised["embedded"][1], raised["embedded"]
