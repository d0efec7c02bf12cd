"""The real `layernext` 2.3.4 client's dataset functions, unmodified, against a live server.

Each version the client makes is read back through our own `Client`, and each download is
compared file by file with what `Client.download_dataset` writes for the same version. One
server serves the module (SQLite with a local folder, PostgreSQL, S3 storage: the servers of
tests/test_layernext.py); each test uses collections and datasets of its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import layernext
import pytest
import yaml
from pycocotools.coco import COCO

from metalake import Client
from tests.media_factory import make_image
from tests.servers import Server
from tests.test_layernext import ln, ours, server, work, write_json

__all__ = ["ln", "ours", "server", "work"]  # the module's fixtures, shared with test_layernext

SPLIT = {"train": 60, "test": 20, "validation": 20}
CAR = {"type": "rectangle", "bbox": [10, 5, 20, 15], "label": "car"}
LANE = {"type": "line", "line": [[0, 0], [10, 10], [20, 5]], "label": "lane"}
FORMAT_FOLDERS = {"YOLO Darknet": "yolo", "COCO": "coco", "PASCAL VOC": "voc"}


def png_folder(folder: Path, count: int, first: int = 0) -> Path:
    """`count` tiny PNGs, different bytes each."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(first, first + count):
        make_image(folder / f"img_{i:03d}.png", color=i)
    return folder


def upload(ours: Client, folder: Path, collection: str) -> str:
    result = ours.upload_files_to_collection(str(folder), "image", collection)
    assert ours.wait_for_job_complete(result["job_id"])["is_success"] is True
    return str(result["collection_id"])


def annotate(ours: Client, work: Path, collection: str, operation: str, names: list[str]) -> None:
    """A box and a line on each of the files `names` (file names, as uploaded)."""
    document = {"images": [{"image": name, "annotations": [CAR, LANE]} for name in names]}
    path = write_json(work / f"{operation}.json", document)
    job = ours.upload_annotations_for_collection(collection, operation, path, False, False)
    assert ours.wait_for_job_complete(job["job_id"])["is_success"] is True


def version(ours: Client, dataset: str, version_id: str) -> dict[str, Any]:
    found = [v for v in ours.get_dataset(dataset)["versions"] if v["version_id"] == version_id]
    assert len(found) == 1
    return found[0]


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def compare_with_ours(
    ln: layernext.LayerNextClient,
    ours: Client,
    work: Path,
    version_id: str,
    export_type: str,
    media: bool,
) -> dict[str, bytes]:
    """Download with both clients: the same relative paths and bytes; the client's tree."""
    theirs_at = work / f"ln-{export_type}-{media}"
    assert ln.download_dataset(version_id, export_type, str(theirs_at), media) is None
    ours_at = work / f"ours-{export_type}-{media}"
    answer = ours.download_dataset(version_id, export_type, str(ours_at), media)
    assert answer["is_success"] is True
    [theirs_root] = list(theirs_at.iterdir())
    assert theirs_root.name == Path(answer["path"]).name
    theirs, expected = tree(theirs_root), tree(Path(answer["path"]))
    assert sorted(theirs) == sorted(expected)
    for path, data in expected.items():
        assert theirs[path] == data, path
    return theirs


# Create, update, delete ---------------------------------------------------------------------


def test_create_from_collection_and_datalake_then_update_both_ways(
    ln: layernext.LayerNextClient, ours: Client, work: Path
) -> None:
    collection_id = upload(ours, png_folder(work / "a", 6), "lnds a")
    names = [f"img_{i:03d}.png" for i in range(6)]
    annotate(ours, work, "lnds a", "lnds-op1", names[:3])
    annotate(ours, work, "lnds a", "lnds-op2", names[3:4])

    created = ln.create_dataset_from_collection(
        "lnds one", collection_id, SPLIT, ["car"], ["YOLO Darknet", "coco"]
    )
    assert created["isSuccess"] is True
    assert (created["datasetId"], created["versionNo"], created["itemCount"]) == ("lnds one", 1, 6)
    first = version(ours, "lnds one", created["versionId"])
    assert first["file_count"] == 6
    assert first["labels"] == {"car": 4}  # only the label asked for, of every operation
    assert {s: v["file_count"] for s, v in first["splits"].items()} == {
        "train": 4,
        "validation": 1,
        "test": 1,
    }

    from_lake = ln.create_dataset_from_datalake(
        "lnds lake",
        {"train": 100, "test": 0, "validation": 0},
        query='collection = "lnds a" AND (name ~ "img_000*" OR name ~ "img_003*" OR '
        'name ~ "img_005*")',
        filter={"annotation_types": ["human"]},
        operation_list=["lnds-op2"],
    )
    assert from_lake["isSuccess"] is True
    lake_version = version(ours, "lnds lake", from_lake["versionId"])
    assert lake_version["file_count"] == 2  # the annotated ones: img_000 and img_003
    assert lake_version["labels"] == {"car": 1, "lane": 1}  # only lnds-op2's

    upload(ours, png_folder(work / "a", 2, first=6), "lnds a")
    existing = ln.update_dataset_version_from_collection(
        created["versionId"], collection_id, SPLIT, operation_list=[]
    )
    assert existing["isSuccess"] is True
    assert existing["versionId"] != created["versionId"]  # frozen: a new version, number 2
    assert (existing["versionNo"], existing["itemCount"]) == (2, 8)
    second = version(ours, "lnds one", existing["versionId"])
    assert (second["file_count"], second["annotation_count"]) == (8, 0)  # [] = no annotations
    assert version(ours, "lnds one", created["versionId"])["file_count"] == 6

    new = ln.update_dataset_version_from_datalake(
        created["versionId"],
        SPLIT,
        query='collection = "lnds a" AND (name ~ "img_006*" OR name ~ "img_007*")',
        is_new_version_required=True,
    )
    assert new["isSuccess"] is True
    assert (new["datasetId"], new["versionNo"], new["itemCount"]) == ("lnds one", 3, 2)

    assert ln.delete_dataset_version(new["versionId"]) == {"isSuccess": True}
    assert [v["version"] for v in ours.get_dataset("lnds one")["versions"]] == [1, 2]
    again = ln.delete_dataset_version(new["versionId"])
    assert again["isSuccess"] is False
    assert new["versionId"] in again["message"]
    gone = ln.update_dataset_version_from_collection(new["versionId"], collection_id, SPLIT)
    assert gone["isSuccess"] is False
    assert "no dataset version" in gone["message"]


