"""Query benchmark: 10 representative queries on a lake of N items (default 1,000,000).

Builds the lake's rows directly with the store's bulk insert (items, collection membership,
4 metadata fields, 2 tags and 5 annotations from two operations per item; no bytes, as no query
reads them), on SQLite and, if $METALAKE_TEST_DATABASE_URL is set, on a fresh PostgreSQL
database. Then times each query through the embedded SDK, as a count and as the first page of
100 (newest change first): p50 and p95 over --runs runs. Plans of both statements go to
bench/out/query-plans-<backend>-<N>.txt.

With FiftyOne (`make bench-deps`), the same data is loaded into a dataset (N items, or
--fiftyone-items if given) with indexes on every queried field, and the equivalent views are
timed the same way; a page reads the same fields ours returns (name, tags, metadata, dates).

Usage: python bench/query.py [--items 1000000] [--runs 20] [--keep DIR] [--no-postgres]
                             [--fiftyone-items N] [--fiftyone-runs N] [--no-fiftyone]

`--profile broad` runs the broad profile instead (bench/query_broad.py: common labels, cameras
and tags, queries matching 0.1% to 90%, collection scopes, facets; `--sdk-build N` builds it
through the SDK).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import OUT, run_fiftyone
from metalake import Client
from metalake.ids import new_id
from metalake.lake.lake import lake_database
from metalake.lake.selection import ItemSelection, SortOrder
from metalake.store.bulk import insert_rows
from metalake.store.database import Database
from metalake.store.schema import (
    annotation_rows,
    collection_items,
    collections,
    item_labels,
    item_metadata,
    item_tags,
    items,
    labels,
    operations,
)

CHUNK = 50_000
START = datetime(2023, 1, 1, tzinfo=UTC)
DAYS = 730
COMMON_LABELS = ["car", "person", "truck", "bicycle", "dog"]
RARE_LABELS = [f"label_{i:03d}" for i in range(195)]
WEATHER = ["sunny", "rain", "fog", "snow", "cloudy"]

QUERIES: list[tuple[str, str, dict[str, Any]]] = [
    ("metadata equality", "metadata.camera = CAM_0042", {}),
    ("metadata range", "metadata.speed >= 199.5", {}),
    ("tag", "tags = tag_042", {}),
    ("label", "annotation.label = label_042", {}),
    ("label + confidence", "annotation(label = label_042 AND confidence >= 0.9)", {}),
    ("count(...) >= 3", "count(annotation.label = car) >= 3", {}),
    ("name wildcard", 'name ~ "*_night_*"', {}),
    (
        "date range + types",
        "",
        {"annotation_types": ["human"], "from_date": "2024-03-01", "to_date": "2024-03-07"},
    ),
    ("OR of two labels", "annotation.label = label_042 OR annotation.label = label_043", {}),
    ("NOT", "metadata.camera = CAM_0042 AND NOT annotation.label = car", {}),
]


def item_facts(rng: random.Random, index: int) -> dict[str, Any]:
    """One item's generated fields, the same for the lake and for FiftyOne."""
    created = START + timedelta(seconds=rng.randrange(DAYS * 86400))
    night = "_night_" if index % 100 == 7 else "_"
    labels_of = []
    for _ in range(5):
        if rng.random() < 0.3:
            labels_of.append(rng.choice(COMMON_LABELS))
        else:
            labels_of.append(rng.choice(RARE_LABELS))
    return {
        "name": f"img{night}{index:07d}.jpg",
        "created": created,
        "camera": f"CAM_{rng.randrange(1000):04d}",
        "weather": rng.choice(WEATHER),
        "speed": round(rng.uniform(0, 200), 2),
        "site": f"site_{rng.randrange(100):02d}",
        "tags": rng.sample(range(200), 2),
        "labels": labels_of,
        "confidences": [round(rng.random(), 3) for _ in range(3)],
        "size": rng.randrange(5_000, 500_000),
    }


def generate(n: int) -> Iterator[list[dict[str, Any]]]:
    rng = random.Random(42)
    for start in range(0, n, CHUNK):
        yield [item_facts(rng, i) for i in range(start, min(n, start + CHUNK))]


