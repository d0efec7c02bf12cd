"""A COCO export read by torchvision: `CocoDetection` and its transforms-v2 wrapper give back the
version's images, boxes and labels, and a mask for every annotation.

On demand, not in `make test`: torchvision on x86_64 here comes only with torch 2.14.1, a 5.5 GB
CUDA build. Make a virtualenv with `pip install torch==2.14.1 torchvision==0.29.1 pycocotools`
and name its Python in METALAKE_TORCHVISION_PYTHON.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from metalake import Client
from tests.web_lake import build_web_lake

SCRIPT = Path(__file__).parent / "torchvision_scripts" / "read_coco.py"
PYTHON_VARIABLE = "METALAKE_TORCHVISION_PYTHON"
TIMEOUT_S = 120
"""For one run of the script (importing torch takes 20 s from a cold disk cache)."""
SCENES = 6


@pytest.fixture
def torchvision_python() -> Path:
    """The Python that has torchvision, from METALAKE_TORCHVISION_PYTHON; skips without it."""
    named = os.environ.get(PYTHON_VARIABLE)
    if not named or not Path(named).is_file():
        found = "unset" if not named else f"{named!r}, which does not exist"
        pytest.skip(
            f"{PYTHON_VARIABLE} is {found}: this test runs on demand, not in `make test`, since "
            "torchvision here comes only with a 5.5 GB CUDA build of torch; make a virtualenv "
            "with `pip install torch==2.14.1 torchvision==0.29.1 pycocotools` and set "
            f"{PYTHON_VARIABLE} to its bin/python"
        )
    return Path(named)


def add_odd_images(client: Client, folder: Path) -> None:
    """Two more files in `streets` (operation `odd`): a 200x100 PNG with a box on its edge, a
    polygon and a single point; a 50x80 JPEG with only a line (no COCO annotation)."""
    images = folder / "odd"
    images.mkdir(parents=True)
    Image.new("RGB", (200, 100), (10, 200, 90)).save(images / "wide.png")
    Image.new("RGB", (50, 80), (200, 10, 90)).save(images / "tall.jpg")
    job = client.upload_files_to_collection(str(images), "image", "streets")
    client.wait_for_job_complete(job["job_id"])
    document = {
        "images": [
            {
                "image": "wide.png",
                "annotations": [
                    {"type": "rectangle", "bbox": [150, 60, 50, 40], "label": "car"},
                    {
                        "type": "polygon",
                        "polygon": [[5, 5], [60.5, 9], [40, 70.25]],
                        "label": "road",
                    },
                    {"type": "points", "points": [[30, 40]], "label": "eye"},
                ],
            },
            {
                "image": "tall.jpg",
                "annotations": [{"type": "line", "polygon": [[0, 0], [49, 79]], "label": "lane"}],
            },
        ]
    }
    path = folder / "odd.json"
    path.write_text(json.dumps(document))
    started = client.upload_annotations_for_collection("streets", "odd", str(path), False, False)
    assert client.wait_for_job_complete(started["job_id"])["is_success"]


def version_files(client: Client, version_id: str, split: str) -> list[dict[str, Any]]:
    """Every file of a split with its annotations, through the transport's pages."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = client._transport.dataset_page(version_id, split, after, 5, False)
        found.extend(page["images"])
        after = page["next"]
        if after is None:
            return found


def xywh(annotation: dict[str, Any]) -> list[float]:
    """The pixel box of a version's box, polygon or points, as COCO should give it."""
    if annotation["type"] == "rectangle":
        return [float(v) for v in annotation["bbox"]]
    points = annotation["polygon" if annotation["type"] == "polygon" else "points"]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def same_boxes(got: list[list[float]], expected: list[list[float]]) -> bool:
    """Equal box for box, to float precision (pytest.approx takes no nested lists)."""
    return len(got) == len(expected) and all(
        g == pytest.approx(e) for g, e in zip(got, expected, strict=True)
    )


def read_with_torchvision(python: Path, folder: Path, split: str) -> dict[str, Any]:
    """What the torchvision script prints for one split of the export in `folder`."""
    done = subprocess.run(
        [str(python), str(SCRIPT), str(folder), split],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"{SCRIPT.name} failed under torchvision:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(2 * TIMEOUT_S + 60)
@pytest.mark.parametrize("lake", ["embedded-sqlite", "remote-sqlite"], indirect=True)
def test_torchvision_reads_the_coco_export(
    torchvision_python: Path, client: Client, tmp_path: Path
) -> None:
    build_web_lake(client, tmp_path / "data", SCENES)
    add_odd_images(client, tmp_path / "data")
    streets = client.get_collection_id_by_name("streets", "image")
    info = {"train": 50, "validation": 50}
    v = client.create_dataset("vision", collection_id=streets, split_info=info)
    result = client.download_dataset(v["version_id"], "COCO", str(tmp_path / "out"))
    assert result["is_success"] and result["downloaded_count"] == SCENES + 2, result
    assert result["dropped"] == {"line": SCENES + 1}
    label_ids = {c["name"]: c["id"] for c in v["categories"]}
    checked = {"images": 0, "boxes": 0}
    for split in v["splits"]:
        read = read_with_torchvision(torchvision_python, Path(result["path"]), split)
        files = version_files(client, v["version_id"], split)
        assert sorted(read["images"]) == sorted(f["file"] for f in files)
        for file in files:
            got = read["images"][file["file"]]
            width, height = file["width"], file["height"]
            assert got["size"] == got["v2_size"] == [width, height]
            kept = [a for a in file["annotations"] if a["type"] != "line"]
            boxes = [xywh(a) for a in kept]
            labels = [label_ids[a["label"]] for a in kept]
            raw = got["annotations"]
            assert same_boxes([a["bbox"] for a in raw], boxes)
            assert [a["category_id"] for a in raw] == labels
            assert all(a["iscrowd"] == 0 and a["area"] >= 0 for a in raw)
            target = got["target"]
            assert target["image_id"] == got["image_id"]
            if not kept:
                assert target["keys"] == ["image_id"]
                checked["images"] += 1
                continue
            assert target["boxes_format"] == "XYXY"
            assert target["canvas_size"] == [height, width]
            xyxy = [[x, y, x + w, y + h] for x, y, w, h in boxes]
            assert same_boxes(target["boxes"], xyxy)
            assert target["labels"] == labels
            assert target["masks_shape"] == [len(kept), height, width]
            for annotation, pixels in zip(raw, target["mask_pixels"], strict=True):
                assert pixels == pytest.approx(annotation["area"], rel=0.02), (file, annotation)
            checked["images"] += 1
            checked["boxes"] += len(kept)
    assert checked == {"images": SCENES + 2, "boxes": SCENES * 4 + 3}
