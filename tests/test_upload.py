"""upload_files_to_collection and file_upload: what lands in the lake, and what is skipped."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from metalake import (
    Client,
    ContentTypeMismatchError,
    InvalidArgumentError,
    InvalidPathError,
)
from tests.conftest import blob_files, upload_and_wait
from tests.media_factory import make_exif_rotated_jpeg, make_image, make_video

META = {"Captured Location": "Winnipeg", "Camera Id": "CAM_0001", "Tags": ["#retail"]}


def test_folder_upload_stores_files_with_metadata_and_tags(
    client: Client, images: Path, lake_home: Path
):
    result = upload_and_wait(client, str(images), "image", "my_collection", META)

    assert result["is_success"] is True
    assert set(result) == {"is_success", "job_id", "collection_id"}
    assert client.get_item_count_from_collection(result["collection_id"]) == 5
    details = client.get_file_details("my_collection_img_003.jpg")
    assert details["file_name"] == "img_003.jpg"
    assert details["collection_id"] == result["collection_id"]
    assert details["content_type"] == "image"
    assert (details["width"], details["height"]) == (64, 48)
    assert details["size"] == (images / "img_003.jpg").stat().st_size
    assert details["metadata"] == {"Captured Location": "Winnipeg", "Camera Id": "CAM_0001"}
    assert details["tags"] == ["#retail"]
    assert details["created"] and details["modified"]
    stored = blob_files(lake_home)
    assert [p.name for p in stored] == sorted(p.name for p in images.iterdir())
    assert stored[3].read_bytes() == (images / "img_003.jpg").read_bytes()


def test_single_file_returns_unique_name(client: Client, images: Path):
    result = upload_and_wait(client, str(images / "img_001.jpg"), "image", "Cars & Trucks")

    assert result["unique_name"] == "Cars _ Trucks_img_001.jpg"
    assert client.get_file_details(result["unique_name"])["file_name"] == "img_001.jpg"


def test_only_files_of_the_content_type_are_uploaded(client: Client, tmp_path: Path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    make_image(folder / "a.jpg")
    make_image(folder / "b.PNG", format="PNG")
    make_image(folder / "c.jpeg")
    make_image(folder / ".hidden.jpg")
    (folder / "notes.txt").write_text("hello")
    make_video(folder / "clip.mp4")
    (folder / "sub.jpg").mkdir()

    images = upload_and_wait(client, str(folder), "image", "mixed")
    videos = upload_and_wait(client, str(folder), "video", "mixed")
    others = upload_and_wait(client, str(folder), "other", "mixed")

    def names(collection_id: str) -> set[str]:
        return {i["file_name"] for i in client.get_item_list_from_collection(collection_id)}

    assert names(images["collection_id"]) == {"a.jpg", "b.PNG", "c.jpeg"}
    assert names(videos["collection_id"]) == {"clip.mp4"}
    assert names(others["collection_id"]) == {"a.jpg", "b.PNG", "c.jpeg", "notes.txt", "clip.mp4"}
    assert client.get_file_details("mixed_2_notes.txt")["mime"] == "text/plain"
    assert images["skipped_by_extension"] == ["clip.mp4", "notes.txt"]
    assert videos["skipped_by_extension"] == ["a.jpg", "b.PNG", "c.jpeg", "notes.txt"]
    assert "skipped_by_extension" not in others


def test_videos_are_probed(client: Client, tmp_path: Path):
    folder = tmp_path / "videos"
    folder.mkdir()
    make_video(folder / "a.mp4", frames=12, size=(64, 48), fps=24)
    make_video(folder / "b.mkv", frames=30, size=(32, 16), fps=10)

    upload_and_wait(client, str(folder), "video", "clips")

    mp4 = client.get_file_details("clips_a.mp4")
    assert (mp4["width"], mp4["height"], mp4["frame_count"]) == (64, 48, 12)
    assert mp4["fps"] == pytest.approx(24)
    assert mp4["duration"] == pytest.approx(0.5, abs=0.05)
    assert mp4["mime"] == "video/mp4"
    mkv = client.get_file_details("clips_b.mkv")
    assert (mkv["width"], mkv["height"], mkv["frame_count"]) == (32, 16, 30)
    assert mkv["fps"] == pytest.approx(10)
    assert mkv["duration"] == pytest.approx(3.0, abs=0.15)
    assert mkv["mime"] == "video/x-matroska"


def test_exif_orientation_is_applied_to_reported_size(client: Client, tmp_path: Path):
    path = make_exif_rotated_jpeg(tmp_path / "rotated.jpg", size=(80, 40))
    upload_and_wait(client, str(path), "image", "exif")
    details = client.get_file_details("exif_rotated.jpg")
    assert (details["width"], details["height"]) == (40, 80)


def test_existing_names_are_skipped_and_their_bytes_left_alone(
    client: Client, images: Path, lake_home: Path
):
    first = upload_and_wait(client, str(images), "image", "col", {"Camera Id": "CAM_1"})
    stored = lake_home / "blobs" / "col" / "img_000.jpg"
    before = stored.stat()
    make_image(images / "img_000.jpg", color=99)
    make_image(images / "img_new.jpg", color=42)

    second = upload_and_wait(
        client, str(images), "image", "col", {"Camera Id": "CAM_2", "Tags": ["x"]}
    )

    job = client.get_job(second["job_id"])
    assert (job["done"], job["skipped"], job["failed"]) == (1, 5, 0)
    assert second["collection_id"] == first["collection_id"]
    assert stored.stat().st_mtime_ns == before.st_mtime_ns
    assert stored.read_bytes() != (images / "img_000.jpg").read_bytes()
    old = client.get_file_details("col_img_000.jpg")
    assert old["metadata"] == {"Camera Id": "CAM_1"} and old["tags"] == []
    assert client.get_file_details("col_img_new.jpg")["metadata"] == {"Camera Id": "CAM_2"}
    assert client.get_item_count_from_collection(first["collection_id"]) == 6


def test_meta_data_override_sets_fields_and_adds_tags_on_skipped_files(
    client: Client, images: Path
):
    upload_and_wait(
        client, str(images), "image", "col", {"Camera Id": "CAM_1", "Site": "A", "Tags": ["a"]}
    )

    upload_and_wait(
        client, str(images), "image", "col", {"Camera Id": "CAM_2", "Tags": ["b"]}, True
    )

    details = client.get_file_details("col_img_002.jpg")
    assert details["metadata"] == {"Camera Id": "CAM_2", "Site": "A"}
    assert details["tags"] == ["a", "b"]


def test_per_file_metadata_json(client: Client, images: Path, tmp_path: Path):
    doc = {
        "files": [
            {
                "file": "img_000.jpg",
                "metadata": {"field1": "data1", "size_cm": 30, "Tags": ["t1", "t2"]},
            },
            {"file": "img_001.jpg", "metadata": {"Camera Id": "OWN", "ok": True}},
        ]
    }
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(doc))

    upload_and_wait(
        client, str(images), "image", "col", {"Camera Id": "CAM", "Tags": ["all"]}, False, str(path)
    )

    zero = client.get_file_details("col_img_000.jpg")
    assert zero["metadata"] == {"Camera Id": "CAM", "field1": "data1", "size_cm": 30}
    assert zero["tags"] == ["all", "t1", "t2"]
    assert client.get_file_details("col_img_001.jpg")["metadata"] == {
        "Camera Id": "OWN",
        "ok": True,
    }
    assert client.get_file_details("col_img_004.jpg")["metadata"] == {"Camera Id": "CAM"}


def test_per_file_metadata_naming_a_file_twice_adds_up(
    client: Client, images: Path, tmp_path: Path
):
    doc = {
        "files": [
            {"file": "img_000.jpg", "metadata": {"a": 1, "b": "first", "Tags": ["t1"]}},
            {"file": "img_000.jpg", "metadata": {"b": "second", "Tags": ["t2"]}},
        ]
    }
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(doc))

    upload_and_wait(client, str(images), "image", "col", {"b": "all"}, False, str(path))

    zero = client.get_file_details("col_img_000.jpg")
    assert (zero["metadata"], zero["tags"]) == ({"a": 1, "b": "second"}, ["t1", "t2"])
    by_unique_name = {"files": [{**e, "file": "col_img_000.jpg"} for e in doc["files"]]}
    path.write_text(json.dumps(by_unique_name))
    assert client.upload_metadata_by_unique_name(str(path)) == {
        "isSuccess": True,
        "message": "metadata updated on 1 files",
    }


def test_metadata_file_path_keyword_of_the_layernext_client(
    client: Client, images: Path, tmp_path: Path
):
    path = tmp_path / "meta.json"
    path.write_text(json.dumps({"files": [{"file": "img_000.jpg", "metadata": {"k": "v"}}]}))

    upload_and_wait(client, str(images), "image", "col", metadata_file_path=str(path))

    assert client.get_file_details("col_img_000.jpg")["metadata"] == {"k": "v"}


def test_storage_prefix_places_files_under_it(client: Client, images: Path, lake_home: Path):
    upload_and_wait(client, str(images), "image", "col", storage_prefix_path="dir_1/sub_dir_1")

    details = client.get_file_details("col_img_000.jpg")
    assert details["storage_key"] == "dir_1/sub_dir_1/col/img_000.jpg"
    assert (lake_home / "blobs" / "dir_1" / "sub_dir_1" / "col" / "img_000.jpg").is_file()


def test_collections_with_the_same_storage_name_get_distinct_ones(client: Client, images: Path):
    a = upload_and_wait(client, str(images / "img_000.jpg"), "image", "a/b")
    b = upload_and_wait(client, str(images / "img_000.jpg"), "image", "a?b")
    assert (a["unique_name"], b["unique_name"]) == ("a_b_img_000.jpg", "a_b_1_img_000.jpg")


def test_same_name_in_another_content_type_is_another_collection(client: Client, images: Path):
    a = upload_and_wait(client, str(images), "image", "col")
    b = upload_and_wait(client, str(images), "other", "col")
    assert a["collection_id"] != b["collection_id"]
    assert client.get_collection_id_by_name("col", "other") == b["collection_id"]


def test_file_upload_is_deprecated_and_override_replaces_bytes(client: Client, images: Path):
    with pytest.warns(DeprecationWarning, match="upload_files_to_collection"):
        first = client.file_upload(str(images), 5, "legacy", {"Camera Id": "CAM_1"})
    client.wait_for_job_complete(first["job_id"])
    make_image(images / "img_000.jpg", size=(20, 10), color=7)

    with pytest.warns(DeprecationWarning):
        skipped = client.file_upload(str(images), 5, "legacy", {"Camera Id": "CAM_2"})
    client.wait_for_job_complete(skipped["job_id"])
    assert client.get_file_details("legacy_img_000.jpg")["width"] == 64

    with pytest.warns(DeprecationWarning):
        replaced = client.file_upload(str(images), 5, "legacy", {"Camera Id": "CAM_3"}, True)
    client.wait_for_job_complete(replaced["job_id"])
    details = client.get_file_details("legacy_img_000.jpg")
    assert (details["width"], details["height"]) == (20, 10)
    assert details["metadata"] == {"Camera Id": "CAM_3"}
    assert details["size"] == (images / "img_000.jpg").stat().st_size
    assert client.get_item_count_from_metalake("image") == 5


def test_file_upload_video_code(client: Client, tmp_path: Path):
    make_video(tmp_path / "v.mp4")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        result = client.file_upload(str(tmp_path / "v.mp4"), 4, "legacy videos", "")
    client.wait_for_job_complete(result["job_id"])
    assert client.get_file_details("legacy videos_v.mp4")["content_type"] == "video"


def test_bad_annotation_data_is_refused_clearly_and_changes_nothing(
    client: Client, images: Path, tmp_path: Path
):
    with pytest.raises(InvalidPathError, match=r"annotation file /x\.json does not exist"):
        client.upload_files_to_collection(
            str(images), "image", "col", annotation_data={"json_data_file_path": "/x.json"}
        )
    labels = tmp_path / "labels.json"
    labels.write_text('{"images": []}')
    data = {"json_data_file_path": str(labels), "operation_unique_id": "op"}
    make_video(tmp_path / "v.mp4")
    with pytest.raises(InvalidArgumentError, match="annotation_data applies to image uploads"):
        client.upload_files_to_collection(
            str(tmp_path / "v.mp4"), "video", "clips", annotation_data=data
        )
    assert client.get_item_count_from_metalake("image") == 0
    assert client.get_item_count_from_metalake("video") == 0


def test_corrupt_image_fails_the_job_but_not_the_others(
    client: Client, images: Path, lake_home: Path
):
    (images / "broken.jpg").write_bytes(b"this is not a jpeg")

    result = client.upload_files_to_collection(str(images), "image", "col")
    assert client.wait_for_job_complete(result["job_id"]) == {
        "is_success": False,
        "job_status": "FAILED",
    }

    job = client.get_job(result["job_id"])
    assert job["status"] == "failed"
    assert (job["done"], job["failed"]) == (5, 1)
    assert job["errors"][0]["file"] == "broken.jpg"
    assert "not a readable image" in job["errors"][0]["reason"]
    assert client.get_item_count_from_collection(result["collection_id"]) == 5
    assert "broken.jpg" not in {p.name for p in blob_files(lake_home)}
    assert not list((lake_home / "blobs" / ".tmp").iterdir())


def test_video_content_type_refuses_a_folder_of_images(client: Client, images: Path):
    with pytest.raises(ContentTypeMismatchError, match="has no video files"):
        client.upload_files_to_collection(str(images), "video", "col")


FITS = "whose extension does not fit"


@pytest.mark.parametrize(
    ("content_type", "names", "message"),
    [
        ("image", ["a.txt"], f"skipped 1 file {FITS} image (jpeg, jpg, png): a.txt"),
        ("video", ["b.jpg", "a.png"], f"skipped 2 files {FITS} video (mkv, mp4): a.png, b.jpg"),
        (
            "image",
            [f"{n}.txt" for n in "gfedcba"],
            f"skipped 7 files {FITS} image (jpeg, jpg, png): "
            "a.txt, b.txt, c.txt, d.txt, e.txt, ...",
        ),
    ],
)
def test_the_skipped_files_message_names_the_first_five(
    content_type: str, names: list[str], message: str
):
    from metalake.lake.content_types import SKIPPED_NAMES_SHOWN, describe_skipped

    assert SKIPPED_NAMES_SHOWN == 5
    assert describe_skipped(content_type, names) == message