def stored_time(dialect: str, moment: datetime) -> Any:
    """A timestamp as the store keeps it (SQLAlchemy's SQLite text form; a datetime for COPY)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else moment


@dataclass(frozen=True)
class ItemFile:
    """The bytes behind an item where a bench stores real ones (bench/ui.py): their size,
    sha256 and image size, and the 5 boxes (x, y, w, h in pixels) drawn on the image."""

    size: int
    sha256: str
    width: int
    height: int
    boxes: tuple[tuple[float, float, float, float], ...]


NO_FILE_BOXES = ((10.0, 10.0, 50.0, 40.0),) * 5
"""Every rectangle of a lake without bytes (its rows say 640x480)."""


def build(db: Database, n: int, file_of: Callable[[int], ItemFile] | None = None) -> float:
    """Insert n items with their metadata, tags and annotations; return the seconds taken.

    `file_of(index)`, if given, describes the real file behind item `index` (its size, hash,
    image size and boxes); the generated content (names, dates, metadata, tags, labels) is the
    same either way. Without it an item says 640x480 and its random size, and has no bytes."""
    started = time.perf_counter()
    collection_id = new_id()
    now = datetime.now(UTC)
    label_names = COMMON_LABELS + RARE_LABELS
    with db.write() as conn:
        dialect = conn.dialect.name
        conn.execute(
            collections.insert().values(
                id=collection_id,
                name="bench",
                content_type="image",
                storage_name="bench",
                metadata={},
                tags=[],
                created=now,
                modified=now,
            )
        )
        conn.execute(
            labels.insert(),
            [
                {"id": i + 1, "name": name, "color": "#000000", "created": now}
                for i, name in enumerate(label_names)
            ],
        )
        conn.execute(
            operations.insert(),
            [
                {"id": 1, "name": "model-a", "is_model_run": True, "created": now, "modified": now},
                {
                    "id": 2,
                    "name": "human-a",
                    "is_model_run": False,
                    "created": now,
                    "modified": now,
                },
            ],
        )
    label_ids = {name: i + 1 for i, name in enumerate(label_names)}
    annotation_id = 0
    seq_base = 0
    for chunk in generate(n):
        item_rows, members, meta, tags, shapes, counts = [], [], [], [], [], []
        added = stored_time(dialect, now)
        for facts in chunk:
            item_id = uuid.uuid4().hex[:24]
            when = stored_time(dialect, facts["created"])
            index = seq_base + len(item_rows)
            real = file_of(index) if file_of else None
            size, sha256, width, height, boxes = (
                (real.size, real.sha256, real.width, real.height, real.boxes)
                if real
                else (facts["size"], "0" * 64, 640, 480, NO_FILE_BOXES)
            )
            item_rows.append(
                (item_id, f"bench_{facts['name']}", facts["name"], "image", collection_id,
                 "lake", f"bench/{facts['name']}", size, sha256, "image/jpeg",
                 width, height, when, when, index + 1)
            )  # fmt: skip
            members.append((collection_id, item_id, added))
            for key in ("camera", "weather", "site"):
                meta.append((item_id, key, json.dumps(facts[key]), facts[key], None))
            speed = facts["speed"]
            meta.append((item_id, "speed", json.dumps(speed), json.dumps(speed), speed))
            tags.extend((item_id, f"tag_{t:03d}") for t in facts["tags"])
            for position, label in enumerate(facts["labels"]):
                annotation_id += 1
                machine = position < 3
                shapes.append(
                    (annotation_id, item_id, 1 if machine else 2, "rectangle", label_ids[label],
                     *boxes[position], facts["confidences"][position] if machine else None)
                )  # fmt: skip
            for label, times in Counter(facts["labels"]).items():
                counts.append((item_id, label_ids[label], times))
        insert_chunk(db, item_rows, members, meta, tags, shapes, counts)
        seq_base += len(chunk)
        print(f"  built {len(chunk)} more items", file=sys.stderr)
    finish_build(db, annotation_id, len(label_names), seq_base)
    return time.perf_counter() - started


LOGGED_TABLES = ("items", "collection_items", "item_metadata", "item_tags")


@contextmanager
def change_log_paused(conn: Connection) -> Iterator[None]:
    """Leave a bulk build out of the change log (store/item_changes.py): no lake has a bitmap of
    these rows yet, and the triggers would make the build three times slower."""
    if conn.dialect.name == "postgresql":
        for table in LOGGED_TABLES:
            conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield
        for table in LOGGED_TABLES:
            conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        return
    triggers = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'item_changes%'"
    ).all()
    for name, _sql in triggers:
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
    yield
    for _name, sql in triggers:
        conn.exec_driver_sql(sql)


def insert_chunk(db: Database, *rows: list[tuple]) -> None:
    """One write of a chunk's items, memberships, metadata, tags, shapes and label counts."""
    item_rows, members, meta, tags, shapes, counts = rows
    with db.write() as conn, change_log_paused(conn):
        insert_rows(conn, items, ITEM_COLUMNS, item_rows)
        insert_rows(conn, collection_items, ("collection_id", "item_id", "added"), members)
        insert_rows(
            conn, item_metadata, ("item_id", "key", "value", "value_text", "value_num"), meta
        )
        insert_rows(conn, item_tags, ("item_id", "tag"), tags)
        insert_rows(conn, annotation_rows, SHAPE_COLUMNS, shapes)
        insert_rows(conn, item_labels, ("item_id", "label_id", "count"), counts)


