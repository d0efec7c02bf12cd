"""The real `layernext` 2.3.4 client, unmodified, against a live `metalake serve` on 127.0.0.1.

Every seed function runs through `layernext.LayerNextClient`; after each call the lake's state
is read back through our own `Client`, so a call that only answers well does not pass.
One server serves the module (each test uses its own collections) to keep the suite short.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import layernext
import pytest

from metalake import Client
from tests.conftest import fresh_postgres_database
from tests.media_factory import make_folder, make_image
from tests.servers import Server, serve

PART = 100 << 20
# The deprecated functions are called on purpose: they are part of what the client offers.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated method:DeprecationWarning")


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "s3"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The server on SQLite and a local folder, on PostgreSQL, or with its bytes in a real S3
    server (parts then go straight to S3 through presigned URLs)."""
    home = tmp_path_factory.mktemp("layernext-lake")
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            database_url = stack.enter_context(fresh_postgres_database())
            running = stack.enter_context(serve(home, database_url))
        elif request.param == "s3":
            s3 = request.getfixturevalue("s3_server")
            storage = f"s3://lake-{uuid.uuid4().hex[:12]}/blobs"
            running = stack.enter_context(serve(home, storage=storage, env=s3.env))
        else:
            running = stack.enter_context(serve(home))
        yield running


@pytest.fixture(scope="module")
def ln(server: Server) -> layernext.LayerNextClient:
    return layernext.LayerNextClient(server.key, server.secret, server.url)


@pytest.fixture(scope="module")
def ours(server: Server) -> Iterator[Client]:
    client = Client(server.url, server.key, server.secret, show_progress=False)
    yield client
    client.close()


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    """The client writes some downloads under the working directory: keep them in tmp."""
    before = Path.cwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(before)


def write_json(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def details(ours: Client, unique_name: str) -> dict[str, Any]:
    return ours.get_file_details(unique_name)


def shapes_of(ours: Client, unique_name: str, operation: str) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in a.items() if k not in ("operation_id", "is_model_run")}
        for a in details(ours, unique_name)["annotations"]
        if a["operation_id"] == operation
    ]


def upload_folder(ln: layernext.LayerNextClient, folder: Path, name: str) -> dict[str, Any]:
    result = ln.upload_files_to_collection(str(folder), "image", name)
    assert result["is_success"] is True
    return result


# Connecting -----------------------------------------------------------------------------------


def test_compatibility_check_accepts_2_3_and_checks_credentials(server: Server) -> None:
    layernext.LayerNextClient(server.key, server.secret, server.url)
    with pytest.raises(Exception, match="Authentication failed"):
        layernext.LayerNextClient(server.key, "wrong-secret", server.url)
    auth = (server.key, server.secret)
    url = f"{server.url}/datalake/api/client/sdk/compatibility"
    assert httpx.get(f"{url}/2.3.9", auth=auth).json()["isCompatible"] is True
    old = httpx.get(f"{url}/1.9.0", auth=auth).json()
    assert old["isCompatible"] is False
    assert "layernext==2.3.4" in old["message"]


def test_errors_use_the_loopback_shape_with_406_for_bad_input(server: Server) -> None:
    auth = (server.key, server.secret)
    answer = httpx.post(
        f"{server.url}/datalake/api/client/metadata/getCollectionIdByName",
        json={"collectionName": "no such collection", "objectType": 5},
        auth=auth,
    )
    assert answer.status_code == 406
    assert answer.json()["error"]["statusCode"] == 406
    assert "no such collection" in answer.json()["error"]["message"]
    unknown_route = httpx.get(f"{server.url}/datalake/api/client/getDetails/system", auth=auth)
    assert unknown_route.status_code == 404
    assert unknown_route.json()["error"]["statusCode"] == 404
    unauthenticated = httpx.get(f"{server.url}/datalake/api/client/jobs/x/getStatus")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["statusCode"] == 401


# Uploads --------------------------------------------------------------------------------------


