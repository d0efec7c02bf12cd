"""A small lake for the web app's browser tests: real images, two operations, every shape type."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw

from metalake import Client

IMAGE_SIZE = (320, 240)
CAMERAS = ("cam-a", "cam-b", "cam-c")


def make_scene(path: Path, index: int) -> Path:
    """A 320x240 JPEG with a coloured block where its `car` box is (so boxes can be checked by
    the pixels under them)."""
    image = Image.new("RGB", IMAGE_SIZE, (30 + 9 * index % 200, 80, 120))
    draw = ImageDraw.Draw(image)
    x, y, w, h = car_box(index)
    draw.rectangle([x, y, x + w, y + h], fill=(240, 200, 40))
    image.save(path, quality=90)
    return path


def car_box(index: int) -> list[int]:
    return [20 + 10 * index, 30 + 5 * index, 100, 60]


def shapes_for(index: int) -> tuple[list[dict], list[dict]]:
    """(human, machine) annotations of image `index`."""
    human = [
        {"type": "rectangle", "bbox": car_box(index), "label": "car"},
        {"type": "polygon", "polygon": [[10, 200], [150, 200], [80, 230]], "label": "road"},
    ]
    machine = [
        {
            "type": "rectangle",
            "bbox": [200, 20, 80, 80],
            "label": "person" if index % 2 else "car",
            "confidence": round(0.3 + 0.05 * index, 2),
            "attributes": {"color": [{"value": "red"}]},
        },
        {"type": "line", "polygon": [[0, 120], [319, 120]], "label": "lane", "confidence": 0.9},
        {"type": "points", "points": [[160, 60], [170, 70]], "label": "eye", "confidence": 0.95},
    ]
    return human, machine


def build_web_lake(client: Client, folder: Path, count: int = 12) -> dict:
    """Upload `count` scenes to collection `streets` with metadata and tags, and annotate them
    (operation `review`, human; `detector`, machine). Returns the upload's job."""
    folder.mkdir(parents=True, exist_ok=True)
    images = folder / "streets"
    images.mkdir(exist_ok=True)
    for i in range(count):
        make_scene(images / f"scene_{i:03d}.jpg", i)
    entries = []
    for i in range(count):
        metadata: dict = {"camera": CAMERAS[i % 3]}
        if i % 4 == 0:
            metadata["Tags"] = ["night"]
        entries.append({"file": f"scene_{i:03d}.jpg", "metadata": metadata})
    (folder / "meta.json").write_text(json.dumps({"files": entries}))
    job = client.upload_files_to_collection(
        str(images),
        "image",
        "streets",
        meta_data_object={"site": "north"},
        file_meta_data_json_path=str(folder / "meta.json"),
    )
    client.wait_for_job_complete(job["job_id"])
    for operation, machine in (("review", False), ("detector", True)):
        document = {
            "images": [
                {"image": f"scene_{i:03d}.jpg", "annotations": shapes_for(i)[int(machine)]}
                for i in range(count)
            ]
        }
        path = folder / f"{operation}.json"
        path.write_text(json.dumps(document))
        started = client.upload_annotations_for_collection(
            "streets", operation, str(path), False, machine
        )
        client.wait_for_job_complete(started["job_id"])
    return job
