"""Annotation benchmark: N images with K boxes each into a fresh embedded lake, and back out.

Times, on the same images and boxes:
  metalake  `upload_annotations_for_collection` until `wait_for_job_complete` returns (a new
            operation, then the same operation again: a replace), and
            `download_collection(..., is_media_include=False)`; with --remote also both through
            a `metalake serve` process on 127.0.0.1;
  fiftyone  building `Detections` from the same JSON, `set_values` of them as a field, and a
            COCO detection export of it (labels only, no media), from the separate venv
            `make bench-deps` builds.
Images (320x240 JPEGs) and the annotation file are made once and cached in `bench/out/`.
With --database-url the lake's database is a fresh PostgreSQL database made on that server for
the run (and dropped after it).
The floors are what the database alone takes for the same boxes, one row each, inserted in one
transaction (rolled back) by the path uploads use (executemany on SQLite, COPY on PostgreSQL):
into a plain table of the annotations' columns (no key, index or reference), and into the lake's
annotations table (its three indexes and foreign keys), median of three rounds. An upload can be
no faster than the second, and no design with a row per box faster than the first.

Usage: python bench/annotations.py [--images 10000] [--boxes 5] [--no-fiftyone] [--remote]
                                   [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sqlalchemy as sa

from bench.common import OUT, fresh_postgres, run_fiftyone
from metalake import Client
from metalake.lake.annotations.store import ROW_COLUMNS
from metalake.lake.lake import lake_database
from metalake.store.bulk import insert_rows
from metalake.store.schema import annotation_rows, items, labels, operations
from tests.servers import serve

WIDTH, HEIGHT = 320, 240
LABELS = ["car", "person", "bicycle", "truck", "bus", "dog", "cat", "sign", "light", "tree"]

FIFTYONE_CHILD = """
import json, sys, tempfile, time
from pathlib import Path
import fiftyone as fo
folder, annotation_file = sys.argv[1], sys.argv[2]
width, height = int(sys.argv[3]), int(sys.argv[4])
images = json.loads(Path(annotation_file).read_text())["images"]
size = fo.ImageMetadata(width=width, height=height)
dataset = fo.Dataset()
dataset.add_samples(
    fo.Sample(filepath=f"{folder}/{e['image']}", metadata=size.copy()) for e in images
)
order = {f"{folder}/{e['image']}": e for e in images}
paths = dataset.values("filepath")
start = time.perf_counter()
detections = [
    fo.Detections(detections=[
        fo.Detection(
            label=a["label"],
            bounding_box=[a["bbox"][0] / width, a["bbox"][1] / height,
                          a["bbox"][2] / width, a["bbox"][3] / height],
            confidence=a.get("confidence"),
        )
        for a in order[path]["annotations"]
    ])
    for path in paths
]
build = time.perf_counter() - start
start = time.perf_counter()
dataset.set_values("ground_truth", detections)
set_values = time.perf_counter() - start
export_dir = tempfile.mkdtemp()
start = time.perf_counter()
dataset.export(
    export_dir=export_dir,
    dataset_type=fo.types.COCODetectionDataset,
    label_field="ground_truth",
    export_media=False,
    progress=False,
)
export = time.perf_counter() - start
boxes = dataset.count("ground_truth.detections")
dataset.delete()
print(json.dumps({"build": build, "set_values": set_values, "export": export, "boxes": boxes}))
"""


def make_images(n: int) -> Path:
    """A cached folder of n distinct small JPEGs (distinct colors, so distinct bytes)."""
    from PIL import Image

    folder = OUT / f"annotated_{n}"
    folder.mkdir(parents=True, exist_ok=True)
    missing = [i for i in range(n) if not (folder / f"img_{i:06d}.jpg").exists()]
    if missing:
        print(f"making {len(missing)} images in {folder} ...", file=sys.stderr)
    for i in missing:
        color = (i % 256, (i // 256) % 256, (i // 65536) % 256 + 16)
        Image.new("RGB", (WIDTH, HEIGHT), color).save(folder / f"img_{i:06d}.jpg", quality=80)
    return folder


def make_annotations(n: int, boxes: int) -> Path:
    """A cached annotation file: `boxes` random boxes with labels and confidences per image."""
    path = OUT / f"annotations_{n}x{boxes}.json"
    if path.exists():
        return path
    rng = random.Random(7)
    images = []
    for i in range(n):
        shapes = []
        for _ in range(boxes):
            w, h = rng.randint(4, WIDTH // 2), rng.randint(4, HEIGHT // 2)
            x, y = rng.randint(0, WIDTH - w), rng.randint(0, HEIGHT - h)
            shapes.append(
                {
                    "type": "rectangle",
                    "bbox": [x, y, w, h],
                    "label": rng.choice(LABELS),
                    "confidence": round(rng.random(), 3),
                }
            )
        images.append({"image": f"img_{i:06d}.jpg", "annotations": shapes})
    path.write_text(json.dumps({"images": images}))
    return path


def _floor_rows(conn: sa.Connection, annotation_file: Path, operation: str) -> list[tuple]:
    """The file's boxes as the lake stores them, spread over the lake's items in order."""
    ids = conn.execute(sa.select(items.c.id).order_by(items.c.id)).scalars().all()
    label_ids = dict(conn.execute(sa.select(labels.c.name, labels.c.id)).all())
    query = sa.select(operations.c.id).where(operations.c.name == operation)
    operation_id = conn.execute(query).scalar_one()
    images = json.loads(annotation_file.read_text())["images"]
    return [
        (
            item_id,
            operation_id,
            "rectangle",
            label_ids[a["label"]],
            *a["bbox"],
            None,
            a["confidence"],
            None,
            None,
        )
        for item_id, entry in zip(ids, images, strict=False)
        for a in entry["annotations"]
    ]


def insert_floors(home: Path, url: str | None, annotation_file: Path, operation: str) -> dict:
    """Seconds (median of three) to insert the file's boxes into a plain table and into the
    lake's annotations table, each in a transaction that is rolled back."""
    db = lake_database(home, url)
    plain = sa.Table(
        "bench_floor",
        sa.MetaData(),
        *(sa.Column(c.name, c.type) for c in annotation_rows.columns if c.name != "id"),
    )
    tables = (("plain table", plain), ("lake's annotations table", annotation_rows))
    seconds: dict[str, list[float]] = {name: [] for name, _ in tables}
    try:
        with db.read() as conn:
            rows = _floor_rows(conn, annotation_file, operation)
        for _ in range(3):
            for name, table in tables:
                with db.engine.connect() as conn, conn.begin() as transaction:
                    if table is plain:
                        table.create(conn)
                    start = time.perf_counter()
                    insert_rows(conn, table, ROW_COLUMNS, rows)
                    seconds[name].append(time.perf_counter() - start)
                    transaction.rollback()
    finally:
        db.close()
    return {name: statistics.median(values) for name, values in seconds.items()}


