"""Dataset benchmark: versions, training-format exports and a COCO import at 100k images.

A lake of N images (default 100,000) with 5 boxes each (3 from a machine operation with
confidences, 2 from a human one, over 8 labels) is built once with the store's bulk insert (rows
only; a version export without media reads no bytes) and cached under --data. Then, with
--rounds interleaved rounds of each contender:

  create   `create_dataset` of the whole lake (split 80/10/10) and of a label query with one
           operation (`annotation.label IN [car, bus]`, human boxes only), deleted after each;
  export   `download_dataset(..., "COCO" | "YOLO", is_media_include=False)` of the whole
           version, against FiftyOne's `export(COCODetectionDataset, export_media=False)` of a
           persistent dataset (in --data) loaded once from our COCO export;
  import   `import_dataset(folder, "COCO", ...)` into a fresh lake until the job completes (the
           client's reading, the start of the upload and the job's annotation step timed apart),
           against FiftyOne's COCO `from_dir` of the same folder (it only registers the paths).

FiftyOne's dataset and both imports use the first --subset images of our COCO export (with
tiny JPEGs written beside it): FiftyOne runs at a few thousand boxes a second, so 500k boxes
would take it many minutes a round. Ratios are of boxes/s. Tables and a summary are printed;
every round's figures go to bench/out/datasets.json.

Usage: python bench/datasets.py [--images 100000] [--subset 4000] [--rounds 3]
                                [--data /work/h_dsbench_data] [--no-fiftyone]
                                [--skip create export import]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import OUT, FiftyOneChild
from bench.query import finish_build, insert_chunk
from metalake import Client
from metalake.client import dataset_imports
from metalake.ids import new_id
from metalake.lake import ingest
from metalake.lake.annotations import uploads
from metalake.lake.lake import lake_database
from metalake.lake.names import unique_name
from metalake.store.database import Database
from metalake.store.schema import collections, labels, operations

WIDTH, HEIGHT = 64, 48
LABELS = ["car", "person", "bus", "truck", "bicycle", "sign", "light", "dog"]
MACHINE, HUMAN = "machine-det", "human-gt"
SPLIT_INFO = {"train": 80, "validation": 10, "test": 10}
LABEL_QUERY = "annotation.label IN [car, bus]"
CHUNK = 20_000
STORAGE = "bench"

FIFTYONE_CHILD = """
import json, shutil, sys, tempfile, time
from pathlib import Path
import fiftyone as fo
name, work = sys.argv[1], sys.argv[2]
SPLITS = ("train", "validation", "test")
def load(dataset, folder):
    # Our COCO folder, one split at a time: what from_dir does, for each instances file.
    for split in SPLITS:
        labels = Path(folder) / "annotations" / f"instances_{split}.json"
        if labels.exists():
            dataset.add_dir(dataset_type=fo.types.COCODetectionDataset,
                            data_path=str(Path(folder) / "images" / split),
                            labels_path=str(labels), label_types="detections",
                            label_field="ground_truth", tags=split, progress=False)
def boxes(dataset):
    return dataset.count("ground_truth.detections")
def answer(**figures):
    print(json.dumps(figures), flush=True)
for line in sys.stdin:
    command, _, arg = line.strip().partition(" ")
    if command == "build":
        if name in fo.list_datasets():
            dataset = fo.load_dataset(name)
            answer(seconds=0.0, reused=True, boxes=boxes(dataset), samples=len(dataset))
            continue
        start = time.perf_counter()
        dataset = fo.Dataset(name, persistent=True)
        load(dataset, arg)
        answer(seconds=time.perf_counter() - start, reused=False, boxes=boxes(dataset),
               samples=len(dataset))
    elif command == "export":
        dataset = fo.load_dataset(name)
        target = tempfile.mkdtemp(dir=work, prefix="fo_export_")
        start = time.perf_counter()
        dataset.export(export_dir=target, dataset_type=fo.types.COCODetectionDataset,
                       label_field="ground_truth", export_media=False, progress=False)
        seconds = time.perf_counter() - start
        written = len(json.loads((Path(target) / "labels.json").read_text())["annotations"])
        shutil.rmtree(target)
        answer(seconds=seconds, boxes=written)
    elif command == "import":
        start = time.perf_counter()
        dataset = fo.Dataset()
        load(dataset, arg)
        seconds = time.perf_counter() - start
        answer(seconds=seconds, boxes=boxes(dataset), samples=len(dataset))
        dataset.delete()
"""


def tiny_jpeg() -> bytes:
    """One small JPEG; the files of the lake are it plus a distinct 8-byte trailer."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), (90, 140, 200)).save(out, "JPEG", quality=80)
    return out.getvalue()


