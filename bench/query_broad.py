"""The broad profile of the query benchmark (issue 16): content shaped like FiftyOne's baseline.

`bench/query.py --profile broad` runs it. The selective profile asks for 0.1-3.5% of a lake
where most labels, cameras and tags are rare; this one asks for 0.1% to 90% of a lake where
everything is common: 6 labels (car in a third of the boxes), 4 cameras, 4 tags, 5 machine
boxes on every image and 3 human ones on half. Counting and paging then read most of an index,
and a collection scope (uploaded, or mostly added) joins its members against large term sets.

Per item: a name (1 in 1000 contains `_night_`), an upload date over two years (change date =
upload date), metadata `camera` (CAM_0..CAM_3), `speed` (0-200) and `shot` (an ISO date), 2 of
4 tags, 5 rectangles of operation `model-a` (machine, confidence uniform 0-1) and, on half the
items, 3 of `human-b` (human). Two collections: `bench` holds the 90% uploaded to it (index % 10
!= 9), `broad-added` the other 10% uploaded to it plus 40% of the lake added to it (index % 10 <
4, all uploaded to `bench`; rows in `collection_items` only, as `add_to_collection` leaves them).

Built with the store's bulk insert (as the selective profile), or with `--sdk-build N` through
the embedded SDK (tiny real JPEGs, a per-file metadata JSON, two annotation uploads and an
add-to-collection), so the statistics and plans a real upload leaves are measured.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import OUT, FiftyOneChild
from bench.query import explained, finish_build, insert_chunk, postgres_database, stored_time
from metalake import Client
from metalake.ids import new_id
from metalake.lake.lake import lake_database
from metalake.lake.selection import ItemSelection
from metalake.store.database import Database
from metalake.store.schema import (
    collections,
    labels,
    operations,
)

CHUNK = 50_000
START = datetime(2023, 1, 1, tzinfo=UTC)
DAYS = 730
LABEL_WEIGHTS = {"car": 0.35, "person": 0.2, "truck": 0.15, "bicycle": 0.1, "bus": 0.1, "dog": 0.1}
CAMERAS = [f"CAM_{i}" for i in range(4)]
TAGS = ["day", "night", "city", "highway"]
UPLOADED, ADDED = "bench", "broad-added"
SCOPES = ("lake", UPLOADED, ADDED)
FACET_FIELDS = ["label", "tag", "metadata.camera"]
FACET_QUERIES = {"annotation.label = car": "annotation.label = car", "no query": ""}
BOX = (1.0, 2.0, 10.0, 20.0)
"""Every rectangle (x, y, w, h in pixels): inside the SDK build's 64x48 images."""
IMAGE_SIZE = (64, 48)
DATE_WINDOW = ("2024-01-01", "2024-06-30")
"""The date-range query's upload dates: a quarter of the two years (of the bulk build)."""
ADD_QUERY = (
    f'collection = {UPLOADED} AND (name ~ "*0.jpg" OR name ~ "*1.jpg" OR name ~ "*2.jpg" '
    'OR name ~ "*3.jpg")'
)
"""The SDK build's add-to-collection: the items whose index ends in 0-3 (40% of the lake)."""


