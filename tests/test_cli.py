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
