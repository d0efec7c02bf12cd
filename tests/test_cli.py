"""The `metalake` command, run as a user would: a real subprocess on a real lake folder."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import shlex
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import httpx
import pytest

from metalake import Client
from metalake import __version__ as metalake_version
from tests.servers import Server, free_port


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
    assert done.stderr == "", "no progress bar when stderr is not a terminal"

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
    facets = metalake("facets", "--collection", "street", "--field", "tag", home=lake_home)
    assert facets.stdout.splitlines() == ["5 files", "tag:", "           5  day"]
    bad = metalake("query", "width >=", home=lake_home)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "error: query error at column 9: expected a value after '>=', found end of query"
    )

    trashed = metalake("trash", "name = img_004.jpg", "--yes", home=lake_home)
    assert trashed.stdout.strip() == "1 objects successfully trashed, 0 objects failed to trash"
    assert metalake("query", "--count", home=lake_home).stdout.strip() == "4"
    restored = metalake("restore", "--collection", "street", home=lake_home)
    assert restored.stdout.strip() == "1 objects restored from the trash"
    metalake("trash", "name = img_004.jpg", "-y", home=lake_home)
    emptied = metalake("empty-trash", "--older-than-days", "0", "--yes", home=lake_home)
    assert emptied.stdout.strip() == "1 objects deleted from the trash"
    with Client(home=lake_home, show_progress=False) as client:
        assert client.get_item_count_from_metalake("image") == 4


def on_a_terminal(*args: str, home: Path, answer: str = "") -> tuple[int, str]:
    """Run the command with stdin and stderr on a pseudo-terminal, typing `answer` into it:
    its exit status and what it wrote to the terminal."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    os.write(controller, answer.encode())
    process = subprocess.Popen(
        [sys.executable, "-m", "metalake", "--home", str(home), *args],
        stdin=terminal,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    output = b""
    with contextlib.suppress(OSError):  # EIO once the command has exited
        while chunk := os.read(controller, 65536):
            output += chunk
    os.close(controller)
    return process.wait(60), output.decode(errors="replace")


@pytest.mark.parametrize(("quiet", "bar"), [((), True), (("--quiet",), False), (("-q",), False)])
def test_progress_bars_only_on_a_terminal_and_never_when_quiet(
    images: Path, lake_home: Path, quiet: tuple[str, ...], bar: bool
):
    status, stderr = on_a_terminal(
        *quiet, "upload", str(images), "--collection", "c", home=lake_home
    )
    assert status == 0, stderr
    assert ("5/5" in stderr) is bar, stderr


def test_version():
    done = subprocess.run(
        [sys.executable, "-m", "metalake", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"metalake, version {metalake_version}"


@pytest.mark.parametrize(
    ("command", "question"),
    [
        (["trash", "name = img_001.jpg"], "Move files matching 'name = img_001.jpg' of type image"),
        (["trash", "--collection", "c"], "Move all files in collection 'c' to the trash?"),
        (["empty-trash", "--older-than-days", "0"], "Delete for good, with their bytes"),
    ],
)
def test_trash_and_empty_trash_need_yes_without_a_terminal(
    images: Path, lake_home: Path, command: list[str], question: str
):
    assert metalake("upload", str(images), "--collection", "c", home=lake_home).returncode == 0
    assert metalake("trash", "name = img_000.jpg", "--yes", home=lake_home).returncode == 0

    refused = metalake(*command, home=lake_home)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"error: {command[0]} asks first ({question}")
    assert refused.stderr.strip().endswith("stdin is not a terminal: pass --yes")
    with Client(home=lake_home, show_progress=False) as client:
        assert client.get_item_count_from_metalake("image") == 4
        assert client.restore_from_trash()["message"] == "1 objects restored from the trash"


@pytest.mark.parametrize(("answer", "status", "left"), [("n\n", 1, "5"), ("y\n", 0, "4")])
def test_trash_asks_at_a_terminal(
    images: Path, lake_home: Path, answer: str, status: int, left: str
):
    assert metalake("upload", str(images), "--collection", "c", home=lake_home).returncode == 0
    done, stderr = on_a_terminal("trash", "name = img_001.jpg", home=lake_home, answer=answer)
    assert done == status, stderr
    assert "Move files matching 'name = img_001.jpg' of type image to the trash? [y/N]" in stderr
    assert metalake("query", "--count", home=lake_home).stdout.strip() == left


def test_files_skipped_for_their_extension_are_counted(images: Path, lake_home: Path):
    for name in ("notes.txt", "b.txt", "clip.mp4"):
        (images / name).write_text("x")
    done = metalake("upload", str(images), "--collection", "c", home=lake_home)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == (
        "skipped 3 files whose extension does not fit image (jpeg, jpg, png): "
        "b.txt, clip.mp4, notes.txt"
    )
    assert "completed: 5 done" in done.stdout


def test_every_remote_capable_command_works_with_url_flags(
    images: Path, fresh_server: Server, tmp_path: Path
):
    """The commands README "CLI tour" lists as remote-capable, against a server and not the
    folder: `--home` names an empty folder, so only the server can answer."""
    labels = tmp_path / "labels.json"
    box = {"type": "rectangle", "bbox": [1, 1, 4, 4], "label": "car"}
    labels.write_text(json.dumps({"images": [{"image": "img_000.jpg", "annotations": [box]}]}))
    flags = [
        "--url",
        fresh_server.url,
        "--api-key",
        fresh_server.key,
        "--secret",
        fresh_server.secret,
    ]

    def remote(*args: str) -> subprocess.CompletedProcess[str]:
        done = metalake(*flags, *args, home=tmp_path / "empty")
        assert done.returncode == 0, (args, done.stderr)
        return done

    job_id = remote("upload", str(images), "--collection", "c").stdout.split()[3]
    assert json.loads(remote("job", job_id, "--json").stdout)["done"] == 5
    remote("annotate", str(labels), "--collection", "c", "--operation", "m1")
    assert json.loads(remote("info", "c_img_000.jpg").stdout)["file_name"] == "img_000.jpg"
    assert remote("query", "annotation.label = car", "--count").stdout.strip() == "1"
    facets = json.loads(
        remote("facets", "--field", "label", "--field", "operation", "--json").stdout
    )
    assert facets == {
        "file_count": 5,
        "facets": {
            "label": [{"value": "car", "file_count": 1}],
            "operation": [{"value": "m1", "file_count": 1}],
        },
    }
    out = tmp_path / "out"
    assert "5 files" in remote("download", "c", "--out", str(out)).stdout
    assert len(list((out / "c" / "data").iterdir())) == 5
    assert remote("trash", "name = img_001.jpg", "--yes").stdout.startswith("1 objects")
    assert remote("restore").stdout.strip() == "1 objects restored from the trash"
    remote("trash", "name = img_001.jpg", "--yes")
    emptied = remote("empty-trash", "--older-than-days", "0", "--yes")
    assert emptied.stdout.strip() == "1 objects deleted from the trash"
    assert remote("query", "--count").stdout.strip() == "4"
    assert not (tmp_path / "empty").exists()


def test_serve_hints_at_the_key_command_of_the_lake_it_serves(lake_home: Path):
    port = free_port()
    log = lake_home.parent / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "metalake", "serve", "--home", str(lake_home), "--port",
             str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not log.read_text().count("No API keys yet") and time.monotonic() < deadline:
            time.sleep(0.05)
        command = f"metalake --home {lake_home.resolve()} keys create --name NAME"
        assert f"No API keys yet: create one with `{command}`." in log.read_text()
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                answer = httpx.post(f"{url}/api/v1/items/count", json={})
                break
            time.sleep(0.05)
        assert answer.status_code == 401
        hint = answer.json()["message"]
        assert "`metalake serve` prints the exact command" in hint
        assert str(lake_home.resolve()) not in hint  # no server path to a caller without a key
        made = metalake("keys", "create", "--name", "n", home=lake_home)
        assert made.returncode == 0
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(20)


@pytest.mark.parametrize(
    ("database_url", "shown"),
    [
        (None, None),
        ("postgresql://admin:s3cret@db.example:5432/lake", "postgresql://admin:***@db.example:5432/lake"),
        ("postgresql://admin@db/lake?sslmode=require", "postgresql://admin@db/lake?sslmode=require"),
    ],
)  # fmt: skip
def test_the_key_hint_names_the_database_without_its_password(
    lake_home: Path, database_url: str | None, shown: str | None
):
    from metalake.lake.keys import keys_command

    command = keys_command(lake_home, database_url, "create --name NAME")
    expected = f"metalake --home {lake_home.resolve()}"
    if shown:
        expected += f" --database-url {shlex.quote(shown)}"
    assert command == f"{expected} keys create --name NAME"
    assert "s3cret" not in command


def test_dataset_create_list_download_delete_and_import(lake_home: Path, tmp_path: Path):
    from tests.web_lake import build_web_lake

    with Client(home=str(lake_home), show_progress=False) as client:
        build_web_lake(client, tmp_path / "data", 4)
    made = metalake(
        "dataset", "create", "cars", "annotation.label = car", "--collection", "streets",
        "--operation", "review", "--split", "train=50", "--split", "test=50", home=lake_home,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    version_id = made.stdout.split()[0]
    assert "train: 2 files" in made.stdout and "test: 2 files" in made.stdout
    listed = metalake("dataset", "list", home=lake_home)
    assert "cars" in listed.stdout and version_id in listed.stdout
    shown = json.loads(metalake("dataset", "list", "cars", "--json", home=lake_home).stdout)
    assert shown["versions"][0]["labels"] == {"car": 4, "road": 4}
    out = tmp_path / "out"
    done = metalake("dataset", "download", version_id, "--format", "YOLO", "--out", str(out),
                    home=lake_home)  # fmt: skip
    assert done.returncode == 0, done.stderr
    folder = out / "cars_v1_yolo"
    assert len(list((folder / "images").rglob("*.jpg"))) == 4
    imported = metalake("import-dataset", str(folder), "--format", "YOLO", "--collection",
                        "copy", "--operation", "yolo-gt", home=lake_home)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert "completed" in imported.stdout
    refused = metalake("dataset", "delete", version_id, home=lake_home)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    gone = metalake("dataset", "delete", version_id, "--yes", home=lake_home)
    assert gone.returncode == 0 and "deleted" in gone.stdout
    bad = metalake("dataset", "download", version_id, home=lake_home)
    assert bad.returncode == 2 and "no dataset version" in bad.stderr