def finish_build(db: Database, annotation_count: int, label_count: int, item_count: int) -> None:
    """Move PostgreSQL's sequences past the rows given ids, then analyse as the lake does."""
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            for sequence, n in (
                ("annotations_id_seq", annotation_count),
                ("labels_id_seq", label_count),
                ("operations_id_seq", 2),
                ("items_seq", item_count),
            ):
                conn.execute(sa.text(f"SELECT setval('{sequence}', :n)"), {"n": n})
        dialect = conn.dialect.name
    db.refresh_statistics()  # as the lake does when a job ends
    if dialect == "postgresql":
        # What autovacuum does a little after a bulk load: without a visibility map no scan
        # is index-only.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


ITEM_COLUMNS = (
    "id", "unique_name", "file_name", "content_type", "collection_id", "bucket", "storage_key",
    "size", "sha256", "mime", "width", "height", "created", "modified", "seq",
)  # fmt: skip
SHAPE_COLUMNS = (
    "id", "item_id", "operation_id", "type", "label_id", "x", "y", "w", "h", "confidence",
)  # fmt: skip


def timed(call: Any, runs: int) -> tuple[float, float, Any]:
    """p50 and p95 in milliseconds over `runs` calls (after one warm-up), and the last answer."""
    answer = call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95, answer


def measure(client: Client, runs: int) -> list[dict[str, Any]]:
    rows = []
    for name, query, filter_ in QUERIES:
        count_p50, count_p95, count = timed(
            lambda q=query, f=filter_: client.get_item_count_from_metalake("image", q, f), runs
        )
        page_p50, page_p95, page = timed(
            lambda q=query, f=filter_: client.get_item_list_from_datalake(
                "image", q, f, page_size=100
            ),
            runs,
        )
        rows.append(
            {
                "query": name,
                "matches": count,
                "page": len(page),
                "count_p50": count_p50,
                "count_p95": count_p95,
                "page_p50": page_p50,
                "page_p95": page_p95,
            }
        )
        print(f"  {name}: {count} matches, count p95 {count_p95:.1f} ms", file=sys.stderr)
    return rows


def plans(db: Database, path: Path) -> None:
    """The plan of each query's plain SQL count and first page (what the lake's fallback runs;
    a term's bitmap is built by the same condition)."""
    lines = []
    with db.read() as conn:
        for name, query, filter_ in QUERIES:
            selection = ItemSelection.of("image", query=query, filter=filter_)
            lines += explained(conn, selection, f"{name}: {query or filter_}")
    path.write_text("\n".join(lines))