def test_upload_folder_with_collection_and_file_metadata(
    ln: layernext.LayerNextClient, ours: Client, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "street", 3)
    (folder / "notes.txt").write_text("not an image: the client leaves it out")
    per_file = {
        "files": [{"file": "img_001.jpg", "metadata": {"weather": "rain", "Tags": ["wet"]}}]
    }
    started = time.monotonic()
    result = ln.upload_files_to_collection(
        str(folder),
        "image",
        "ln street",
        {"Camera": "C1", "Tags": ["day"]},
        False,
        write_json(tmp_path / "meta.json", per_file),
    )
    assert result["is_success"] is True
    # The job was done when `complete` answered: the client's wait never slept its 30 s.
    assert time.monotonic() - started < 25
    job = ours.get_job(result["job_id"])
    assert (job["status"], job["done"]) == ("completed", 3)
    done = {"is_success": True, "job_status": "COMPLETED"}
    assert ln.wait_for_job_complete(result["job_id"]) == done
    assert ours.get_collection_id_by_name("ln street", "image") == result["collection_id"]
    one = details(ours, "ln street_img_001.jpg")
    assert one["metadata"] == {"Camera": "C1", "weather": "rain"}
    assert one["tags"] == ["day", "wet"]
    assert sha256(folder / "img_001.jpg") == one["sha256"]
    assert ours.get_item_count_from_collection(result["collection_id"]) == 3

    again = ln.upload_files_to_collection(str(folder), "image", "ln street", {"Camera": "C2"})
    assert again["collection_id"] == result["collection_id"]
    assert ours.get_job(again["job_id"])["skipped"] == 3
    assert details(ours, "ln street_img_001.jpg")["metadata"]["Camera"] == "C1"


def test_layernext_and_rest_uploads_merge_per_file_metadata_as_the_sdk_does(
    server: Server, ln: layernext.LayerNextClient, ours: Client, tmp_path: Path
) -> None:
    """One metadata file naming a file twice: the SDK, the LayerNext client (which sends it by
    job id after the upload) and a REST upload carrying it as `file_metadata` all store the
    same merged metadata, under the upload's metadata object."""
    folder = make_folder(tmp_path / "merge", 2)
    entries = [
        {"file": "img_000.jpg", "metadata": {"weather": "rain", "Camera": "own", "Tags": ["wet"]}},
        {"file": "img_001.jpg", "metadata": {"k": 1}},
        {"file": "img_000.jpg", "metadata": {"weather": "snow", "Tags": ["cold"]}},
    ]
    metadata_file = write_json(tmp_path / "merge.json", {"files": entries})
    upload_metadata = {"Camera": "C1", "Tags": ["day"]}

    def stored(collection: str) -> list[tuple[dict[str, Any], list[str]]]:
        found = [details(ours, f"{collection}_img_00{i}.jpg") for i in range(2)]
        return [(f["metadata"], f["tags"]) for f in found]

    sdk = ours.upload_files_to_collection(
        str(folder), "image", "merge sdk", upload_metadata, False, metadata_file
    )
    ours.wait_for_job_complete(sdk["job_id"])
    expected = [
        ({"Camera": "own", "weather": "snow"}, ["cold", "day", "wet"]),
        ({"Camera": "C1", "k": 1}, ["day"]),
    ]
    assert stored("merge sdk") == expected

    ln.upload_files_to_collection(
        str(folder), "image", "merge ln", upload_metadata, False, metadata_file
    )
    assert stored("merge ln") == expected

    # Over REST the files are already in the collection (so no bytes need sending), and
    # `override_metadata` applies the upload's metadata to them as to new files.
    ours.wait_for_job_complete(
        ours.upload_files_to_collection(str(folder), "image", "merge rest")["job_id"]
    )
    files = sorted(folder.iterdir())
    request = {
        "collection_name": "merge rest",
        "content_type": "image",
        "files": [{"file_name": f.name, "size": f.stat().st_size} for f in files],
        "metadata": upload_metadata,
        "override_metadata": True,
        "file_metadata": entries,
    }
    auth = (server.key, server.secret)
    api = f"{server.url}/api/v1/uploads"
    body = {"request": request, "fingerprint": uuid.uuid4().hex}
    session = httpx.post(api, json=body, auth=auth).json()
    assert [f["state"] for f in session["files"]] == ["skip", "skip"]
    job = httpx.post(f"{api}/{session['session_id']}/complete", auth=auth).json()
    ours.wait_for_job_complete(job["job_id"])
    assert stored("merge rest") == expected


