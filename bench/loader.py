"""Loader benchmark: images/s of `metalake.torch.DetectionDataset` through a DataLoader.

N 640x480 JPEGs are uploaded into a fresh embedded lake and frozen as one version (all in
`train`). Each round times one epoch of both, interleaved A, B, A, B:
  metalake  DetectionDataset over the version (bytes read in place from the lake's folder,
            targets built from the index);
  plain     an ImageFolder-style Dataset over the same files in their source folder: Pillow
            open and the same tensor conversion, a constant target.
Both go through DataLoader(num_workers=W, batch_size=B) with a tuple-of-lists collate. Every
file of both folders is read once before the first round, so both start from a warm page cache.
Prints each side's median images/s with its min..max over the rounds, the ratio of the medians,
and the median of the rounds' own ratios (steadier when the machine's load drifts).

Usage: python bench/loader.py [N] [--rounds R] [--workers W] [--batch-size B] [--folder DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from PIL import Image, ImageDraw
from torch.utils.data import DataLoader, Dataset

from metalake import Client
from metalake.torch import DetectionDataset, decode_image

SIZE = (640, 480)


def make_jpegs(folder: Path, count: int) -> list[Path]:
    """`count` distinct 640x480 JPEGs with some texture (so they decode like photos, not
    flat colour), made once and reused by later runs in the same folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    noise = Image.effect_noise(SIZE, 40).convert("RGB")
    paths = []
    for i in range(count):
        path = folder / f"img_{i:05d}.jpg"
        paths.append(path)
        if path.exists():
            continue
        base = Image.new("RGB", SIZE, (rng.randrange(256), rng.randrange(256), 90))
        image = Image.blend(base, noise, 0.3)
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = rng.randrange(560), rng.randrange(400)
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            draw.rectangle([x, y, x + 80, y + 60], fill=colour)
        image.save(path, quality=85)
    return paths


def annotate(folder: Path, paths: list[Path]) -> Path:
    """An annotation document with two boxes and a polygon per image."""
    images = [
        {
            "image": path.name,
            "annotations": [
                {"type": "rectangle", "bbox": [10, 10, 100, 80], "label": "car"},
                {"type": "rectangle", "bbox": [300, 200, 50, 120], "label": "person"},
                {"type": "polygon", "polygon": [[0, 400], [640, 400], [320, 470]], "label": "road"},
            ],
        }
        for path in paths
    ]
    document = folder / "annotations.json"
    document.write_text(json.dumps({"images": images}))
    return document


class PlainFolder(Dataset):
    """ImageFolder-style: a list of paths, Pillow decode, the same tensor conversion."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple:
        return decode_image(self.paths[index].read_bytes()), 0


def collate(batch: list) -> tuple:
    return tuple(zip(*batch, strict=True))


def epoch(dataset: Dataset, workers: int, batch_size: int) -> float:
    """Images/s of one pass over `dataset` through a fresh DataLoader (worker start-up
    included, as in a training epoch)."""
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate)
    start = time.perf_counter()
    count = sum(len(images) for images, _targets in loader)
    seconds = time.perf_counter() - start
    assert count == len(dataset), (count, len(dataset))
    return count / seconds


def warm(*folders: Path) -> int:
    """Read every file under `folders` once; returns the bytes read."""
    return sum(len(p.read_bytes()) for f in folders for p in f.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--folder", type=Path, default=None, help="where the JPEGs are kept")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="loader_bench_"))
    try:
        run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(args: argparse.Namespace, root: Path) -> None:
    folder = args.folder or root / "images"
    print(f"making {args.n} JPEGs in {folder} ...", file=sys.stderr)
    paths = make_jpegs(folder, args.n)
    document = annotate(root, paths)
    with Client(home=root / "lake", show_progress=False) as client:
        print("uploading and annotating ...", file=sys.stderr)
        job = client.upload_files_to_collection(str(folder), "image", "bench")
        client.wait_for_job_complete(job["job_id"])
        started = client.upload_annotations_for_collection(
            "bench", "boxes", str(document), False, False
        )
        client.wait_for_job_complete(started["job_id"])
        collection_id = client.get_collection_id_by_name("bench")
        version = client.create_dataset("bench", collection_id, split_info={"train": 100})
        ours = DetectionDataset(client, version["version_id"], "train")
        plain = PlainFolder(sorted(paths))
        megabytes = warm(folder, root / "lake" / "blobs") / 2**20
        print(f"{len(ours)} files, {megabytes:.0f} MB read to warm the page cache")
        rates: dict[str, list[float]] = {"metalake": [], "plain": []}
        for round_ in range(args.rounds):
            rates["metalake"].append(epoch(ours, args.workers, args.batch_size))
            rates["plain"].append(epoch(plain, args.workers, args.batch_size))
            print(
                f"round {round_ + 1}: metalake {rates['metalake'][-1]:.0f}/s, "
                f"plain {rates['plain'][-1]:.0f}/s",
                file=sys.stderr,
            )
    print(
        f"DataLoader(num_workers={args.workers}, batch_size={args.batch_size}), "
        f"{args.rounds} rounds"
    )
    print(f"{'':<10} {'median img/s':>13} {'min..max':>15}")
    for name, values in rates.items():
        spread = f"{min(values):.0f}..{max(values):.0f}"
        print(f"{name:<10} {statistics.median(values):13.0f} {spread:>15}")
    ratio = statistics.median(rates["metalake"]) / statistics.median(rates["plain"])
    paired = [a / b for a, b in zip(rates["metalake"], rates["plain"], strict=True)]
    print(f"metalake / plain: {ratio:.2f} of the medians (target 0.80)")
    print(
        f"metalake / plain by round: median {statistics.median(paired):.2f}, "
        f"{min(paired):.2f}..{max(paired):.2f}"
    )


if __name__ == "__main__":
    main()
