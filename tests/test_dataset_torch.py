"""`metalake.torch.DetectionDataset`: a version's split as torchvision-style detection samples,
embedded and remote, through DataLoader workers, with a bounded cache and renewed URLs."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from metalake import Client
from tests.conftest import upload_and_wait
from tests.servers import S3Server, serve
from tests.web_lake import build_web_lake

if not os.environ.get("CI"):
    pytest.importorskip("torch", reason="needs the torch extra: pip install 'metalake[torch]'")

import torch
from torch.utils.data import DataLoader

from metalake.torch import DetectionDataset

COUNT = 6


def make_version(client: Client, data: Path, count: int = COUNT) -> str:
    """`count` web-lake scenes (both operations) frozen as a version, all in `train`."""
    build_web_lake(client, data, count)
    collection_id = client.get_collection_id_by_name("streets", "image")
    return client.create_dataset("scenes", collection_id, split_info={"train": 100})["version_id"]


def pillow_tensor(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)


def source_of(data: Path, unique_name: str) -> Path:
    return data / "streets" / unique_name.removeprefix("streets_")


def expected_shapes(client: Client, version_id: str) -> dict[str, list[tuple[list[float], str]]]:
    """Each file's boxes (xyxy) and label names, straight from the version's pages:
    rectangles as they are, polygons by their bounds, lines and points left out."""
    found: dict[str, list[tuple[list[float], str]]] = {}
    for image in client.dataset_files(version_id, "train", page_size=4):
        shapes = []
        for a in image["annotations"]:
            if a["type"] == "rectangle":
                x, y, w, h = a["bbox"]
                shapes.append(([x, y, x + w, y + h], a["label"]))
            elif a["type"] == "polygon":
                xs, ys = zip(*a["polygon"], strict=True)
                shapes.append(([min(xs), min(ys), max(xs), max(ys)], a["label"]))
        found[image["file"]] = shapes
    return found


def collate(batch: list) -> tuple:
    return tuple(zip(*batch, strict=True))


def test_samples_are_the_versions_boxes_labels_and_pixels(
    client: Client, tmp_path: Path, lake
) -> None:
    data = tmp_path / "data"
    version_id = make_version(client, data)
    ds = DetectionDataset(client, version_id, "train", cache_dir=tmp_path / "cache")
    assert len(ds) == COUNT
    assert set(ds.categories.values()) == {"car", "road", "person", "lane", "eye"}
    assert all(ds.classes[i] == name for i, name in ds.categories.items())
    assert ds.classes[0] == "__background__"
    expected = expected_shapes(client, version_id)
    assert list(expected) == ds.files
    for index in range(len(ds)):
        image, target = ds[index]
        file = ds.files[index]
        assert image.dtype == torch.uint8 and image.shape == (3, 240, 320)
        assert torch.equal(image, pillow_tensor(source_of(data, ds.unique_names[index])))
        assert target["boxes"].dtype == torch.float32
        assert target["boxes"].tolist() == [box for box, _ in expected[file]]
        assert target["labels"].dtype == torch.int64
        assert [ds.categories[int(i)] for i in target["labels"]] == [n for _, n in expected[file]]
        assert target["image_id"] == index + 1
        boxes = target["boxes"]
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        labels = [ds.classes[int(i)] for i in target["labels"]]
        for label, area, want in zip(labels, target["area"], areas, strict=True):
            # the road triangle's area is half its box's; boxes are their own area
            assert float(area) == (float(want) / 2 if label == "road" else float(want))
        assert target["iscrowd"].tolist() == [0] * len(labels)
    if lake.server is None:
        assert not (tmp_path / "cache").exists(), "local files are read in place, not cached"


def test_a_two_worker_loader_yields_every_file_once(client: Client, tmp_path: Path) -> None:
    version_id = make_version(client, tmp_path / "data", 7)
    ds = DetectionDataset(client, version_id, "train", cache_dir=tmp_path / "cache")
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate)
    ids = [target["image_id"] for _images, targets in loader for target in targets]
    assert sorted(ids) == list(range(1, 8))


def test_a_transform_gets_the_image_and_the_target(client: Client, tmp_path: Path) -> None:
    version_id = make_version(client, tmp_path / "data", 2)

    def flip(image: torch.Tensor, target: dict) -> tuple:
        width = image.shape[-1]
        boxes = target["boxes"].clone()
        boxes[:, [0, 2]] = width - target["boxes"][:, [2, 0]]
        return image.flip(-1), {**target, "boxes": boxes}

    plain = DetectionDataset(client, version_id, "train")
    flipped = DetectionDataset(client, version_id, "train", transform=flip)
    (image, target), (fimage, ftarget) = plain[0], flipped[0]
    assert torch.equal(fimage, image.flip(-1))
    assert ftarget["boxes"][:, 0].tolist() == (320 - target["boxes"][:, 2]).tolist()


def cache_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.parent.name != ".tmp"]


def test_remote_urls_are_renewed_and_bytes_cached_within_budget(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cache = tmp_path / "cache"
    with (
        serve(tmp_path / "lake", env={"METALAKE_URL_EXPIRY": "1"}) as server,
        Client(server.url, server.key, server.secret, show_progress=False) as client,
    ):
        version_id = make_version(client, data)
        ds = DetectionDataset(client, version_id, "train", cache_dir=cache)
        time.sleep(2.1)
        assert httpx.get(ds._urls[0]).status_code == 403, "the index's URLs have expired"
        # as a spawned worker gets it: pickled, then its own connections opened to renew URLs
        ds = pickle.loads(pickle.dumps(ds))
        loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate)
        first = {t["image_id"]: i for images, ts in loader for i, t in zip(images, ts, strict=True)}
        assert sorted(first) == list(range(1, COUNT + 1))
        assert len(cache_files(cache)) == COUNT
        sizes = sorted(p.stat().st_size for p in cache_files(cache))
        budget = sizes[-1] * 2 + sizes[0] // 2
        small = DetectionDataset(
            client, version_id, "train", cache_dir=tmp_path / "small", cache_bytes=budget
        )
        for index in range(len(small)):
            small[index]
            assert sum(p.stat().st_size for p in cache_files(tmp_path / "small")) <= budget
        assert len(cache_files(tmp_path / "small")) == 2
    # the server is gone: a second epoch reads every file from the cache, in a copy as a
    # worker would get it, after this process opened its HTTP client
    ds = pickle.loads(pickle.dumps(ds))
    second = {t["image_id"]: i for i, t in (ds[k] for k in range(len(ds)))}
    assert all(torch.equal(first[k], second[k]) for k in first)
    for index, name in enumerate(ds.unique_names):
        assert torch.equal(ds[index][0], pillow_tensor(source_of(data, name)))


def test_a_served_lake_on_s3_loads_through_presigned_urls(
    s3_storage: str, s3: S3Server, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    with (
        serve(
            tmp_path / "lake", storage=s3_storage, env={**s3.env, "METALAKE_URL_EXPIRY": "1"}
        ) as server,
        Client(server.url, server.key, server.secret, show_progress=False) as client,
    ):
        version_id = make_version(client, data)
        ds = DetectionDataset(client, version_id, "train", cache_dir=tmp_path / "cache")
        assert all(url.startswith(s3.endpoint) for url in ds._urls)
        deadline = time.monotonic() + 2.1
        while httpx.get(ds._urls[0]).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert httpx.get(ds._urls[0]).status_code == 403
        loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate)
        for images, targets in loader:
            for image, target in zip(images, targets, strict=True):
                name = ds.unique_names[target["image_id"] - 1]
                assert torch.equal(image, pillow_tensor(source_of(data, name)))
        assert len(cache_files(tmp_path / "cache")) == COUNT


def test_an_embedded_lake_on_s3_renews_urls_in_its_workers(
    s3_storage: str, s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METALAKE_URL_EXPIRY", "1")
    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):
        Image.new("RGB", (40, 30), (60 * i, 20, 90)).save(images / f"p{i}.png")
    with Client(home=tmp_path / "lake", storage=s3_storage, show_progress=False) as client:
        upload_and_wait(client, str(images), "image", "pics")
        collection_id = client.get_collection_id_by_name("pics")
        version_id = client.create_dataset("pics", collection_id, split_info={"train": 100})[
            "version_id"
        ]
        ds = DetectionDataset(client, version_id, "train", cache=False)
        time.sleep(2.1)
        loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate)
        seen = {t["image_id"]: i for imgs, ts in loader for i, t in zip(imgs, ts, strict=True)}
        assert sorted(seen) == [1, 2, 3, 4]
        for image_id, image in seen.items():
            name = ds.unique_names[image_id - 1].removeprefix("pics_")
            assert torch.equal(image, pillow_tensor(images / name))
            assert image.shape == (3, 30, 40)


def test_without_torch_the_import_error_says_what_to_install() -> None:
    code = "import sys; sys.modules['torch'] = None; import metalake.torch"
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert "pip install 'metalake[torch]'" in done.stderr
