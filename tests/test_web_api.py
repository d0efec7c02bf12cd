"""The Lake calls the web app adds: query checks, neighbours, the trash listing, recent jobs."""

from __future__ import annotations

import contextlib
import io
import struct
import threading
import zipfile
import zlib
from pathlib import Path

import pytest

from metalake import Client
from metalake.errors import AuthenticationError, InvalidArgumentError, InvalidQueryError
from metalake.lake.annotations.store import AnnotationSelection
from metalake.lake.lake import Lake, lake_database
from metalake.lake.selection import ItemSelection, SortOrder
from metalake.lake.web_sessions import create_login_link, redeem_login_link
from metalake.store.database import Database
from tests.conftest import upload_and_wait

BY_NAME = SortOrder("name", "ASC")


@pytest.fixture
def lake(tmp_path: Path, images: Path) -> Lake:
    with Client(home=str(tmp_path / "lake"), show_progress=False) as client:
        upload_and_wait(client, str(images), "image", "col")
    opened = Lake(tmp_path / "lake")
    yield opened
    opened.close()


def test_check_query_names_the_column_and_runs_nothing(lake: Lake):
    lake.check_query("annotation(label = car) AND tags = night")
    lake.check_query("   ")
    with pytest.raises(InvalidQueryError) as refused:
        lake.check_query("name = a AND")
    assert refused.value.column == 13
    with pytest.raises(InvalidQueryError) as unknown:
        lake.check_query("annotation.colour.x.y = 1 AND size = big")
    assert unknown.value.column is not None and "column" in str(unknown.value)


def test_neighbours_follow_the_sort_order_and_stop_at_the_ends(lake: Lake):
    selection = ItemSelection.of("image", query="name != img_002.jpg")
    names = [f"col_img_00{i}.jpg" for i in (0, 1, 3, 4)]
    assert lake.item_neighbours(selection, BY_NAME, names[0]) == {
        "previous": None,
        "next": names[1],
    }
    assert lake.item_neighbours(selection, BY_NAME, names[1]) == {
        "previous": names[0],
        "next": names[2],
    }
    assert lake.item_neighbours(selection, SortOrder("name", "DESC"), names[3]) == {
        "previous": None,
        "next": names[2],
    }
    assert lake.item_neighbours(selection, BY_NAME, names[3])["next"] is None


def test_trash_listing_pages_newest_first(lake: Lake):
    for name in ("img_001.jpg", "img_003.jpg", "img_004.jpg"):
        lake.trash(ItemSelection.of("image", query=f"name = {name}"))
    first = lake.trash_page("image", limit=2)
    assert [i["file_name"] for i in first["items"]] == ["img_004.jpg", "img_003.jpg"]
    assert all(i["trashed_at"] for i in first["items"])
    rest = lake.trash_page("image", after=first["next"], limit=2)
    assert [i["file_name"] for i in rest["items"]] == ["img_001.jpg"] and rest["next"] is None
    assert lake.trash_page("video")["items"] == []
    with pytest.raises(InvalidArgumentError, match="not an item in the trash"):
        lake.trash_page(after="nope")


def test_recent_jobs_come_newest_first(lake: Lake):
    jobs = lake.list_jobs()
    assert [j["type"] for j in jobs] == ["upload"] and jobs[0]["status"] == "completed"
    assert lake.item_view("col_img_000.jpg")["collections"][0]["name"] == "col"


def _redeem_at_once(databases: list[Database], token: str) -> list[str]:
    """The keys that redeeming `token` in each database, all at the same moment, gave."""
    start = threading.Barrier(len(databases))
    keys: list[str] = []

    def redeem(db: Database) -> None:
        start.wait()
        with contextlib.suppress(AuthenticationError):
            keys.append(redeem_login_link(db, token))

    threads = [threading.Thread(target=redeem, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return keys


def test_a_login_link_redeemed_twice_at_once_opens_one_session(tmp_path: Path, postgres_url: str):
    """Two server processes (two Databases) redeeming one link at the same moment: on
    PostgreSQL a SELECT then DELETE let both through, about one time in three."""
    databases = [lake_database(tmp_path / "lake", postgres_url) for _ in range(2)]
    try:
        for _ in range(20):
            assert len(_redeem_at_once(databases, create_login_link(databases[0]))) == 1
    finally:
        for db in databases:
            db.close()


def _read_as_a_stream(data: bytes) -> dict[str, bytes]:
    """The members of a zip read front to back from local headers, never the central
    directory, as a streaming reader (Java's ZipInputStream, `unzip` from a pipe) reads it."""
    found: dict[str, bytes] = {}
    at = 0
    while data[at : at + 4] == b"PK\x03\x04":
        flags, method = struct.unpack_from("<HH", data, at + 6)
        name_length, extra_length = struct.unpack_from("<HH", data, at + 26)
        name = data[at + 30 : at + 30 + name_length].decode()
        at += 30 + name_length + extra_length
        assert method == zipfile.ZIP_DEFLATED, f"{name}: a stored entry has no length to stream"
        inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        body = found[name] = inflate.decompress(data[at:])
        packed = len(data) - len(inflate.unused_data) - at
        at += packed
        if flags & 0x08:  # data descriptor: signature, CRC, sizes of 32 bits (or 64, zip64)
            described = struct.unpack_from("<4xLLL", data, at)
            length = 16
            if described[1:] != (packed, len(body)):
                described, length = struct.unpack_from("<4xLQQ", data, at), 24
            assert described == (zlib.crc32(body), packed, len(body)), name
            at += length
    return found


def test_a_collection_zip_reads_as_a_stream(lake: Lake):
    collection_id = lake.collection_id("col", "image")
    data = b"".join(lake.export_zip(collection_id, AnnotationSelection("all", ())))
    streamed = _read_as_a_stream(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert streamed == {name: archive.read(name) for name in archive.namelist()}
    assert "col/annotations.json" in streamed and len(streamed) > 1
