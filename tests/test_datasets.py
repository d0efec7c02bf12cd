"""Dataset versions: frozen selections of files and annotations with exact, stable splits."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from metalake import Client
from metalake.blobs.store import open_blob_store
from metalake.errors import (
    DatasetNotFoundError,
    DatasetVersionNotFoundError,
    EmptySelectionError,
    InvalidArgumentError,
    OperationNotFoundError,
)
from metalake.lake.datasets.splits import assign_splits, split_counts
from metalake.lake.datasets.versions import export_names
from metalake.lake.doctor import find_orphans
from tests.conftest import LakeUnderTest
from tests.servers import Server, serve
from tests.web_lake import build_web_lake, make_scene

COUNT = 12


@pytest.fixture
def streets(client: Client, tmp_path: Path) -> str:
    """12 scenes in collection `streets`: human `review` (car boxes, road polygons) and machine
    `detector` (car/person boxes, a lane line, eye points) annotations."""
    build_web_lake(client, tmp_path / "data", COUNT)
    return client.get_collection_id_by_name("streets", "image")


def pages(client: Client, version_id: str, split: str) -> list[dict]:
    """Every file of a split, through the transport's pages."""
    found: list[dict] = []
    after = None
    while True:
        page = client._transport.dataset_page(version_id, split, after, 5, False)
        found.extend(page["images"])
        after = page["next"]
        if after is None:
            return found


def test_a_version_freezes_the_selected_files_and_annotations(
    client: Client, streets: str, tmp_path: Path
) -> None:
    v = client.create_dataset(
        "cars-v1",
        collection_id=streets,
        query="annotation.label = person",
        operation_id_list=["detector"],
        split_info={"train": 50, "validation": 25, "test": 25},
    )
    assert v["is_success"] is True
    persons = client.get_item_count_from_collection(streets, query="annotation.label = person")
    assert persons == COUNT // 2 == v["file_count"]
    expected = split_counts(persons, {"train": 50, "validation": 25, "test": 25})
    assert {s: c["file_count"] for s, c in v["splits"].items()} == expected
    # the detector's three shapes on each person file: a box, a lane, eye points
    assert v["labels"] == {"eye": persons, "lane": persons, "person": persons}
    files = [f for split in v["splits"] for f in pages(client, v["version_id"], split)]
    assert sorted(f["unique_name"] for f in files) == sorted(
        i["unique_name"]
        for i in client.get_item_list_from_collection(
            streets, query="annotation.label = person", page_size=100
        )
    )
    before = {f["unique_name"]: f["annotations"] for f in files}
    assert all(a["operation_id"] == "detector" for f in files for a in f["annotations"])

    # the lake moves on: annotations replaced, metadata edited, files trashed
    replaced = tmp_path / "replaced.json"
    replaced.write_text(
        json.dumps(
            {
                "images": [
                    {
                        "image": f"scene_{i:03d}.jpg",
                        "annotations": [
                            {"type": "rectangle", "bbox": [1, 1, 5, 5], "label": "truck"}
                        ],
                    }
                    for i in range(COUNT)
                ]
            }
        )
    )
    job = client.upload_annotations_for_collection(
        "streets", "detector", str(replaced), False, True
    )
    assert client.wait_for_job_complete(job["job_id"])["is_success"]
    client.trash_objects_from_collection(streets, query="annotation.label = truck")
    after = [f for split in v["splits"] for f in pages(client, v["version_id"], split)]
    assert {f["unique_name"]: f["annotations"] for f in after} == before
    assert client.get_dataset("cars-v1")["versions"][0]["labels"] == v["labels"]


def test_splits_are_exact_deterministic_and_stable_across_versions() -> None:
    names = [f"c_{i:05d}.jpg" for i in range(1000)]
    info = {"train": 80, "validation": 10, "test": 10}
    first = assign_splits(names, info, seed=7)
    assert Counter(first) == {"train": 800, "validation": 100, "test": 100}
    assert assign_splits(names, info, seed=7) == first
    assert assign_splits(names, info, seed=8) != first
    # the next version drops 100 files and adds 300: every kept file keeps its split unless
    # the counts force it to move, and the counts are exact again
    kept = names[100:]
    grown = kept + [f"d_{i:05d}.jpg" for i in range(300)]
    previous = dict(zip(names, first, strict=True))
    second = assign_splits(grown, info, seed=7, previous=previous)
    assert (
        Counter(second)
        == split_counts(1200, info)
        == {
            "train": 960,
            "validation": 120,
            "test": 120,
        }
    )
    moved = sum(1 for n, s in zip(grown, second, strict=True) if n in previous and previous[n] != s)
    assert moved == 0