def queries(window: tuple[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """The broad queries (name, text, filter), with their expected share of the lake."""
    return [
        ("metadata equality", "metadata.camera = CAM_1", {}),  # 25%
        ("metadata range", "metadata.speed >= 180", {}),  # 10%
        ("tag", "tags = night", {}),  # 50%
        ("label of one operation", "annotation(label = truck AND operation = model-a)", {}),  # 56%
        ("label + confidence", "annotation(label = car AND confidence >= 0.9)", {}),  # 16%
        ("count(...) >= 5", "count(annotation.label = car) >= 5", {}),  # 5.6%
        ("name wildcard", 'name ~ "*_night_*"', {}),  # 0.1%
        (
            "date range + operation",
            "annotation.operation = human-b",
            {"from_date": window[0], "to_date": window[1]},
        ),  # 12.4% (25% of the dates, half the items)
        ("OR of two labels", "annotation.label = person OR annotation.label = bus", {}),  # 89%
        ("NOT label", "NOT annotation.label = truck", {}),  # 36%
    ]


def item_facts(rng: random.Random, index: int) -> dict[str, Any]:
    """One item's generated fields, the same for the lake, the SDK build and FiftyOne."""
    created = START + timedelta(seconds=rng.randrange(DAYS * 86400))
    names, weights = list(LABEL_WEIGHTS), list(LABEL_WEIGHTS.values())
    machine = rng.choices(names, weights, k=5)
    human = rng.choices(names, weights, k=3) if rng.random() < 0.5 else []
    night = "_night_" if (index // 10) % 1000 == 7 else "_"  # runs of 10: every collection
    return {
        "index": index,
        "name": f"img{night}{index:07d}.jpg",
        "collection": ADDED if index % 10 == 9 else UPLOADED,
        "added": index % 10 < 4,
        "created": created,
        "camera": rng.choice(CAMERAS),
        "tags": rng.sample(TAGS, 2),
        "speed": round(rng.uniform(0, 200), 2),
        "shot": (START + timedelta(days=rng.randrange(DAYS))).date().isoformat(),
        "machine": machine,
        "confidences": [round(rng.random(), 3) for _ in machine],
        "human": human,
        "size": rng.randrange(5_000, 500_000),
    }


def generate(n: int) -> Iterator[list[dict[str, Any]]]:
    rng = random.Random(16)
    for start in range(0, n, CHUNK):
        yield [item_facts(rng, i) for i in range(start, min(n, start + CHUNK))]


def build(db: Database, n: int) -> float:
    """Insert n items into the two collections with their metadata, tags, annotations and label
    counts through the store's bulk path; return the seconds taken."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    ids = {UPLOADED: new_id(), ADDED: new_id()}
    label_ids = {name: i + 1 for i, name in enumerate(LABEL_WEIGHTS)}
    with db.write() as conn:
        dialect = conn.dialect.name
        conn.execute(
            collections.insert(),
            [
                {"id": ids[name], "name": name, "content_type": "image", "storage_name": name,
                 "metadata": {}, "tags": [], "created": now, "modified": now}
                for name in ids
            ],
        )  # fmt: skip
        conn.execute(
            labels.insert(),
            [
                {"id": i, "name": name, "color": "#000000", "created": now}
                for name, i in label_ids.items()
            ],
        )
        conn.execute(
            operations.insert(),
            [
                {"id": 1, "name": "model-a", "is_model_run": True, "created": now, "modified": now},
                {"id": 2, "name": "human-b", "is_model_run": False, "created": now,
                 "modified": now},
            ],
        )  # fmt: skip
    annotation_id = 0
    added = stored_time(dialect, now)
    seq_base = 0
    for chunk in generate(n):
        item_rows, members, meta, tags, shapes, counts = [], [], [], [], [], []
        for facts in chunk:
            item_id = uuid.uuid4().hex[:24]
            when = stored_time(dialect, facts["created"])
            home = facts["collection"]
            item_rows.append(
                (item_id, f"{home}_{facts['name']}", facts["name"], "image", ids[home], "lake",
                 f"{home}/{facts['name']}", facts["size"], "0" * 64, "image/jpeg", 64, 48, when,
                 when, seq_base + len(item_rows) + 1)
            )  # fmt: skip
            members.append((ids[home], item_id, added))
            if facts["added"]:
                members.append((ids[ADDED], item_id, added))
            for key in ("camera", "shot"):
                meta.append((item_id, key, json.dumps(facts[key]), facts[key], None))
            speed = facts["speed"]
            meta.append((item_id, "speed", json.dumps(speed), json.dumps(speed), speed))
            tags.extend((item_id, tag) for tag in facts["tags"])
            for label, confidence in zip(facts["machine"], facts["confidences"], strict=True):
                annotation_id += 1
                shapes.append(
                    (annotation_id, item_id, 1, "rectangle", label_ids[label], *BOX, confidence)
                )
            for label in facts["human"]:
                annotation_id += 1
                shapes.append(
                    (annotation_id, item_id, 2, "rectangle", label_ids[label], *BOX, None)
                )
            for label, times in Counter(facts["machine"] + facts["human"]).items():
                counts.append((item_id, label_ids[label], times))
        insert_chunk(db, item_rows, members, meta, tags, shapes, counts)
        seq_base += len(chunk)
        print(f"  built {len(chunk)} more items", file=sys.stderr)
    finish_build(db, annotation_id, len(label_ids), seq_base)
    return time.perf_counter() - started


def sdk_build(client: Client, n: int, work: Path) -> float:
    """Build the same content through the SDK: upload tiny JPEGs with a per-file metadata JSON
    to the two collections, add 40% of the lake to `broad-added`, then upload each operation's
    boxes as one annotation file by unique name. Returns the seconds taken."""
    from PIL import Image

    started = time.perf_counter()
    entries: dict[str, list[dict[str, Any]]] = {UPLOADED: [], ADDED: []}
    shapes: dict[str, list[dict[str, Any]]] = {"model-a": [], "human-b": []}
    for chunk in generate(n):
        for facts in chunk:
            home = facts["collection"]
            folder = work / home
            folder.mkdir(parents=True, exist_ok=True)
            shade = facts["index"] % 4096
            Image.new("RGB", IMAGE_SIZE, (shade % 256, shade // 16, 128)).save(
                folder / facts["name"], quality=80
            )
            entries[home].append(
                {
                    "file": facts["name"],
                    "metadata": {
                        "camera": facts["camera"],
                        "speed": facts["speed"],
                        "shot": facts["shot"],
                        "Tags": facts["tags"],
                    },
                }
            )
            unique = f"{home}_{facts['name']}"
            box = [BOX[0], BOX[1], BOX[2], BOX[3]]
            machine = [
                {"type": "rectangle", "bbox": box, "label": label, "confidence": confidence}
                for label, confidence in zip(facts["machine"], facts["confidences"], strict=True)
            ]
            shapes["model-a"].append({"image": unique, "annotations": machine})
            if facts["human"]:
                human = [{"type": "rectangle", "bbox": box, "label": x} for x in facts["human"]]
                shapes["human-b"].append({"image": unique, "annotations": human})
    print(
        f"  SDK build: {n} JPEGs written in {time.perf_counter() - started:.0f} s", file=sys.stderr
    )
    for home, files in entries.items():
        if not files:
            continue
        meta_path = work / f"metadata-{home}.json"
        meta_path.write_text(json.dumps({"files": files}))
        done = client.upload_files_to_collection(
            str(work / home), "image", home, file_meta_data_json_path=str(meta_path)
        )
        _wait(client, done, f"upload to {home}")
    answer = client.create_or_update_collection(ADDED, "image", ADD_QUERY)
    print(f"  SDK build: {answer['message']}", file=sys.stderr)
    for operation, images in shapes.items():
        path = work / f"annotations-{operation}.json"
        path.write_text(json.dumps({"images": images}))
        done = client.upload_annotations_by_unique_name(
            operation, str(path), False, operation == "model-a"
        )
        _wait(client, done, f"annotations of {operation}")
    return time.perf_counter() - started


def _wait(client: Client, answer: dict[str, Any], what: str) -> None:
    """Wait for a job and stop the bench if it did not do everything."""
    if not answer.get("is_success"):
        raise RuntimeError(f"{what}: {answer}")
    client.wait_for_job_complete(answer["job_id"])
    job = client.get_job(answer["job_id"])
    if job.get("failed") or job.get("skipped"):
        raise RuntimeError(f"{what}: {job}")
    print(f"  SDK build: {what} done ({job.get('done')} done)", file=sys.stderr)


def timed(call: Callable[[], Any], runs: int) -> dict[str, Any]:
    """The first (cold) call's time, p50 and p95 over `runs` calls after it (milliseconds),
    and the last answer."""
    started = time.perf_counter()
    answer = call()
    cold = (time.perf_counter() - started) * 1000
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = call()
        samples.append((time.perf_counter() - started) * 1000)
    return {"cold": cold, **percentiles(samples), "answer": answer}


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": statistics.median(ordered), "p95": p95}


class Scoped:
    """Count and first page of 100 (newest change first) of a query in one scope, as the SDK
    calls them."""

    def __init__(self, client: Client, collection_id: str | None) -> None:
        self.client, self.collection_id = client, collection_id

    def count(self, query: str, filter_: dict[str, Any]) -> int:
        if self.collection_id is None:
            return self.client.get_item_count_from_metalake("image", query, filter_)
        return self.client.get_item_count_from_collection(self.collection_id, query, filter_)

    def page(self, query: str, filter_: dict[str, Any]) -> list[dict[str, Any]]:
        if self.collection_id is None:
            return self.client.get_item_list_from_datalake("image", query, filter_, page_size=100)
        return self.client.get_item_list_from_collection(
            self.collection_id, query, filter_, page_size=100
        )


def scope_ids(client: Client) -> dict[str, str | None]:
    return {
        "lake": None,
        UPLOADED: client.get_collection_id_by_name(UPLOADED),
        ADDED: client.get_collection_id_by_name(ADDED),
    }


def measure(client: Client, runs: int, window: tuple[str, str]) -> list[dict[str, Any]]:
    """Every query in every scope: matches, share of the scope, and count and page times."""
    rows = []
    scopes = scope_ids(client)
    for scope, collection_id in scopes.items():
        scoped = Scoped(client, collection_id)
        total = scoped.count("", {})
        for name, query, filter_ in queries(window):
            count = timed(lambda q=query, f=filter_, s=scoped: s.count(q, f), runs)
            page = timed(lambda q=query, f=filter_, s=scoped: s.page(q, f), runs)
            rows.append(
                {
                    "scope": scope,
                    "query": name,
                    "matches": count["answer"],
                    "share": count["answer"] / total if total else 0.0,
                    "page": len(page["answer"]),
                    **{f"count_{k}": v for k, v in count.items() if k != "answer"},
                    **{f"page_{k}": v for k, v in page.items() if k != "answer"},
                }
            )
            print(
                f"  {scope} / {name}: {count['answer']} matches, count p95 {count['p95']:.1f} ms",
                file=sys.stderr,
            )
    return rows


def measure_facets(client: Client, runs: int) -> list[dict[str, Any]] | None:
    """Facets of label, tag and camera under a broad query and under none, in each scope, or
    None if the client has no `get_facets` yet."""
    get_facets = getattr(client, "get_facets", None)
    if get_facets is None:
        print("facets: not available (the client has no get_facets)")
        return None
    rows = []
    for scope, collection_id in scope_ids(client).items():
        for name, query in FACET_QUERIES.items():
            result = timed(
                lambda q=query, c=collection_id: get_facets(
                    collection_id=c, content_type="image", query=q, fields=FACET_FIELDS, top=20
                ),
                runs,
            )
            answer = result.pop("answer")
            top = {
                field: [(v["value"], v["file_count"]) for v in values[:3]]
                for field, values in answer["facets"].items()
            }
            rows.append(
                {"scope": scope, "query": name, "file_count": answer["file_count"], "top": top,
                 **result}
            )  # fmt: skip
    return rows


def plans(db: Database, path: Path, window: tuple[str, str]) -> None:
    """The plan of each query's plain SQL count and first page in each scope (what the lake's
    fallback runs; a term's bitmap is built by the same condition)."""
    lines = []
    with db.read() as conn:
        found = {
            name: conn.execute(
                sa.select(collections.c.id).where(collections.c.name == name)
            ).scalar_one()
            for name in (UPLOADED, ADDED)
        }
        for scope in SCOPES:
            for name, query, filter_ in queries(window):
                if scope == "lake":
                    selection = ItemSelection.of("image", query=query, filter=filter_)
                else:
                    selection = ItemSelection.of(
                        collection_id=found[scope], query=query, filter=filter_
                    )
                title = f"{scope} / {name}: {query} {filter_ or ''}"
                lines += explained(conn, selection, title)
    path.write_text("\n".join(lines))


def run_backend(
    label: str, home: Path, url: str | None, n: int, runs: int, sdk: bool
) -> dict[str, Any]:
    """Build (bulk or SDK), write the plans, time the queries and facets."""
    print(f"{label}: building {n} items{' through the SDK' if sdk else ''}", file=sys.stderr)
    window = DATE_WINDOW
    if sdk:
        today = datetime.now(UTC).date().isoformat()
        window = (today, today)  # the SDK stamps uploads with today: the window holds them all
        with Client(home=home, database_url=url, show_progress=False) as client:
            seconds = sdk_build(client, n, home.parent / f"{label}-sdk-files")
    elif url is None and (home / f"built-{n}").exists():
        seconds = float((home / f"built-{n}").read_text())
        print(f"{label}: reusing the lake built in {home}", file=sys.stderr)
    else:
        db = lake_database(home, url)
        seconds = build(db, n)
        db.close()
        if url is None:
            (home / f"built-{n}").write_text(f"{seconds:.1f}")
    db = lake_database(home, url)
    kind = "sdk" if sdk else "bulk"
    plans(db, OUT / f"query-broad-plans-{label}-{kind}-{n}.txt", window)
    db.close()
    with Client(home=home, database_url=url, show_progress=False) as client:
        rows = measure(client, runs, window)
        facets = measure_facets(client, runs)
    return {"build": seconds, "window": window, "rows": rows, "facets": facets}


def table(title: str, result: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(
        f"{'scope':12} {'query':24} {'matches':>8} {'share':>6} {'count cold':>10} {'p50':>7} "
        f"{'p95':>7} {'page cold':>9} {'p50':>7} {'p95':>7}"
    )
    for row in result["rows"]:
        print(
            f"{row['scope']:12} {row['query']:24} {row['matches']:>8} {row['share']:>6.1%} "
            f"{row['count_cold']:>10.1f} {row['count_p50']:>7.1f} {row['count_p95']:>7.1f} "
            f"{row['page_cold']:>9.1f} {row['page_p50']:>7.1f} {row['page_p95']:>7.1f}"
        )
    if result["facets"]:
        print(f"\n{'facets (label, tag, camera)':28} {'scope':12} {'files':>8} {'cold':>7} "
              f"{'p50':>7} {'p95':>7}")  # fmt: skip
        for row in result["facets"]:
            print(
                f"{row['query']:28} {row['scope']:12} {row['file_count']:>8} {row['cold']:>7.1f} "
                f"{row['p50']:>7.1f} {row['p95']:>7.1f}"
            )


FIFTYONE_CHILD = """
import json, sys, time
from datetime import datetime
import fiftyone as fo
from fiftyone import ViewField as F
rows = sys.argv[1]
dataset = fo.Dataset()
start = time.perf_counter()
batch = []
def box(label, confidence=None):
    return fo.Detection(label=label, bounding_box=[0.1, 0.1, 0.2, 0.2], confidence=confidence)
with open(rows) as source:
    for line in source:
        r = json.loads(line)
        created = datetime.fromisoformat(r["created"])
        batch.append(fo.Sample(
            filepath="/bench/" + r["name"], tags=r["tags"], camera=r["camera"],
            speed=r["speed"], shot=r["shot"], created=created, modified=created,
            predictions=fo.Detections(detections=[
                box(l, c) for l, c in zip(r["machine"], r["confidences"])]),
            ground_truth=fo.Detections(detections=[box(l) for l in r["human"]])))
        if len(batch) >= 10000:
            dataset.add_samples(batch, progress=False)
            batch.clear()
if batch:
    dataset.add_samples(batch, progress=False)
load = time.perf_counter() - start
start = time.perf_counter()
for field in ("camera", "speed", "tags", "created", "modified", "filepath",
              "predictions.detections.label", "ground_truth.detections.label"):
    dataset.create_index(field)
indexing = time.perf_counter() - start
def labelled(name):
    return (F("predictions.detections.label").contains(name)
            | F("ground_truth.detections.label").contains(name))
def count_of(name):
    return (F("predictions.detections").filter(F("label") == name).length()
            + F("ground_truth.detections").filter(F("label") == name).length())
window = [datetime.fromisoformat(d) for d in sys.argv[2:4]]
views = {
    "metadata equality": dataset.match(F("camera") == "CAM_1"),
    "metadata range": dataset.match(F("speed") >= 180),
    "tag": dataset.match_tags("night"),
    "label of one operation": dataset.match(F("predictions.detections.label").contains("truck")),
    "label + confidence": dataset.match(F("predictions.detections").filter(
        (F("label") == "car") & (F("confidence") >= 0.9)).length() > 0),
    "count(...) >= 5": dataset.match(count_of("car") >= 5),
    "name wildcard": dataset.match(F("filepath").re_match(".*_night_.*")),
    "date range + operation": dataset.match(
        (F("created") >= window[0]) & (F("created") < window[1])
        & (F("ground_truth.detections").length() > 0)),
    "OR of two labels": dataset.match(labelled("person") | labelled("bus")),
    "NOT label": dataset.match(~labelled("truck")),
}
PAGE = ["id", "filepath", "tags", "camera", "speed", "shot", "created", "modified"]
def page(view):
    return view.sort_by("modified", reverse=True).limit(100).values(PAGE)
def timed(call, runs):
    samples, answer = [], None
    for _ in range(runs):
        t = time.perf_counter()
        answer = call()
        samples.append((time.perf_counter() - t) * 1000)
    return samples, answer
print(json.dumps({"load": load, "indexing": indexing, "items": len(dataset)}), flush=True)
for command in sys.stdin:
    runs = int(command)
    result = {}
    for name, view in views.items():
        counts, count = timed(view.count, runs)
        pages, first = timed(lambda: page(view), runs)
        result[name] = {"matches": count, "page": len(first[0]), "count": counts, "page_ms": pages}
    print(json.dumps(result), flush=True)
"""


def fiftyone_rows(n: int) -> Path:
    """The same generated items as JSON lines, for the FiftyOne child."""
    path = OUT / f"query-broad-items-{n}.jsonl"
    if path.exists():
        return path
    with path.open("w") as out:
        for chunk in generate(n):
            for facts in chunk:
                out.write(json.dumps({**facts, "created": facts["created"].isoformat()}) + "\n")
    return path


def compare_fiftyone(home: Path, n: int, runs: int) -> dict[str, Any] | None:
    """MetaLake (SQLite, lake scope) and FiftyOne on the same n items, in interleaved rounds:
    a warm-up call of each view on both sides, then at least 3 rounds of MetaLake then FiftyOne,
    each timing every query's count and first page runs/rounds times."""
    rounds = 3
    per_round = max(1, math.ceil(runs / rounds))
    end = (date.fromisoformat(DATE_WINDOW[1]) + timedelta(days=1)).isoformat()
    with FiftyOneChild(FIFTYONE_CHILD, str(fiftyone_rows(n)), DATE_WINDOW[0], end) as child:
        if child.process is None:
            return None
        loaded = child.read()
        print(
            f"FiftyOne: loaded {loaded['items']} items in {loaded['load']:.0f} s", file=sys.stderr
        )
        ours: dict[str, dict[str, Any]] = {}
        theirs: dict[str, dict[str, Any]] = {}
        with Client(home=home, show_progress=False) as client:
            scoped = Scoped(client, None)

            def our_round(k: int) -> None:
                for name, query, filter_ in queries(DATE_WINDOW):
                    row = ours.setdefault(name, {"count": [], "page": []})
                    for _ in range(k):
                        started = time.perf_counter()
                        row["matches"] = scoped.count(query, filter_)
                        row["count"].append((time.perf_counter() - started) * 1000)
                    for _ in range(k):
                        started = time.perf_counter()
                        scoped.page(query, filter_)
                        row["page"].append((time.perf_counter() - started) * 1000)

            def their_round(k: int) -> dict[str, Any]:
                child.send(str(k))
                return child.read()

            # Warm-up on both sides, then drop those samples.
            our_round(1)
            cold = their_round(1)
            ours = {
                name: {"matches": row["matches"], "count": [], "page": [],
                       "count_cold": row["count"][0], "page_cold": row["page"][0]}
                for name, row in ours.items()
            }  # fmt: skip
            for _ in range(rounds):
                our_round(per_round)
                for name, row in their_round(per_round).items():
                    kept = theirs.setdefault(name, {"count": [], "page": []})
                    kept["matches"] = row["matches"]
                    kept["count"] += row["count"]
                    kept["page"] += row["page_ms"]
        for name, row in theirs.items():
            row["count_cold"] = cold[name]["count"][0]
            row["page_cold"] = cold[name]["page_ms"][0]
    return {
        "items": loaded["items"],
        "load": loaded["load"],
        "indexing": loaded["indexing"],
        "metalake": ours,
        "fiftyone": theirs,
        "rounds": rounds,
        "per_round": per_round,
    }


def fiftyone_table(result: dict[str, Any]) -> None:
    print(
        f"\nMetaLake SQLite vs FiftyOne, lake scope, {result['items']} items (FiftyOne load "
        f"{result['load']:.0f} s, indexes {result['indexing']:.0f} s), {result['rounds']} "
        f"interleaved rounds of {result['per_round']}, ms p50 / p95"
    )
    print(f"{'query':24} {'matches':>8} {'ML count':>13} {'FO count':>13} {'ML page':>13} "
          f"{'FO page':>13} {'FO/ML p50 count':>15} {'page':>6}")  # fmt: skip
    for name, ours in result["metalake"].items():
        theirs = result["fiftyone"][name]
        same = "" if theirs["matches"] == ours["matches"] else f" (FO {theirs['matches']}!)"
        cells = []
        for side, key in ((ours, "count"), (theirs, "count"), (ours, "page"), (theirs, "page")):
            p = percentiles(side[key])
            cells.append(f"{p['p50']:.1f} / {p['p95']:.1f}")
        ratio_count = statistics.median(theirs["count"]) / statistics.median(ours["count"])
        ratio_page = statistics.median(theirs["page"]) / statistics.median(ours["page"])
        print(f"{name:24} {ours['matches']:>8} {cells[0]:>13} {cells[1]:>13} {cells[2]:>13} "
              f"{cells[3]:>13} {ratio_count:>14.1f}x {ratio_page:>5.1f}x{same}")  # fmt: skip


def main(args: Any) -> None:
    """The broad profile: bulk (or SDK) build on SQLite and PostgreSQL, then FiftyOne."""
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    n = args.sdk_build or args.items
    sdk = bool(args.sdk_build)
    with tempfile.TemporaryDirectory(prefix="metalake-query-broad-") as tmp:
        home = args.keep or Path(tmp) / "sqlite"
        results["sqlite"] = run_backend("sqlite", home, None, n, args.runs, sdk)
        kind = "SDK" if sdk else "bulk"
        table(
            f"SQLite, {n} items ({kind} build {results['sqlite']['build']:.0f} s), ms",
            results["sqlite"],
        )
        pg = None if args.no_postgres else postgres_database()
        if pg is not None:
            url, admin = pg
            try:
                results["postgresql"] = run_backend(
                    "postgresql", Path(tmp) / "pg", url, n, args.runs, sdk
                )
            finally:
                with admin.connect() as conn:
                    name = sa.engine.make_url(url).database
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            table(
                f"PostgreSQL, {n} items ({kind} build {results['postgresql']['build']:.0f} s), ms",
                results["postgresql"],
            )
        if not args.no_fiftyone and not sdk:
            fo_n = args.fiftyone_items or 100_000
            fo_home = home
            if fo_n != n:
                fo_home = Path(tmp) / f"sqlite-{fo_n}"
                print(f"sqlite: building {fo_n} items to compare with FiftyOne", file=sys.stderr)
                db = lake_database(fo_home, None)
                build(db, fo_n)
                db.close()
            compared = compare_fiftyone(fo_home, fo_n, args.fiftyone_runs or args.runs)
            if compared is not None:
                results["fiftyone"] = compared
                fiftyone_table(compared)
    (OUT / f"query-broad{'-sdk' if sdk else ''}.json").write_text(
        json.dumps(results, indent=1, default=str)
    )