@contextlib.contextmanager
def fresh_database(admin_url: str | None) -> Iterator[str | None]:
    """None (the embedded SQLite database), or a new PostgreSQL database on the server of
    `admin_url`, dropped on exit."""
    if admin_url is None:
        yield None
        return
    with fresh_postgres(admin_url) as url:
        yield url


def timed_upload(client: Client, operation: str, annotation_file: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    result = client.upload_annotations_for_collection(
        "bench", operation, str(annotation_file), False, False
    )
    status = client.wait_for_job_complete(result["job_id"], poll_interval=0.01)
    seconds = time.perf_counter() - start
    assert status["is_success"], client.get_job(result["job_id"])
    return seconds, client.get_job(result["job_id"])


def timed_download(client: Client, collection_id: str, operation: str) -> tuple[float, dict]:
    target = Path(tempfile.mkdtemp(dir=OUT, prefix="download_"))
    try:
        start = time.perf_counter()
        result = client.download_collection(
            collection_id, "all", [operation], str(target), is_media_include=False
        )
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(target)
    assert result["is_success"], result
    return seconds, result


def measure(client: Client, collection_id: str, annotation_file: Path, prefix: str) -> dict:
    """Upload (new operation), upload again (replace) and download; seconds of each."""
    new_s, job = timed_upload(client, f"{prefix}-gt", annotation_file)
    replace_s, _ = timed_upload(client, f"{prefix}-gt", annotation_file)
    download_s, download = timed_download(client, collection_id, f"{prefix}-gt")
    return {
        "upload": new_s,
        "replace": replace_s,
        "download": download_s,
        "images": job["done"],
        "boxes": download["annotation_count"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--boxes", type=int, default=5, help="boxes per image")
    parser.add_argument("--no-fiftyone", action="store_true")
    parser.add_argument("--remote", action="store_true", help="also through a server")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server where the run makes (and drops) the lake's database",
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    folder = make_images(args.images)
    annotation_file = make_annotations(args.images, args.boxes)
    expected = args.images * args.boxes
    home = Path(tempfile.mkdtemp(dir=OUT, prefix="lake_"))
    try:
        with fresh_database(args.database_url) as url:
            with Client(home=home, database_url=url, show_progress=False) as client:
                start = time.perf_counter()
                upload = client.upload_files_to_collection(str(folder), "image", "bench")
                client.wait_for_job_complete(upload["job_id"])
                print(f"{args.images} images uploaded in {time.perf_counter() - start:.1f} s")
                collection_id = upload["collection_id"]
                results = {"embedded": measure(client, collection_id, annotation_file, "e")}
            floors = insert_floors(home, url, annotation_file, "e-gt")
            if args.remote:
                with (
                    serve(home, url) as server,
                    Client(server.url, server.key, server.secret) as client,
                ):
                    results["remote"] = measure(client, collection_id, annotation_file, "r")
    finally:
        shutil.rmtree(home)
    fo = None
    if not args.no_fiftyone:
        fo = run_fiftyone(
            FIFTYONE_CHILD, str(folder), str(annotation_file), str(WIDTH), str(HEIGHT)
        )

    print(f"{args.images} images x {args.boxes} boxes = {expected} boxes")
    if args.database_url:
        print("the lake's database on PostgreSQL")
    print(f"{'':<48} {'seconds':>8} {'boxes/s':>10}")

    def line(name: str, seconds: float) -> None:
        print(f"{name:<48} {seconds:8.3f} {expected / seconds:10.0f}")

    for way, figures in results.items():
        assert (figures["images"], figures["boxes"]) == (args.images, expected), figures
        line(f"metalake {way} upload_annotations (new op)", figures["upload"])
        line(f"metalake {way} upload_annotations (replace)", figures["replace"])
        line(f"metalake {way} download_collection, no media", figures["download"])
    for table, seconds in floors.items():
        line(f"floor: rows alone into the {table}", seconds)
    if fo:
        assert fo["boxes"] == expected, fo
        line("fiftyone build Detections from the JSON", fo["build"])
        line("fiftyone set_values(Detections)", fo["set_values"])
        line("fiftyone build + set_values", fo["build"] + fo["set_values"])
        line("fiftyone export COCODetectionDataset", fo["export"])
        embedded = results["embedded"]
        ingest = (fo["build"] + fo["set_values"]) / embedded["upload"]
        print(f"ingest / fiftyone build + set_values: {ingest:.1f}x")
        print(f"ingest / fiftyone set_values alone: {fo['set_values'] / embedded['upload']:.1f}x")
        print(f"export / fiftyone COCO export: {fo['export'] / embedded['download']:.1f}x")


if __name__ == "__main__":
    main()