def test_split_counts_use_the_largest_remainder() -> None:
    assert split_counts(10, {"train": 33.4, "validation": 33.3, "test": 33.3}) == {
        "train": 4,
        "validation": 3,
        "test": 3,
    }
    assert split_counts(7, {"train": 50, "test": 50}) == {"train": 4, "test": 3}
    assert split_counts(1, {"train": 100}) == {"train": 1}


def test_export_names_stay_unique_by_stem() -> None:
    assert export_names(["s_a.jpg", "s_a.png", "s_b.jpg"]) == [
        "s_a_jpg.jpg",
        "s_a_png.png",
        "s_b.jpg",
    ]
    names = export_names(["s_a.jpg", "s_a.png", "s_a_png.png"])
    assert len({Path(n).stem for n in names}) == 3


def test_update_makes_the_next_version_and_files_keep_their_split(
    client: Client, streets: str
) -> None:
    info = {"train": 50, "validation": 50}
    v1 = client.create_dataset(
        "grow", collection_id=streets, query="annotation.label = person", split_info=info
    )
    v2 = client.update_dataset("grow", collection_id=streets, split_info=info)
    assert (v1["version"], v2["version"]) == (1, 2)
    assert v2["file_count"] == COUNT
    assert {s: c["file_count"] for s, c in v2["splits"].items()} == {"train": 6, "validation": 6}
    first = {
        f["unique_name"]: f["split"]
        for s in v1["splits"]
        for f in pages(client, v1["version_id"], s)
    }
    second = {
        f["unique_name"]: f["split"]
        for s in v2["splits"]
        for f in pages(client, v2["version_id"], s)
    }
    assert all(second[name] == split for name, split in first.items())
    listed = client.get_dataset("grow")
    assert [v["version"] for v in listed["versions"]] == [1, 2]
    assert client.list_datasets()[0]["latest_version"] == 2


BAD_REQUESTS = [
    ({"split_info": {"train": 80, "test": 10}}, InvalidArgumentError, "add up to 100"),
    ({"split_info": {"train": 110, "test": -10}}, InvalidArgumentError, "from 0 to 100"),
    ({"split_info": {"train": 50, "dev": 50}}, InvalidArgumentError, "unknown splits"),
    ({"query": "metadata.camera = nowhere"}, EmptySelectionError, "no image file"),
    ({"labels": ["unicorn"]}, EmptySelectionError, "unicorn"),
    (
        {"labels": ["car"], "annotation_type": "machine", "query": "annotation.label = person"},
        EmptySelectionError,
        "car",
    ),
    ({"operation_id_list": ["nope"]}, OperationNotFoundError, "nope"),
    ({"seed": -1}, InvalidArgumentError, "seed"),
    ({"content_type": "video", "collection_id": None}, InvalidArgumentError, "hold images"),
]


def test_labels_narrow_the_annotations_and_bad_requests_change_nothing(
    client: Client, streets: str
) -> None:
    for arguments, error, words in BAD_REQUESTS:
        call = {"collection_id": streets, **arguments}
        with pytest.raises(error, match=words):
            client.create_dataset("bad", **call)
        with pytest.raises(DatasetNotFoundError):
            client.get_dataset("bad")
    assert client.list_datasets() == []
    v = client.create_dataset(
        "cars", collection_id=streets, labels=["car"], annotation_type="human"
    )
    assert v["labels"] == {"car": COUNT}
    assert v["categories"] == [{"id": v["categories"][0]["id"], "name": "car"}]