def explained(conn: Connection, selection: ItemSelection, title: str) -> list[str]:
    """Lines of the plans of a selection's plain SQL count and first page."""
    explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
    ids = selection.ids(conn)
    count = sa.select(sa.func.count()).select_from(ids.subquery())
    page = ids.order_by(*SortOrder().columns()).limit(100)
    lines = []
    for label, statement in (("count", count), ("page", page)):
        sql = statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        lines.append(f"## {title} ({label})")
        lines += [
            "  " + " | ".join(str(v) for v in row)
            for row in conn.execute(sa.text(explain + str(sql)))
        ]
        lines.append("")
    return lines


FIFTYONE_LOAD = """
import json, time
from datetime import datetime
import fiftyone as fo
def load(dataset, rows, filepath=lambda r: "/bench/" + r["name"],
         boxes=lambda r: [[0.1, 0.1, 0.2, 0.2]] * 5, fields=lambda r: {}):
    # Add the items of the JSON lines `rows` to `dataset` (machine boxes in `predictions`,
    # human ones in `ground_truth`; `boxes` relative x, y, w, h); return the seconds taken.
    start = time.perf_counter()
    batch = []
    def flush():
        dataset.add_samples(batch, progress=False)
        batch.clear()
    with open(rows) as source:
        for line in source:
            r = json.loads(line)
            box = boxes(r)
            machine = [fo.Detection(label=l, bounding_box=b, confidence=c)
                       for l, b, c in zip(r["labels"][:3], box[:3], r["confidences"])]
            human = [fo.Detection(label=l, bounding_box=b)
                     for l, b in zip(r["labels"][3:], box[3:])]
            created = datetime.fromisoformat(r["created"])
            batch.append(fo.Sample(
                filepath=filepath(r), tags=[f"tag_{t:03d}" for t in r["tags"]],
                camera=r["camera"], weather=r["weather"], speed=r["speed"], site=r["site"],
                created=created, modified=created,
                predictions=fo.Detections(detections=machine),
                ground_truth=fo.Detections(detections=human), **fields(r)))
            if len(batch) >= 10000:
                flush()
    if batch:
        flush()
    return time.perf_counter() - start
"""
"""The FiftyOne children's loader of the generated items (`fiftyone_rows`)."""

FIFTYONE_CHILD = (
    FIFTYONE_LOAD
    + """
import statistics, sys
from fiftyone import ViewField as F
rows, runs = sys.argv[1], int(sys.argv[2])
dataset = fo.Dataset()
load_s = load(dataset, rows)
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
views = {
    "metadata equality": dataset.match(F("camera") == "CAM_0042"),
    "metadata range": dataset.match(F("speed") >= 199.5),
    "tag": dataset.match_tags("tag_042"),
    "label": dataset.match(labelled("label_042")),
    "label + confidence": dataset.match(F("predictions.detections").filter(
        (F("label") == "label_042") & (F("confidence") >= 0.9)).length() > 0),
    "count(...) >= 3": dataset.match(count_of("car") >= 3),
    "name wildcard": dataset.match(F("filepath").re_match(".*_night_.*")),
    "date range + types": dataset.match(
        (F("created") >= datetime(2024, 3, 1)) & (F("created") < datetime(2024, 3, 8))
        & (F("ground_truth.detections").length() > 0)),
    "OR of two labels": dataset.match(labelled("label_042") | labelled("label_043")),
    "NOT": dataset.match((F("camera") == "CAM_0042") & ~labelled("car")),
}
def timed(call):
    answer = call()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        answer = call()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95, answer
PAGE = ["id", "filepath", "tags", "camera", "weather", "speed", "site", "created", "modified"]
result = {"load": load_s, "indexing": indexing, "items": len(dataset), "queries": {}}
for name, view in views.items():
    c50, c95, count = timed(view.count)
    p50, p95, page = timed(lambda: view.sort_by("modified", reverse=True).limit(100).values(PAGE))
    result["queries"][name] = {"matches": count, "page": len(page[0]), "count_p50": c50,
                                "count_p95": c95, "page_p50": p50, "page_p95": p95}
print(json.dumps(result))
"""
)