def file_bytes(base: bytes, index: int) -> bytes:
    return base + index.to_bytes(8, "big")


def file_name(index: int) -> str:
    return f"img_{index:06d}.jpg"


def image_facts(rng: random.Random) -> list[tuple[str, float, float, float, float, float | None]]:
    """K boxes of one image: label, x, y, w, h (pixels) and a confidence for machine boxes."""
    shapes = []
    for position in range(5):
        w, h = rng.randint(4, WIDTH // 2), rng.randint(4, HEIGHT // 2)
        x, y = rng.randint(0, WIDTH - w), rng.randint(0, HEIGHT - h)
        label = rng.choices(LABELS, weights=(30, 20, 10, 10, 10, 8, 7, 5))[0]
        confidence = round(rng.random(), 3) if position < 3 else None
        shapes.append((label, float(x), float(y), float(w), float(h), confidence))
    return shapes


def build(db: Database, n: int) -> float:
    """Insert n image items in one collection with 3 machine and 2 human boxes each."""
    started = time.perf_counter()
    base = tiny_jpeg()
    collection_id = new_id()
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    with db.write() as conn:
        conn.execute(
            collections.insert().values(
                id=collection_id, name=STORAGE, content_type="image", storage_name=STORAGE,
                metadata={}, tags=[], created=now, modified=now,
            )
        )  # fmt: skip
        conn.execute(
            labels.insert(),
            [
                {"id": i + 1, "name": name, "color": "#000000", "created": now}
                for i, name in enumerate(LABELS)
            ],
        )
        conn.execute(
            operations.insert(),
            [
                {"id": 1, "name": MACHINE, "is_model_run": True, "created": now, "modified": now},
                {"id": 2, "name": HUMAN, "is_model_run": False, "created": now, "modified": now},
            ],
        )
    label_ids = {name: i + 1 for i, name in enumerate(LABELS)}
    rng = random.Random(18)
    annotation_id = 0
    for start in range(0, n, CHUNK):
        item_rows, members, shapes, counts = [], [], [], []
        for index in range(start, min(n, start + CHUNK)):
            item_id = uuid.uuid4().hex[:24]
            name = file_name(index)
            data = file_bytes(base, index)
            item_rows.append(
                (item_id, unique_name(STORAGE, name), name, "image", collection_id, "lake",
                 f"{STORAGE}/{name}", len(data), hashlib.sha256(data).hexdigest(), "image/jpeg",
                 WIDTH, HEIGHT, stamp, stamp, index + 1)
            )  # fmt: skip
            members.append((collection_id, item_id, stamp))
            facts = image_facts(rng)
            for position, (label, x, y, w, h, confidence) in enumerate(facts):
                annotation_id += 1
                operation = 1 if position < 3 else 2
                shapes.append(
                    (annotation_id, item_id, operation, "rectangle", label_ids[label],
                     x, y, w, h, confidence)
                )  # fmt: skip
            for label, times in Counter(f[0] for f in facts).items():
                counts.append((item_id, label_ids[label], times))
        insert_chunk(db, item_rows, members, [], [], shapes, counts)
        print(f"  built {min(n, start + CHUNK)} items", file=sys.stderr)
    finish_build(db, annotation_id, len(LABELS), n)
    return time.perf_counter() - started


def cached_lake(data: Path, n: int) -> Path:
    """The lake of n images under `data`, built on first use."""
    home = data / f"lake_{n}"
    marker = home / "built"
    if marker.exists():
        print(f"reusing the lake in {home} (built in {marker.read_text()} s)", file=sys.stderr)
        return home
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    db = lake_database(home, None)
    seconds = build(db, n)
    db.close()
    marker.write_text(f"{seconds:.1f}")
    print(f"built the lake in {home} in {seconds:.1f} s", file=sys.stderr)
    return home


def import_folder(data: Path, n: int, coco: Path, subset: int) -> Path:
    """Our COCO export at `coco` cut to about `subset` of its n images (the first of each
    split, in proportion), with each image's bytes under images/<split>/; kept for reruns."""
    folder = data / f"coco_import_{n}_{subset}"
    if (folder / "complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "annotations").mkdir(parents=True)
    base = tiny_jpeg()
    for labels_file in sorted((coco / "annotations").glob("instances_*.json")):
        split = labels_file.stem.removeprefix("instances_")
        document = json.loads(labels_file.read_bytes())
        kept = document["images"][: -(-len(document["images"]) * subset // n)]
        ids = {image["id"] for image in kept}
        document["images"] = kept
        document["annotations"] = [a for a in document["annotations"] if a["image_id"] in ids]
        (folder / "annotations" / labels_file.name).write_text(json.dumps(document))
        target = folder / "images" / split
        target.mkdir(parents=True)
        for image in kept:
            index = int(image["file_name"].rsplit("_", 1)[1].split(".")[0])
            (target / image["file_name"]).write_bytes(file_bytes(base, index))
    (folder / "complete").write_text("")
    return folder


class PhaseTimes:
    """Seconds spent in named functions of the lake, summed over calls from any thread, by
    wrapping the module attributes the import path calls them through."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    @contextmanager
    def wrapping(self, targets: dict[str, tuple[Any, str]]) -> Iterator[None]:
        originals = [(module, attr, getattr(module, attr)) for module, attr in targets.values()]
        for (label, (module, attr)), (_, _, original) in zip(
            targets.items(), originals, strict=True
        ):
            setattr(module, attr, self._timed(label, original))
        try:
            yield
        finally:
            for module, attr, original in originals:
                setattr(module, attr, original)

    def _timed(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start

        return timed


READER = "import_reader"
"""The name `import_dataset` calls its format's reader through (timed by wrapping it)."""
READ, START = "client: read the COCO folder", "client: start the upload (plan, queue the job)"
JOB_PHASES = {
    "job: annotation step (whole)": (ingest, "apply_upload_annotations"),
    "job: annotation step, load the job's shapes": (uploads, "load_payload"),
    "job: annotation step, look up the job's files": (uploads, "_job_files"),
    "job: annotation step, place shapes on images": (uploads, "_placed"),
    "job: annotation step, replace the operation's rows": (uploads, "replace_annotations"),
}


def our_import(data: Path, folder: Path, round_: int) -> dict[str, Any]:
    """`import_dataset` of `folder` into a fresh lake until its job completes, with phases."""
    home = data / f"import_lake_{round_}"
    shutil.rmtree(home, ignore_errors=True)
    phases = PhaseTimes()
    try:
        with Client(home=home, show_progress=False) as client:
            transport = client._transport
            upload = transport.upload
            reader_of = getattr(dataset_imports, READER)

            def reader_timed(format: str) -> Any:
                read = reader_of(format)

                def timed_read(*args: Any) -> Any:
                    start = time.perf_counter()
                    try:
                        return read(*args)
                    finally:
                        phases.seconds[READ] += time.perf_counter() - start

                return timed_read

            def upload_timed(request: Any) -> Any:
                start = time.perf_counter()
                try:
                    return upload(request)
                finally:
                    phases.seconds[START] += time.perf_counter() - start

            transport.upload = upload_timed  # type: ignore[method-assign]
            setattr(dataset_imports, READER, reader_timed)
            try:
                with phases.wrapping(JOB_PHASES):
                    start = time.perf_counter()
                    answer = client.import_dataset(str(folder), "COCO", "imported", HUMAN)
                    called = time.perf_counter() - start
                    status = client.wait_for_job_complete(answer["job_id"], poll_interval=0.05)
                    total = time.perf_counter() - start
            finally:
                setattr(dataset_imports, READER, reader_of)
                transport.upload = upload  # type: ignore[method-assign]
            job = client.get_job(answer["job_id"])
            assert status["is_success"], job
            count = client.get_item_count_from_metalake("image", "", {})
    finally:
        shutil.rmtree(home, ignore_errors=True)
    job_s = datetime.fromisoformat(job["finished"]) - datetime.fromisoformat(job["started"])
    return {
        "seconds": total,
        "call": called,
        "job": job_s.total_seconds(),
        "files": answer["file_count"],
        "boxes": answer["annotation_count"],
        "items": count,
        "phases": dict(phases.seconds),
    }


def median_spread(values: list[float]) -> str:
    return f"{statistics.median(values):9.3f} ({min(values):.3f}-{max(values):.3f})"


def table(title: str, rows: dict[str, tuple[list[float], int | None]]) -> None:
    """Seconds (median, min-max) of each row, and boxes/s of the median where boxes are given."""
    print(f"\n{title}")
    print(f"{'':<60} {'seconds, median (min-max)':>27} {'boxes':>8} {'boxes/s':>10}")
    for name, (values, boxes) in rows.items():
        line = f"{name:<60} {median_spread(values):>27}"
        if boxes:
            line += f" {boxes:8d} {boxes / statistics.median(values):10.0f}"
        print(line)


def load() -> str:
    return "load " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("/work/h_dsbench_data"))
    parser.add_argument(
        "--subset",
        type=int,
        default=4000,
        help="images of the COCO folder both imports read and FiftyOne's dataset holds",
    )
    parser.add_argument("--no-fiftyone", action="store_true")
    parser.add_argument("--skip", nargs="*", default=[], choices=("create", "export", "import"))
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    args.data.mkdir(parents=True, exist_ok=True)
    work = args.data / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    home = cached_lake(args.data, args.images)
    boxes = args.images * 5
    results: dict[str, Any] = {"images": args.images, "boxes": boxes, "loads": [load()]}
    fo_child = (
        nullcontext(None)
        if args.no_fiftyone
        else FiftyOneChild(
            FIFTYONE_CHILD,
            f"dsbench_{args.images}_{args.subset}",
            str(work),
            database_dir=args.data / "fo_db",
        )
    )
    with Client(home=home, show_progress=False) as client:
        for old in client.list_datasets():
            if old["dataset_name"].startswith("bench-"):
                for version in client.get_dataset(old["dataset_name"])["versions"]:
                    client.delete_dataset_version(version["version_id"])
        if "create" not in args.skip:
            results["create"] = measure_create(client, args.rounds, boxes)
        version = client.create_dataset("bench-export", split_info=SPLIT_INFO)
        assert version["annotation_count"] == boxes, version
        coco = work / "first_coco"
        first = client.download_dataset(
            version["version_id"], "COCO", str(coco), is_media_include=False
        )
        folder = import_folder(args.data, args.images, Path(first["path"]), args.subset)
        subset_boxes = sum(
            len(json.loads(path.read_bytes())["annotations"])
            for path in (folder / "annotations").glob("*.json")
        )
        results["subset"] = {"folder": str(folder), "boxes": subset_boxes}
        shutil.rmtree(coco)
        with fo_child as child:
            fo = child if child is not None and child.process is not None else None
            if fo is not None:
                fo.send(f"build {folder}")
                built = fo.read()
                print(f"FiftyOne dataset: {built}", file=sys.stderr)
                assert built["boxes"] == subset_boxes, built
                results["fiftyone_build"] = built
            if "export" not in args.skip:
                results["export"] = measure_export(client, version["version_id"], fo, work,
                                                   args.rounds, boxes, subset_boxes)  # fmt: skip
            if "import" not in args.skip:
                results["import"] = measure_import(args.data, folder, fo, args.rounds, subset_boxes)
        client.delete_dataset_version(version["version_id"])
    results["loads"].append(load())
    summary(results, boxes)
    (OUT / "datasets.json").write_text(json.dumps(results, indent=1))
    shutil.rmtree(work, ignore_errors=True)


def measure_create(client: Client, rounds: int, boxes: int) -> dict[str, Any]:
    """`create_dataset` of the whole lake and of the label query, `rounds` times each."""
    figures: dict[str, list[float]] = {"whole": [], "label query": []}
    counts: dict[str, Any] = {}
    for round_ in range(rounds):
        for kind, query, operation_ids in (
            ("whole", "", []),
            ("label query", LABEL_QUERY, [HUMAN]),
        ):
            start = time.perf_counter()
            version = client.create_dataset(
                f"bench-{round_}",
                query=query,
                operation_id_list=operation_ids,
                split_info=SPLIT_INFO,
            )
            figures[kind].append(time.perf_counter() - start)
            counts[kind] = {
                "files": version["file_count"],
                "boxes": version["annotation_count"],
                "splits": {k: v["file_count"] for k, v in version["splits"].items()},
            }
            client.delete_dataset_version(version["version_id"])
            print(f"  create {kind} round {round_ + 1}: {figures[kind][-1]:.2f} s", file=sys.stderr)
    assert counts["whole"]["boxes"] == boxes, counts
    table(
        f"create_dataset, {rounds} rounds ({load()})",
        {
            f"whole lake: {counts['whole']['files']} files": (
                figures["whole"], counts["whole"]["boxes"]
            ),
            f"{LABEL_QUERY} + [{HUMAN}]: {counts['label query']['files']} files": (
                figures["label query"], counts["label query"]["boxes"]
            ),
        },
    )  # fmt: skip
    return {"seconds": figures, "counts": counts}


def measure_export(
    client: Client,
    version_id: str,
    fo: FiftyOneChild | None,
    work: Path,
    rounds: int,
    boxes: int,
    fo_boxes: int,
) -> dict[str, Any]:
    """COCO and YOLO downloads without media, and FiftyOne's COCO export, interleaved."""
    figures: dict[str, list[float]] = {"COCO": [], "YOLO": [], "fiftyone COCO": []}
    for round_ in range(rounds):
        for kind in ("COCO", "YOLO"):
            target = work / f"export_{kind}_{round_}"
            start = time.perf_counter()
            answer = client.download_dataset(version_id, kind, str(target), is_media_include=False)
            figures[kind].append(time.perf_counter() - start)
            assert answer["is_success"] and answer["annotation_count"] == boxes, answer
            shutil.rmtree(target)
            print(f"  export {kind} round {round_ + 1}: {figures[kind][-1]:.2f} s", file=sys.stderr)
        if fo is not None:
            fo.send("export")
            theirs = fo.read()
            assert theirs["boxes"] == fo_boxes, theirs
            figures["fiftyone COCO"].append(theirs["seconds"])
            print(
                f"  fiftyone export round {round_ + 1}: {theirs['seconds']:.2f} s", file=sys.stderr
            )
    rows: dict[str, tuple[list[float], int | None]] = {
        "metalake download_dataset COCO, no media": (figures["COCO"], boxes),
        "metalake download_dataset YOLO, no media": (figures["YOLO"], boxes),
    }
    if figures["fiftyone COCO"]:
        rows["fiftyone export COCODetectionDataset, export_media=False"] = (
            figures["fiftyone COCO"],
            fo_boxes,
        )
    table(f"export, {rounds} rounds ({load()})", rows)
    return {"seconds": figures, "boxes": boxes, "fiftyone_boxes": fo_boxes}


def measure_import(
    data: Path, folder: Path, fo: FiftyOneChild | None, rounds: int, boxes: int
) -> dict[str, Any]:
    """Our COCO import into a fresh lake and FiftyOne's from_dir of the same folder."""
    ours: list[dict[str, Any]] = []
    theirs: list[float] = []
    for round_ in range(rounds):
        figures = our_import(data, folder, round_)
        assert (figures["boxes"], figures["items"]) == (boxes, figures["files"]), figures
        ours.append(figures)
        print(f"  import round {round_ + 1}: {figures['seconds']:.2f} s", file=sys.stderr)
        if fo is not None:
            fo.send(f"import {folder}")
            answer = fo.read()
            assert answer["boxes"] == boxes, answer
            theirs.append(answer["seconds"])
            print(f"  fiftyone import round {round_ + 1}: {theirs[-1]:.2f} s", file=sys.stderr)
    rows: dict[str, tuple[list[float], int | None]] = {
        "metalake import_dataset COCO, until the job completes": (
            [f["seconds"] for f in ours],
            boxes,
        ),
        "  of which the call (read, check, start the job)": ([f["call"] for f in ours], None),
        "  of which the job (from its started/finished)": ([f["job"] for f in ours], None),
    }
    for phase in (READ, START, *JOB_PHASES):
        rows[f"  {phase}"] = ([f["phases"].get(phase, 0.0) for f in ours], None)
    if theirs:
        rows["fiftyone from_dir COCODetectionDataset (registers paths)"] = (theirs, boxes)
    table(f"import of {ours[0]['files']} files, {rounds} rounds ({load()})", rows)
    return {"ours": ours, "fiftyone": theirs, "boxes": boxes}


def summary(results: dict[str, Any], boxes: int) -> None:
    """Each target against its median figures (ratios of boxes/s, since FiftyOne may hold a
    subset of the boxes)."""
    print(f"\nsummary ({results['images']} images, {boxes} boxes; {', '.join(results['loads'])})")
    if "create" in results:
        for kind, values in results["create"]["seconds"].items():
            median = statistics.median(values)
            print(f"  create_dataset {kind}: {median:.2f} s (target < 5 s: {verdict(median < 5)})")
    if "export" in results:
        export = results["export"]
        seconds = export["seconds"]
        for kind in ("COCO", "YOLO"):
            rate = export["boxes"] / statistics.median(seconds[kind])
            line = f"  export {kind}: {rate:,.0f} boxes/s"
            if seconds["fiftyone COCO"]:
                theirs = export["fiftyone_boxes"] / statistics.median(seconds["fiftyone COCO"])
                line += f", FiftyOne {theirs:,.0f} boxes/s: {rate / theirs:.1f}x "
                line += f"(target >= 20x: {verdict(rate / theirs >= 20)})"
            print(line)
    if "import" in results:
        done = results["import"]
        rate = done["boxes"] / statistics.median(f["seconds"] for f in done["ours"])
        line = f"  import COCO: {rate:,.0f} boxes/s"
        if done["fiftyone"]:
            theirs = done["boxes"] / statistics.median(done["fiftyone"])
            line += f", FiftyOne from_dir {theirs:,.0f} boxes/s: {rate / theirs:.1f}x "
            line += f"(target >= 20x: {verdict(rate / theirs >= 20)})"
        print(line)


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


if __name__ == "__main__":
    main()