def test_unknown_datasets_and_versions_and_deleting_the_last_version(
    client: Client, streets: str
) -> None:
    with pytest.raises(DatasetNotFoundError, match="create_dataset"):
        client.update_dataset("missing", collection_id=streets)
    with pytest.raises(DatasetVersionNotFoundError):
        client.delete_dataset_version("000000000000000000000000")
    client.create_dataset("twice", collection_id=streets)
    with pytest.raises(InvalidArgumentError, match="update_dataset"):
        client.create_dataset("twice", collection_id=streets)
    v1 = client.create_dataset("short", collection_id=streets)
    v2 = client.update_dataset("short", collection_id=streets, query="annotation.label = person")
    assert client.delete_dataset_version(v1["version_id"])["is_success"]
    assert [v["version"] for v in client.get_dataset("short")["versions"]] == [2]
    client.delete_dataset_version(v2["version_id"])
    with pytest.raises(DatasetNotFoundError):
        client.get_dataset("short")


@pytest.mark.filterwarnings("ignore:file_upload is deprecated")
def test_a_version_keeps_bytes_the_trash_and_replacing_uploads_would_lose(
    lake: LakeUnderTest, client: Client, streets: str, tmp_path: Path
) -> None:
    v = client.create_dataset("kept", collection_id=streets)
    urls = {
        f["unique_name"]: f
        for f in client._transport.dataset_page(v["version_id"], "train", None, 100, True)["images"]
    }
    first = "streets_scene_000.jpg"
    original = urls[first]["sha256"]
    # replace scene 0's bytes, and trash then empty scene 1
    again = tmp_path / "again"
    again.mkdir()
    make_scene(again / "scene_000.jpg", 99)
    job = client.file_upload(str(again / "scene_000.jpg"), 5, "streets", override=True)
    assert client.wait_for_job_complete(job["job_id"])["is_success"]
    assert client.get_file_details(first)["sha256"] != original
    client.trash_objects_from_collection(streets, query="name = scene_001.jpg")
    assert client.empty_trash(0)["deleted_count"] == 1
    page = client._transport.dataset_page(v["version_id"], "train", None, 100, True)["images"]
    for entry in page:
        url = entry["url"]
        data = (
            Path(url[len("file://") :]).read_bytes()
            if url.startswith("file://")
            else httpx.get(url).content
        )
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert {e["unique_name"]: e["sha256"] for e in page}[first] == original
    with lake.database() as db:
        orphans = find_orphans(db, open_blob_store(None, lake.home), timedelta(0))
    assert orphans.blobs == []
    # deleting the version releases the held copies
    client.delete_dataset_version(v["version_id"])
    held = [p for p in lake.home.rglob("*") if ".held" in p.parts and p.is_file()]
    assert held == []


FORMATS = ("COCO", "YOLO", "PASCAL VOC", "MetaLake JSON")


def test_download_dataset_writes_every_format_with_its_files(
    client: Client, streets: str, tmp_path: Path
) -> None:
    from pycocotools.coco import COCO

    info = {"train": 50, "validation": 25, "test": 25}
    v = client.create_dataset("every", collection_id=streets, split_info=info)
    out = tmp_path / "out"
    folders = {}
    for export_type in FORMATS:
        result = client.download_dataset(v["version_id"], export_type, str(out))
        assert result["is_success"], result
        assert result["file_count"] == COUNT
        assert result["downloaded_count"] == COUNT
        folders[export_type] = Path(result["path"])
    coco = folders["COCO"]
    for split, counts in v["splits"].items():
        read = COCO(str(coco / "annotations" / f"instances_{split}.json"))
        assert len(read.getImgIds()) == counts["file_count"]
        kept = counts["annotation_count"] - counts["labels"].get("lane", 0)
        assert len(read.getAnnIds()) == kept
        for image in read.loadImgs(read.getImgIds()):
            assert (coco / "images" / split / image["file_name"]).is_file()
    result = client.download_dataset(v["version_id"], "YOLO Darknet", str(out))
    assert result["kept_count"] == COUNT and result["dropped"] == {"line": 12, "points": 12}
    assert (folders["YOLO"] / "data.yaml").is_file()
    assert (folders["PASCAL VOC"] / "ImageSets" / "Main").is_dir()