def test_a_version_holds_the_snapshot_not_the_selection_run_again(
    server: Server, ours: Client, work: Path
) -> None:
    """What getSelectionId counted is what the version holds: files uploaded after it are not
    in it, and a file of it trashed since is left out (versions hold live files)."""
    collection_id = upload(ours, png_folder(work / "s", 3), "lnds snap")
    auth = (server.key, server.secret)
    selection = httpx.post(
        f"{server.url}/datalake/api/client/query/getSelectionId",
        json={"isAllSelected": True, "contentType": 2, "collectionId": collection_id},
        auth=auth,
    ).json()
    assert selection["itemCount"] == 3
    upload(ours, png_folder(work / "s", 2, first=3), "lnds snap")
    ours.trash_objects_from_collection(collection_id, 'name = "img_000.png"')
    body: dict[str, Any] = {
        "name": "lnds snap",
        "splitInfo": {"train": 100, "test": 0, "validation": 0},
        "labels": [],
        "exportTypes": [],
        "operations": None,
        "augmentations": None,
    }
    answer = httpx.request(
        "GET",
        f"{server.url}/dataset/api/client/dataset/create",
        params={"datasetSelectionId": selection["selectionTag"]},
        json=body,
        auth=auth,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["itemCount"] == 2
    held = ours.get_dataset("lnds snap")["versions"][0]
    assert held["selection"]["snapshot_id"] == selection["selectionTag"]
    unknown = httpx.request(
        "GET",
        f"{server.url}/dataset/api/client/dataset/create",
        params={"datasetSelectionId": "no-such-selection"},
        json=body,
        auth=auth,
    )
    assert unknown.status_code == 406
    assert "no selection" in unknown.json()["error"]["message"]


def test_bad_requests_reach_the_user_with_our_message(
    ln: layernext.LayerNextClient, ours: Client, work: Path
) -> None:
    collection_id = upload(ours, png_folder(work / "b", 2), "lnds bad")
    unknown_type = ln.create_dataset_from_collection(
        "lnds bad", collection_id, SPLIT, export_types=["Semantic Segmentation"]
    )
    assert unknown_type["isSuccess"] is False
    assert "'Semantic Segmentation'" in unknown_type["message"]
    augmented = ln.create_dataset_from_collection(
        "lnds bad",
        collection_id,
        SPLIT,
        augmentation_list={"IMAGE_LEVEL": [{"id": "FLIP_IMAGE", "properties": []}]},
    )
    assert augmented["isSuccess"] is False
    assert "augmentations are not supported" in augmented["message"]
    bad_split = ln.create_dataset_from_collection(
        "lnds bad", collection_id, {"train": 50, "test": 20, "validation": 20}
    )
    assert bad_split["isSuccess"] is False
    assert "sum up to 100" in bad_split["message"]  # the client's own check
    empty = ln.create_dataset_from_collection(
        "lnds bad", collection_id, SPLIT, query='name = "nothing.png"'
    )
    assert empty["isSuccess"] is False
    assert "holds no image file" in empty["message"]
    unknown_label = ln.create_dataset_from_collection(
        "lnds bad", collection_id, SPLIT, labels=["unicorn"]
    )
    assert unknown_label["isSuccess"] is False
    assert "unicorn" in unknown_label["message"]
    with pytest.raises(Exception, match="lnds bad"):
        ours.get_dataset("lnds bad")  # nothing was made


# Downloads ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_version(ln: layernext.LayerNextClient, ours: Client, tmp_path_factory: Any) -> str:
    """A version of 5 images over three splits, with boxes and lines (which COCO, YOLO and VOC
    leave out)."""
    work = tmp_path_factory.mktemp("lnds-small")
    collection_id = upload(ours, png_folder(work / "d", 5), "lnds dl")
    annotate(ours, work, "lnds dl", "lnds-dl", [f"img_{i:03d}.png" for i in range(4)])
    created = ln.create_dataset_from_collection("lnds dl", collection_id, SPLIT)
    assert created["isSuccess"] is True
    return str(created["versionId"])


@pytest.mark.parametrize("media", [True, False], ids=["media", "no-media"])
def test_download_every_format_as_our_client_writes_it(
    ln: layernext.LayerNextClient, ours: Client, work: Path, small_version: str, media: bool
) -> None:
    yolo = compare_with_ours(ln, ours, work, small_version, "YOLO Darknet", media)
    config = yaml.safe_load(yolo["data.yaml"])
    assert config["names"] == {0: "car", 1: "lane"}
    labels = [p for p in yolo if p.startswith("labels/")]
    assert len(labels) == 5
    assert sum(1 for p in yolo if p.startswith("images/")) == (5 if media else 0)

    coco = compare_with_ours(ln, ours, work, small_version, "COCO", media)
    root = work / f"ln-COCO-{media}" / "lnds dl_v1_coco"
    instances = sorted(p for p in coco if p.startswith("annotations/"))
    assert instances == [f"annotations/instances_{s}.json" for s in ("test", "train", "validation")]
    read = [COCO(str(root / p)) for p in instances]
    assert sum(len(c.getImgIds()) for c in read) == 5
    assert sum(len(c.getAnnIds()) for c in read) == 4  # the boxes; lines have no COCO place
    if media:
        for c, path in zip(read, instances, strict=True):
            split = path.removeprefix("annotations/instances_").removesuffix(".json")
            for image in c.loadImgs(c.getImgIds()):
                assert (root / "images" / split / image["file_name"]).is_file()

    voc = compare_with_ours(ln, ours, work, small_version, "PASCAL VOC", media)
    assert sum(1 for p in voc if p.startswith("Annotations/")) == 5
    assert "ImageSets/Main/train.txt" in voc

    own = compare_with_ours(ln, ours, work, small_version, "MetaLake JSON", media)
    documents = [json.loads(own[f"{s}.json"]) for s in ("train", "validation", "test")]
    assert sum(len(d["images"]) for d in documents) == 5
    assert sum(1 for p in own if p.startswith("data/")) == (5 if media else 0)


def test_download_pages_past_250_files_and_drops_none(
    request: pytest.FixtureRequest, ln: layernext.LayerNextClient, ours: Client, work: Path
) -> None:
    """Two pages (250 + 10 files, across the splits' boundaries): every file arrives."""
    if request.node.callspec.params["server"] != "sqlite":
        pytest.skip("paging is the same on every backend; the format tests cover their URLs")
    count = 260
    folder = png_folder(work / "many", count)
    collection_id = upload(ours, folder, "lnds many")
    annotate(ours, work, "lnds many", "lnds-many", ["img_000.png", "img_259.png"])
    created = ln.create_dataset_from_collection("lnds many", collection_id, SPLIT)
    assert created["itemCount"] == count
    theirs = compare_with_ours(ln, ours, work, created["versionId"], "YOLO Darknet", True)
    images = {p: data for p, data in theirs.items() if p.startswith("images/")}
    assert len(images) == count
    originals = {(folder / f"img_{i:03d}.png").read_bytes() for i in range(count)}
    assert set(images.values()) == originals
    assert sum(1 for p in theirs if p.startswith("labels/")) == count


def test_download_of_an_unknown_version_or_format_writes_nothing(
    server: Server, ln: layernext.LayerNextClient, work: Path, small_version: str
) -> None:
    assert ln.download_dataset("no-such-version", "COCO", str(work / "x")) is None
    assert ln.download_dataset(small_version, "Semantic Segmentation", str(work / "x")) is None
    assert not (work / "x").exists() or not any((work / "x").iterdir())
    page = httpx.get(
        f"{server.url}/dataset/api/dataset/getVersionData/{small_version}/COCO/",
        params={"pageNo": 1, "pageSize": 250},
        auth=(server.key, server.secret),
    ).json()["data"]
    [zipped] = [r for r in page["resourceArray"] if not r["isMediaFile"]]
    assert httpx.get(zipped["fileUrl"]).status_code == 200  # signed: no credentials
    tampered = httpx.get(zipped["fileUrl"].replace("coco/annotations", "yolo/labels"))
    assert tampered.status_code == 403