def fiftyone_rows(n: int) -> Path:
    """The same generated items as JSON lines, for the FiftyOne child."""
    path = OUT / f"query-items-{n}.jsonl"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for chunk in generate(n):
            for facts in chunk:
                out.write(json.dumps({**facts, "created": facts["created"].isoformat()}) + "\n")
    return path


def postgres_database() -> tuple[str, sa.Engine] | None:
    url = os.environ.get("METALAKE_TEST_DATABASE_URL")
    if not url:
        print("PostgreSQL skipped: set METALAKE_TEST_DATABASE_URL", file=sys.stderr)
        return None
    admin = sa.create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    name = f"metalake_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return admin.url.set(database=name).render_as_string(hide_password=False), admin


def run_backend(label: str, home: Path, url: str | None, n: int, runs: int) -> dict[str, Any]:
    built = home / f"built-{n}"
    db = lake_database(home, url)
    if built.exists():
        seconds = float(built.read_text())
        print(f"{label}: reusing the {n} items built in {home}", file=sys.stderr)
    else:
        print(f"{label}: building {n} items", file=sys.stderr)
        seconds = build(db, n)
        if url is None:
            built.write_text(str(seconds))
    plans(db, OUT / f"query-plans-{label}-{n}.txt")
    db.close()
    with Client(home=home, database_url=url, show_progress=False) as client:
        rows = measure(client, runs)
    return {"build": seconds, "rows": rows}


def table(title: str, result: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(f"{'query':24} {'matches':>8} {'count p50':>10} {'p95':>8} {'page p50':>9} {'p95':>8}")
    rows = (
        result["rows"]
        if "rows" in result
        else [{"query": k, **v} for k, v in result["queries"].items()]
    )
    for row in rows:
        print(
            f"{row['query']:24} {row['matches']:>8} {row['count_p50']:>10.1f} "
            f"{row['count_p95']:>8.1f} {row['page_p50']:>9.1f} {row['page_p95']:>8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", choices=("selective", "broad"), default="selective")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--fiftyone-items", type=int)
    parser.add_argument("--fiftyone-runs", type=int)
    parser.add_argument("--no-fiftyone", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--keep", type=Path, help="Build the SQLite lake in this folder and reuse it next time."
    )
    parser.add_argument(
        "--sdk-build",
        type=int,
        metavar="N",
        help="Broad profile: build N items through the SDK instead of the bulk insert.",
    )
    args = parser.parse_args()
    if args.profile == "broad":
        from bench import query_broad

        query_broad.main(args)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="metalake-query-") as tmp:
        home = args.keep or Path(tmp) / "sqlite"
        results["sqlite"] = run_backend("sqlite", home, None, args.items, args.runs)
        table(
            f"SQLite, {args.items} items (build {results['sqlite']['build']:.0f} s), ms",
            results["sqlite"],
        )
        pg = None if args.no_postgres else postgres_database()
        if pg is not None:
            url, admin = pg
            try:
                results["postgresql"] = run_backend(
                    "postgresql", Path(tmp) / "pg", url, args.items, args.runs
                )
            finally:
                with admin.connect() as conn:
                    name = sa.engine.make_url(url).database
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            build_s = results["postgresql"]["build"]
            table(
                f"PostgreSQL, {args.items} items (build {build_s:.0f} s), ms", results["postgresql"]
            )
    if not args.no_fiftyone:
        n = args.fiftyone_items or args.items
        fo = run_fiftyone(
            FIFTYONE_CHILD, str(fiftyone_rows(n)), str(args.fiftyone_runs or args.runs)
        )
        if fo is not None:
            results["fiftyone"] = fo
            table(
                f"FiftyOne, {fo['items']} items (load {fo['load']:.0f} s, indexes "
                f"{fo['indexing']:.0f} s), ms",
                fo,
            )
            print("\nFiftyOne p95 / MetaLake SQLite p95 (count, page):")
            for row in results["sqlite"]["rows"]:
                theirs = fo["queries"][row["query"]]
                print(
                    f"  {row['query']:24} {theirs['count_p95'] / row['count_p95']:6.1f}x "
                    f"{theirs['page_p95'] / row['page_p95']:6.1f}x"
                )
    (OUT / "query.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