def test_upload_single_file_returns_its_unique_name(
    ln: layernext.LayerNextClient, ours: Client, tmp_path: Path
) -> None:
    image = make_image(tmp_path / "lone.png", (40, 30), format="PNG")
    result = ln.upload_files_to_collection(
        str(image), "image", "ln single", {}, False, None, "pre/fix"
    )
    assert result["unique_name"] == "ln single_lone.png"
    found = details(ours, "ln single_lone.png")
    assert (found["width"], found["height"], found["mime"]) == (40, 30, "image/png")
    assert found["storage_key"] == "pre/fix/ln single/lone.png"


def test_deprecated_file_upload(
    ln: layernext.LayerNextClient, ours: Client, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "legacy", 2)
    result = ln.file_upload(str(folder), 5, "ln legacy")
    assert result["is_success"] is True
    assert ours.get_item_count_from_collection(result["collection_id"]) == 2


def test_multipart_edge_sizes_empty_and_exactly_one_part(
    ln: layernext.LayerNextClient, ours: Client, tmp_path: Path
) -> None:
    """A 0-byte file is one empty part; a file of exactly 100 MiB is two, the second empty."""
    folder = tmp_path / "blobs"
    folder.mkdir()
    (folder / "empty.bin").write_bytes(b"")
    exact = folder / "exact.bin"
    with exact.open("wb") as out:
        out.truncate(PART)
        out.seek(PART // 2)
        out.write(b"middle")
    result = ln.upload_files_to_collection(str(folder), "other", "ln sizes")
    assert result["is_success"] is True
    assert details(ours, "ln sizes_empty.bin")["size"] == 0
    found = details(ours, "ln sizes_exact.bin")
    assert (found["size"], found["sha256"]) == (PART, sha256(exact))


# Metadata -------------------------------------------------------------------------------------


def test_every_metadata_update(ln: layernext.LayerNextClient, ours: Client, tmp_path: Path) -> None:
    result = upload_folder(ln, make_folder(tmp_path / "m", 4), "ln meta")
    ln.upload_metadata_for_collection("ln meta", "image", {"site": "north", "Tags": ["t0"]}, False)
    collection = ours.get_collection_details(result["collection_id"])
    assert (collection["metadata"], collection["tags"]) == ({"site": "north"}, ["t0"])
    assert details(ours, "ln meta_img_000.jpg")["metadata"] == {}
    ln.upload_metadata_for_collection("ln meta", "image", {"site": "south"}, True)
    assert details(ours, "ln meta_img_000.jpg")["metadata"] == {"site": "south"}

    def files(name: str, entries: list[tuple[str, dict[str, Any]]]) -> str:
        document = {"files": [{"file": f, "metadata": m} for f, m in entries]}
        return write_json(tmp_path / name, document)

    ln.upload_metadata_for_files("ln meta", "image", files("a.json", [("img_000.jpg", {"a": 1})]))
    ln.upload_metadata_by_job_id(result["job_id"], files("b.json", [("img_001.jpg", {"b": 2.5})]))
    key = details(ours, "ln meta_img_002.jpg")["storage_key"]
    ln.upload_metadata_by_storage_path(files("c.json", [(key, {"c": True, "Tags": ["s"]})]))
    ln.upload_metadata_by_unique_name(files("d.json", [("ln meta_img_003.jpg", {"d": "x"})]))
    assert details(ours, "ln meta_img_000.jpg")["metadata"] == {"site": "south", "a": 1}
    assert details(ours, "ln meta_img_001.jpg")["metadata"]["b"] == 2.5
    third = details(ours, "ln meta_img_002.jpg")
    assert (third["metadata"]["c"], third["tags"]) == (True, ["s"])
    assert details(ours, "ln meta_img_003.jpg")["metadata"]["d"] == "x"


def test_metadata_validation_refuses_bad_field_names(
    ln: layernext.LayerNextClient, tmp_path: Path
) -> None:
    document = {"files": [{"file": "x.jpg", "metadata": {"x" * 300: 1}}]}
    with pytest.raises(Exception, match="at most 255 characters"):
        ln.upload_metadata_by_unique_name(write_json(tmp_path / "bad.json", document))


# Annotations ---------------------------------------------------------------------------------

CAR = {
    "type": "rectangle",
    "bbox": [10, 5, 20, 15],
    "label": "car",
    "confidence": 0.9,
    "metadata": {"source": "test"},
    "attributes": {"color": [{"value": "red", "confidence": 0.7}]},
}
ROAD = {"type": "polygon", "polygon": [[1, 1], [30, 1], [30, 20]], "label": "road"}
LANE = {"type": "line", "line": [[0, 0], [10, 10], [20, 5]], "label": "lane"}
DOTS = {"type": "points", "points": [[3, 4], [5, 6]], "label": "keypoint"}


def stored(shape: dict[str, Any], machine: bool) -> dict[str, Any]:
    """A shape as our lake gives it back (lines under `polygon`; human attributes at 1)."""
    result = {"metadata": {}, "attributes": {}, **shape}
    if shape["type"] == "line":
        result["polygon"] = result.pop("line")
    if not machine and shape.get("attributes"):
        result["attributes"] = {
            name: [{**v, "confidence": 1} for v in values]
            for name, values in shape["attributes"].items()
        }
    return result


def test_every_annotation_upload_form(
    ln: layernext.LayerNextClient, ours: Client, tmp_path: Path
) -> None:
    result = upload_folder(ln, make_folder(tmp_path / "a", 5), "ln annotated")

    def annotations(name: str, images: list[tuple[str, list[dict[str, Any]]]]) -> str:
        document = {"images": [{"image": i, "annotations": a} for i, a in images]}
        return write_json(tmp_path / name, document)

    ln.upload_annotations_for_collection(
        "ln annotated",
        "model-1",
        annotations("c.json", [("img_000.jpg", [CAR, ROAD, LANE, DOTS])]),
        False,
        True,
    )
    assert shapes_of(ours, "ln annotated_img_000.jpg", "model-1") == [
        stored(s, machine=True) for s in (CAR, ROAD, LANE, DOTS)
    ]
    ln.upload_annotations_by_unique_name(
        "human-1", annotations("u.json", [("ln annotated_img_001.jpg", [CAR])]), False, False
    )
    assert shapes_of(ours, "ln annotated_img_001.jpg", "human-1") == [stored(CAR, machine=False)]
    key = details(ours, "ln annotated_img_002.jpg")["storage_key"]
    normalized = {"type": "rectangle", "bbox": [0.5, 0.5, 0.25, 0.5], "label": "half"}
    ln.upload_annotations_by_storage_path(
        "model-2", annotations("s.json", [("/" + key, [normalized])]), True, True
    )
    assert shapes_of(ours, "ln annotated_img_002.jpg", "model-2")[0]["bbox"] == [32, 24, 16, 24]
    ln.upload_annotations_by_job_id(
        result["job_id"], "model-3", annotations("j.json", [("img_003.jpg", [DOTS])]), False, True
    )
    assert shapes_of(ours, "ln annotated_img_003.jpg", "model-3") == [stored(DOTS, machine=True)]
    legacy = {"images": [{"image": "img_004.jpg", "annotations": [
        {"polygon": [[1, 1], [9, 1], [9, 9]], "label": "old", "metadata": {"kind": "a"}}
    ]}]}  # fmt: skip
    ln.upload_annoations_for_folder(
        "ln annotated", "legacy-1", write_json(tmp_path / "l.json", legacy), "polygon", False, False
    )
    assert shapes_of(ours, "ln annotated_img_004.jpg", "legacy-1") == [
        {
            "type": "polygon",
            "polygon": [[1, 1], [9, 1], [9, 9]],
            "label": "old",
            "metadata": {},
            "attributes": {"kind": [{"value": "a", "confidence": 1}]},
        }
    ]

    # The same operation again replaces what it had on the image.
    ln.upload_annotations_for_collection(
        "ln annotated", "model-1", annotations("c2.json", [("img_000.jpg", [ROAD])]), False, True
    )
    assert shapes_of(ours, "ln annotated_img_000.jpg", "model-1") == [stored(ROAD, machine=True)]
    assert (
        ours.get_item_count_from_collection(result["collection_id"], "annotation.label = car") == 1
    )


def test_upload_with_annotation_data(
    ln: layernext.LayerNextClient, ours: Client, tmp_path: Path
) -> None:
    document = {"images": [{"image": "img_000.jpg", "annotations": [CAR]}]}
    result = ln.upload_files_to_collection(
        str(make_folder(tmp_path / "ad", 2)),
        "image",
        "ln with annotations",
        annotation_data={
            "json_data_file_path": write_json(tmp_path / "ad.json", document),
            "operation_unique_id": "inline-1",
            "is_normalized": False,
            "is_model_run": True,
        },
    )
    assert result["is_success"] is True
    shapes = shapes_of(ours, "ln with annotations_img_000.jpg", "inline-1")
    assert shapes == [stored(CAR, machine=True)]


# Downloads -----------------------------------------------------------------------------------


def test_get_downloadable_url_works_without_credentials_and_is_signed(
    ln: layernext.LayerNextClient, ours: Client, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "u", 1)
    upload_folder(ln, folder, "ln urls")
    url = ln.get_downloadable_url("ln urls_img_000.jpg")
    assert httpx.get(url).content == (folder / "img_000.jpg").read_bytes()
    key = details(ours, "ln urls_img_000.jpg")["storage_key"]
    assert httpx.get(ln.get_downloadable_url(key)).status_code == 200
    query = parse_qs(urlsplit(url).query)
    lifetime = int(query["expires"][0]) - time.time() if "expires" in query else None
    assert 0 < (lifetime or int(query["X-Amz-Expires"][0])) <= 3600 + 5
    tampered = url[:-1] + ("1" if url[-1] == "0" else "0")
    assert httpx.get(tampered).status_code == 403
    missing = ln.get_downloadable_url("no such file")
    assert missing["isSuccess"] is False


def test_download_collection_with_and_without_media(
    ln: layernext.LayerNextClient, ours: Client, work: Path
) -> None:
    folder = make_folder(work / "src", 3)
    result = upload_folder(ln, folder, "ln download")
    document = {"images": [{"image": "img_000.jpg", "annotations": [CAR, LANE]}]}
    ln.upload_annotations_for_collection(
        "ln download", "m", write_json(work / "a.json", document), False, True
    )
    ln.download_collection(result["collection_id"], custom_download_path=str(work / "full"))
    root = work / "full" / "ln download"
    for i in range(3):
        name = f"ln download_img_{i:03d}.jpg"
        assert (root / "data" / name).read_bytes() == (folder / f"img_{i:03d}.jpg").read_bytes()
    written = json.loads((root / "annotations.json").read_text())
    by_image = {entry["image"]: entry["annotations"] for entry in written["images"]}
    assert set(by_image) == {f"ln download_img_{i:03d}.jpg" for i in range(3)}
    first = by_image["ln download_img_000.jpg"]
    assert [a["label"] for a in first] == ["car", "lane"]
    assert first[1]["line"] == LANE["line"]

    # The annotation file goes back in unchanged through the unique-name form.
    ln.upload_annotations_by_unique_name("m-again", str(root / "annotations.json"), False, True)
    assert [a["label"] for a in shapes_of(ours, "ln download_img_000.jpg", "m-again")] == [
        "car",
        "lane",
    ]

    ln.download_collection(
        result["collection_id"], "human", [], str(work / "bare"), is_media_include=False
    )
    bare = work / "bare" / "ln download"
    assert not (bare / "data").exists()
    human_only = json.loads((bare / "annotations.json").read_text())
    assert all(entry["annotations"] == [] for entry in human_only["images"])

    ln.download_annotations(result["collection_id"], "m", str(work / "deprecated"), False)
    kept = json.loads((work / "deprecated" / "ln download" / "annotations.json").read_text())
    assert sum(len(entry["annotations"]) for entry in kept["images"]) == 2


def test_paged_file_downloads_with_query_filter_and_sort(
    ln: layernext.LayerNextClient, ours: Client, work: Path
) -> None:
    result = upload_folder(ln, make_folder(work / "p", 5), "ln pages")
    document = {
        "files": [{"file": f"img_{i:03d}.jpg", "metadata": {"Tags": ["keep"]}} for i in (1, 2, 4)]
    }
    ln.upload_metadata_for_files("ln pages", "image", write_json(work / "t.json", document))
    by_name = {"sort_by_field": "name", "sort_order": "DESC"}
    answer = ln.download_files_from_collection(
        result["collection_id"], str(work / "c"), 0, 2, "tags = keep", {}, by_name
    )
    assert answer["is_success"] is True
    assert sorted(p.name for p in (work / "c").iterdir()) == [
        "ln pages_img_002.jpg",
        "ln pages_img_004.jpg",
    ]
    past = ln.download_files_from_collection(
        result["collection_id"], str(work / "c"), 5, 2, "tags = keep", {}, by_name
    )
    assert past == {"is_success": False, "message": "No more pages to download"}

    today = time.strftime("%Y-%m-%d", time.gmtime())
    lake_answer = ln.download_files_from_metalake(
        "image",
        str(work / "lake"),
        0,
        10,
        'collection = "ln pages" AND (name ~ "img_000*" OR name ~ "*001.jpg")',
        {"annotation_types": ["raw"], "from_date": today, "to_date": today},
        {"sort_by_field": "name", "sort_order": "ASC"},
    )
    assert lake_answer["is_success"] is True
    assert sorted(p.name for p in (work / "lake").iterdir()) == [
        "ln pages_img_000.jpg",
        "ln pages_img_001.jpg",
    ]
    listed = ln.get_item_list_from_collection(
        result["collection_id"], "tags = keep", {}, 0, 10, by_name
    )
    assert [item["uniqueName"] for item in listed] == [
        f"ln pages_img_{i:03d}.jpg" for i in (4, 2, 1)
    ]
    bad = ln.get_item_list_from_collection(result["collection_id"], "tags = = keep")
    assert bad["isSuccess"] is False
    assert "query error" in bad["message"]


def test_item_counts_match_the_lake(
    ln: layernext.LayerNextClient, ours: Client, tmp_path: Path
) -> None:
    result = upload_folder(ln, make_folder(tmp_path / "n", 4), "ln counts")
    document = {"images": [{"image": "img_000.jpg", "annotations": [CAR]}]}
    ln.upload_annotations_for_collection(
        "ln counts", "m", write_json(tmp_path / "a.json", document), False, True
    )
    cid = result["collection_id"]
    expected = {"": (4, 1), "annotation.label = car": (1, 1), 'name ~ "img_00?.jpg"': (4, 1)}
    machine = {"annotation_types": ["machine"]}
    for query, (total, annotated) in expected.items():
        assert ours.get_item_count_from_collection(cid, query) == total
        assert ln.get_item_count_from_collection(cid, query) == {"count": total}
        assert ours.get_item_count_from_collection(cid, query, machine) == annotated
        assert ln.get_item_count_from_collection(cid, query, machine) == {"count": annotated}
    assert ln.get_item_count_from_metalake("image", 'collection = "ln counts"') == {"count": 4}


# Trash ---------------------------------------------------------------------------------------


def test_trash_from_collection_and_from_the_lake(
    ln: layernext.LayerNextClient, ours: Client, tmp_path: Path
) -> None:
    result = upload_folder(ln, make_folder(tmp_path / "t", 4), "ln trash")
    cid = result["collection_id"]
    document = {"images": [{"image": "img_000.jpg", "annotations": [CAR]}]}
    ln.upload_annotations_for_collection(
        "ln trash", "m", write_json(tmp_path / "a.json", document), False, True
    )
    answer = ln.trash_objects_from_collection(cid, "annotation.label = car")
    assert answer == {
        "message": "1 objects successfully trashed, 0 objects failed to trash",
        "isSuccess": True,
    }
    assert ours.get_item_count_from_collection(cid) == 3
    lake_answer = ln.trash_objects_from_datalake('collection = "ln trash" AND name = img_001.jpg')
    assert lake_answer["message"].startswith("1 objects successfully trashed")
    assert ours.get_item_count_from_collection(cid) == 2

    refused = ln.trash_objects_from_collection(cid, "name = = x")
    assert refused["isSuccess"] is False
    assert "query error" in refused["message"]
    assert ours.get_item_count_from_collection(cid) == 2

    whole = ln.trash_objects_from_collection(cid)
    assert whole["message"].startswith("2 objects successfully trashed")
    assert ours.get_item_count_from_collection(cid) == 0
    ours.restore_from_trash(cid)
    assert ours.get_item_count_from_collection(cid) == 4


def test_collection_and_file_details(
    ln: layernext.LayerNextClient, ours: Client, tmp_path: Path
) -> None:
    result = upload_folder(ln, make_folder(tmp_path / "d", 1), "ln details")
    collection = ln.get_collection_details(result["collection_id"], {"Tags": True})
    assert collection["id"] == result["collection_id"]
    assert collection["name"] == "ln details"
    file = ln.get_file_details("ln details_img_000.jpg", {"fileSize": True, "resolution": True})
    ours_file = details(ours, "ln details_img_000.jpg")
    assert file["fileSize"] == ours_file["size"]
    assert file["resolution"] == {"width": ours_file["width"], "height": ours_file["height"]}
    assert httpx.get(file["url"]).status_code == 200


def test_create_collection_and_remove_annotations(
    ln: layernext.LayerNextClient, ours: Client, tmp_path: Path
) -> None:
    created = ln.create_or_update_collection("ln empty", "video", {"owner": "me", "Tags": ["v"]})
    cid = ours.get_collection_id_by_name("ln empty", "video")
    assert created["collectionId"] == cid
    head = ours.get_collection_details(cid)
    assert (head["metadata"], head["tags"], head["item_count"]) == ({"owner": "me"}, ["v"], 0)

    result = upload_folder(ln, make_folder(tmp_path / "r", 2), "ln removal")
    assert ln.get_collection_id_by_name("ln removal") == result["collection_id"]
    document = {"images": [{"image": "img_000.jpg", "annotations": [CAR]}]}
    for operation in ("keep", "drop"):
        ln.upload_annotations_for_collection(
            "ln removal", operation, write_json(tmp_path / "a.json", document), False, True
        )
    answer = ln.remove_annotations(result["collection_id"], "drop")
    assert answer["isSuccess"] is True
    assert shapes_of(ours, "ln removal_img_000.jpg", "drop") == []
    assert len(shapes_of(ours, "ln removal_img_000.jpg", "keep")) == 1


# The wire protocol where the client hides it ---------------------------------------------------


def test_wire_job_codes_etags_and_files_that_never_arrive(
    tmp_path: Path, fresh_server: Server
) -> None:
    """A promised job is queued (3) until `complete`, then completed (2); a part answers 200
    with a quoted ETag; finalizing with another ETag is refused; unsent files are left out."""
    image = make_image(tmp_path / "a.jpg").read_bytes()
    with contextlib.nullcontext(fresh_server) as server:  # the shared server, emptied
        api = httpx.Client(base_url=f"{server.url}/datalake/api", auth=(server.key, server.secret))
        started = api.post(
            "/client/uploadMetadataInCollection",
            json={
                "collectionType": 5,
                "collectionName": "wire",
                "metaDataObject": "",
                "isOverrideMetaData": False,
                "storagePrefixPath": None,
                "objectKeyList": ["a.jpg", "b.jpg"],
            },
        ).json()
        assert started["storageType"] == "AWS_S3"
        status = f"/client/jobs/{started['jobId']}/getStatus"
        assert api.get(status).json() == {"isSuccess": True, "status": 3, "progress": 0.0}
        with Client(server.url, server.key, server.secret, show_progress=False) as ours:
            promised = ours.get_job(started["jobId"])
            assert (promised["status"], promised["total"]) == ("queued", 2)
            assert promised["collection_id"] == started["collectionId"]
        object_type = api.request(
            "GET", f"/client/{started['collectionId']}/getObjectTypeById", json={}
        )
        assert object_type.json() == {"objectType": 5}

        file = api.post(
            "/client/fileUpload/initializeMultipartUpload",
            json={"fileName": "a.jpg", "collectionName": "wire", "uploadId": started["uploadId"]},
        ).json()
        assert file["isExisting"] is False
        parts = api.post(
            "/client/fileUpload/getMultipartPreSignedUrls",
            json={
                "fileId": file["fileId"],
                "fileKey": file["fileKey"],
                "parts": 1,
                "contentType": "image/jpeg",
            },
        ).json()["parts"]
        assert [p["PartNumber"] for p in parts] == [1]
        url = parts[0]["signedUrl"]
        assert httpx.put(url.replace("expires=", "expires=1"), content=image).status_code == 403
        put = httpx.put(url, content=image, headers={"Content-Type": "image/jpeg"})
        assert put.status_code == 200
        etag = put.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"')

        def finalize(tag: str) -> httpx.Response:
            return api.post(
                "/client/fileUpload/finalizeMultipartUpload",
                json={
                    "fileId": file["fileId"],
                    "fileKey": file["fileKey"],
                    "parts": [{"PartNumber": 1, "ETag": tag}],
                    "uploadId": started["uploadId"],
                    "finalizeUrl": url,
                },
            )

        refused = finalize("0" * 64)
        assert refused.status_code == 406
        assert "did not arrive as sent" in refused.json()["error"]["message"]
        assert finalize(etag[1:-1]).status_code == 200

        done = api.get(
            f"/client/collectionUploadingStatus/{started['uploadId']}/complete",
            params={"isReturnedUniqueName": "False"},
        ).json()
        assert done["isSuccess"] is True
        assert api.get(status).json() == {"isSuccess": True, "status": 2, "progress": 100.0}
        with Client(server.url, server.key, server.secret, show_progress=False) as ours:
            assert ours.get_item_count_from_collection(started["collectionId"]) == 1
            assert (
                ours.get_file_details("wire_a.jpg")["sha256"] == hashlib.sha256(image).hexdigest()
            )

        nothing = api.post(
            "/client/uploadMetadataInCollection",
            json={"collectionType": 7, "collectionName": "wire empty", "objectKeyList": []},
        ).json()
        api.get(f"/client/collectionUploadingStatus/{nothing['uploadId']}/complete")
        assert api.get(f"/client/jobs/{nothing['jobId']}/getStatus").json()["status"] == 2

        empty_batch = api.post(
            "/metadata/operationdata/op/update",
            params={"isNormalized": "False"},
            json={
                "metaUpdatesArray": "[]",
                "sessionId": "1.0",
                "totalImageCount": 0,
                "uploadedImageCount": 0,
                "operationMode": 1,
                "operationType": 1,
            },
        )
        assert empty_batch.json()["isSuccess"] is True
        selection = api.post(
            "/client/query/getSelectionId",
            json={
                "isAllSelected": True,
                "contentType": 2,
                "objectIdList": [],
                "filterData": {},
                "query": "name ~",
                "collectionId": "",
            },
        )
        assert selection.status_code == 200
        assert selection.json()["isSuccess"] is False
        assert "query error" in selection.json()["warningMsg"]