def test_a_coco_export_imports_back_to_the_same_annotations(
    client: Client, streets: str, tmp_path: Path
) -> None:
    v = client.create_dataset("trip", collection_id=streets, operation_id_list=["review"])
    exported = Path(client.download_dataset(v["version_id"], "COCO", str(tmp_path / "a"))["path"])
    started = client.import_dataset(str(exported), "COCO", "street copy", "coco-gt")
    assert started["file_count"] == COUNT
    assert client.wait_for_job_complete(started["job_id"])["is_success"]
    copy = client.get_collection_id_by_name("street copy", "image")
    again = client.create_dataset("trip-back", collection_id=copy, operation_id_list=["coco-gt"])
    assert again["labels"] == v["labels"]

    def shapes(version: dict, prefix: str) -> dict[str, list]:
        found = {}
        for split in version["splits"]:
            for f in pages(client, version["version_id"], split):
                found[f["unique_name"].removeprefix(prefix)] = [
                    {k: a[k] for k in a if k not in ("operation_id", "is_model_run")}
                    for a in f["annotations"]
                ]
        return found

    assert shapes(again, "street copy_") == shapes(v, "")
    assert client.get_item_count_from_collection(copy, query="metadata.split = train") == COUNT


def test_import_refuses_a_folder_that_is_not_its_format(client: Client, tmp_path: Path) -> None:
    folder = tmp_path / "not-coco"
    folder.mkdir()
    make_scene(folder / "a.jpg", 0)
    (folder / "instances_train.json").write_text('{"images": [], "annotations": [{"id": 1}]}')
    from metalake.errors import InvalidDatasetFolderError

    with pytest.raises(InvalidDatasetFolderError, match=r"instances_train\.json"):
        client.import_dataset(str(folder), "COCO", "never", "op")
    with pytest.raises(InvalidArgumentError, match=r"format must be one of"):
        client.import_dataset(str(folder), "TFRecord", "never", "op")
    assert client.list_collections() == []


def test_the_servers_zip_holds_what_the_sdk_download_writes(
    fresh_server: Server, tmp_path: Path
) -> None:
    with Client(fresh_server.url, fresh_server.key, fresh_server.secret, show_progress=False) as c:
        build_web_lake(c, tmp_path / "data", 4)
        v = c.create_dataset("zipped", split_info={"train": 50, "test": 50})
        auth = (fresh_server.key, fresh_server.secret)
        route = f"{fresh_server.url}/api/v1/dataset-versions/{v['version_id']}/export.zip"
        for export_type in FORMATS:
            folder = Path(c.download_dataset(v["version_id"], export_type, str(tmp_path))["path"])
            got = httpx.get(
                route, params={"export_type": export_type, "with_media": True}, auth=auth
            )
            assert got.status_code == 200, got.text
            assert folder.name in got.headers["content-disposition"]
            with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
                zipped = {name: archive.read(name) for name in archive.namelist()}
            written = {
                p.relative_to(folder).as_posix(): p.read_bytes()
                for p in folder.rglob("*")
                if p.is_file()
            }
            assert zipped == written
        refused = httpx.get(route, params={"export_type": "TFRecord"}, auth=auth)
        assert refused.status_code == 400 and "export_type" in refused.json()["message"]


def test_on_s3_a_version_downloads_files_the_trash_emptied(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    storage = request.getfixturevalue("s3_storage")
    env = request.getfixturevalue("s3").env
    with (
        serve(tmp_path / "lake", storage=storage, env=env) as server,
        Client(server.url, server.key, server.secret, show_progress=False) as client,
    ):
        build_web_lake(client, tmp_path / "data", 3)
        v = client.create_dataset("on-s3")
        cid = client.get_collection_id_by_name("streets", "image")
        client.trash_objects_from_collection(cid)
        assert client.empty_trash(0)["deleted_count"] == 3
        done = client.download_dataset(v["version_id"], "COCO", str(tmp_path / "out"))
        assert done["is_success"] and done["downloaded_count"] == 3, done
        page = client._transport.dataset_page(v["version_id"], "train", None, 10, True)
        for entry in page["images"]:
            assert "X-Amz-Signature=" in entry["url"]
            image = Path(done["path"]) / "images" / "train" / entry["file"]
            assert hashlib.sha256(image.read_bytes()).hexdigest() == entry["sha256"]
        client.delete_dataset_version(v["version_id"])
        assert client.get_item_count_from_metalake("image") == 0
