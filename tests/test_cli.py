"""The `metalake` command, run as a user would: a real subprocess on a real lake folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from metalake import Client


def metalake(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "metalake", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_upload_with_meta_and_tags_then_info(images: Path, lake_home: Path):
    done = metalake(
        "upload",
        str(images),
        "--type",
        "image",
        "--collection",
        "my_collection",
        "--meta",
        "Camera Id=CAM_0001",
        "--meta",
        "Floor=3",
        "--tag",
        "#retail",
        home=lake_home,
    )
    assert done.returncode == 0, done.stderr
    assert "completed: 5 done, 0 skipped, 0 failed" in done.stdout
    assert "5/5" in done.stderr

    info = metalake("info", "my_collection_img_002.jpg", home=lake_home)
    details = json.loads(info.stdout)
    assert details["metadata"] == {"Camera Id": "CAM_0001", "Floor": 3}
    assert details["tags"] == ["#retail"]


def test_a_failed_job_exits_non_zero_and_lists_the_files(images: Path, lake_home: Path):
    (images / "bad.png").write_bytes(b"not a png")
    done = metalake("upload", str(images), "--collection", "c", home=lake_home)
    assert done.returncode == 1
    assert "bad.png: not a readable image" in done.stderr


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, lake_home: Path):
    (tmp_path / "clip.mp4").write_bytes(b"x")
    done = metalake("upload", str(tmp_path / "clip.mp4"), "--collection", "c", home=lake_home)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "error: clip.mp4 cannot be uploaded as image (accepted extensions: jpeg, jpg, png)"
    )


def test_job_command_prints_the_record(images: Path, lake_home: Path):
    with Client(home=lake_home, show_progress=False) as client:
        job_id = client.upload_files_to_collection(str(images), "image", "c")["job_id"]
    done = metalake("job", job_id, "--wait", "--json", home=lake_home)
    assert json.loads(done.stdout)["done"] == 5


def test_annotate_then_download_a_collection(images: Path, lake_home: Path, tmp_path: Path):
    assert metalake("upload", str(images), "--collection", "c", home=lake_home).returncode == 0
    labels = tmp_path / "labels.json"
    box = {"type": "rectangle", "bbox": [0.5, 0.5, 0.25, 0.25], "label": "car"}
    labels.write_text(json.dumps({"images": [{"image": "img_000.jpg", "annotations": [box]}]}))
    done = metalake(
        "annotate", str(labels), "--collection", "c", "--operation", "m1", "--machine",
        "--normalized", home=lake_home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "completed: 1 done, 0 skipped, 0 failed" in done.stdout

    done = metalake("download", "c", "--out", str(tmp_path / "out"), home=lake_home)
    assert done.returncode == 0, done.stderr
    assert "5 files with 1 annotations written" in done.stdout
    written = json.loads((tmp_path / "out" / "c" / "annotations.json").read_text())
    shapes = {e["image"]: e["annotations"] for e in written["images"]}
    assert shapes["c_img_000.jpg"][0]["bbox"] == [32, 24, 16, 12]
    assert shapes["c_img_000.jpg"][0]["is_model_run"] is True
    assert len(list((tmp_path / "out" / "c" / "data").iterdir())) == 5


def test_query_trash_restore_and_empty_trash(images: Path, lake_home: Path):
    upload = metalake(
        "upload", str(images), "--collection", "street", "--tag", "day", home=lake_home
    )
    assert upload.returncode == 0, upload.stderr
    found = metalake(
        "query", 'name ~ "img_00?.jpg"', "--sort", "name:ASC", "--page-size", "2", home=lake_home
    )
    assert found.stdout.split() == ["street_img_000.jpg", "street_img_001.jpg"]
    count = metalake("query", "tags = day", "--collection", "street", "--count", home=lake_home)
    assert count.stdout.strip() == "5"
    bad = metalake("query", "width >=", home=lake_home)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "error: query error at column 9: expected a value after '>=', found end of query"
    )

    trashed = metalake("trash", "name = img_004.jpg", home=lake_home)
    assert trashed.stdout.strip() == "1 objects successfully trashed, 0 objects failed to trash"
    assert metalake("query", "--count", home=lake_home).stdout.strip() == "4"
    restored = metalake("restore", "--collection", "street", home=lake_home)
    assert restored.stdout.strip() == "1 objects restored from the trash"
    metalake("trash", "name = img_004.jpg", home=lake_home)
    emptied = metalake("empty-trash", "--older-than-days", "0", home=lake_home)
    assert emptied.stdout.strip() == "1 objects deleted from the trash"
    with Client(home=lake_home, show_progress=False) as client:
        assert client.get_item_count_from_metalake("image") == 4
