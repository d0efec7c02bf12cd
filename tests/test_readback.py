"""Read-back functions: collections, file details, listings, counts, URLs and thumbnails."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
import pytest
from PIL import Image

from metalake import Client, CollectionNotFoundError, InvalidArgumentError, ItemNotFoundError
from tests.conftest import LakeUnderTest, upload_and_wait
from tests.media_factory import make_folder, make_video


def test_collection_lookup_and_details(client: Client, images: Path):
    result = upload_and_wait(client, str(images), "image", "col")

    assert client.get_collection_id_by_name("col") == result["collection_id"]
    details = client.get_collection_details(result["collection_id"])
    assert (details["name"], details["content_type"], details["item_count"]) == ("col", "image", 5)
    with pytest.raises(CollectionNotFoundError):
        client.get_collection_id_by_name("col", "video")
    with pytest.raises(CollectionNotFoundError):
        client.get_collection_details("000000000000000000000000")


def test_pages_cover_every_item_once(client: Client, tmp_path: Path):
    folder = make_folder(tmp_path / "many", 23)
    result = upload_and_wait(client, str(folder), "image", "col")

    seen = []
    for index in range(3):
        page = client.get_item_list_from_collection(
            result["collection_id"], page_index=index, page_size=10
        )
        seen += [item["unique_name"] for item in page]
    assert len(seen) == 23 and len(set(seen)) == 23
    assert (
        client.get_item_list_from_collection(result["collection_id"], page_index=3, page_size=10)
        == []
    )
    assert client.get_item_count_from_collection(result["collection_id"]) == 23


def test_lake_wide_listing_is_per_type(client: Client, images: Path, tmp_path: Path):
    upload_and_wait(client, str(images), "image", "a")
    upload_and_wait(client, str(images), "image", "b")
    make_video(tmp_path / "v.mp4")
    upload_and_wait(client, str(tmp_path / "v.mp4"), "video", "a")

    assert client.get_item_count_from_metalake("image") == 10
    assert client.get_item_count_from_metalake("video") == 1
    assert client.get_item_count_from_metalake("other") == 0
    assert len(client.get_item_list_from_datalake("image", page_index=0, page_size=1000)) == 10
    assert [i["file_name"] for i in client.get_item_list_from_datalake("video")] == ["v.mp4"]


@pytest.mark.parametrize("page_index, page_size", [(-1, 10), (0, 0), (0, 1001), ("0", 10)])
def test_bad_pages_are_refused(client: Client, page_index, page_size):
    with pytest.raises(InvalidArgumentError, match="page_"):
        client.get_item_list_from_datalake("image", page_index=page_index, page_size=page_size)


def fetch(url: str) -> bytes:
    """The bytes behind a download URL: a file:// URL (embedded) or a signed HTTP URL."""
    if urlparse(url).scheme == "file":
        return Path(unquote(urlparse(url).path)).read_bytes()
    response = httpx.get(url)
    assert response.status_code == 200, response.text
    return response.content


def test_downloadable_url_by_unique_name_or_storage_key(
    client: Client, lake: LakeUnderTest, images: Path
):
    upload_and_wait(client, str(images), "image", "my col")

    url = client.get_downloadable_url("my col_img_001.jpg")
    assert urlparse(url).scheme == ("http" if lake.server else "file")
    assert fetch(url) == (images / "img_001.jpg").read_bytes()
    assert fetch(client.get_downloadable_url("my col/img_001.jpg")) == fetch(url)
    with pytest.raises(ItemNotFoundError):
        client.get_downloadable_url("nope.jpg")


def test_thumbnails_are_made_on_first_request_and_cached(
    client: Client, tmp_path: Path, lake_home: Path
):
    Image.new("RGB", (1000, 500), (200, 10, 10)).save(tmp_path / "big.jpg")
    upload_and_wait(client, str(tmp_path / "big.jpg"), "image", "col")
    cache = lake_home / "blobs" / ".thumbnails"
    assert not cache.exists()

    thumb = client.get_thumbnail("col_big.jpg")

    with Image.open(io.BytesIO(thumb)) as img:
        assert img.format == "JPEG" and img.size == (256, 128)
    assert len(list(cache.rglob("*.jpg"))) == 1
    assert client.get_thumbnail("col_big.jpg") == thumb
