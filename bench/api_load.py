"""API load benchmark: `get_item_list_from_collection` (pages of 100) on a served 100k-item lake.

Seeds a lake of N items in one collection straight through the store (rows with metadata and
tags; listing never reads bytes), serves it with `metalake serve`, and runs C client processes
that each ask for random pages for a fixed time. Prints requests/s and p50/p90/p99 latency as
the clients see them. The clients share the machine's cores with the server.

Usage: python bench/api_load.py [--items 100000] [--clients 16] [--seconds 15] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from metalake import Client
from metalake.ids import new_id
from metalake.lake import collections
from metalake.lake.lake import lake_database
from metalake.store.schema import collection_items, item_metadata, item_tags, items
from tests.servers import serve

OUT = Path(__file__).resolve().parent / "out"
PAGE_SIZE = 100
BATCH = 10_000


def seed(home: Path, n: int) -> None:
    """A lake with n image items in collection `load`, each with 3 fields and 1 tag."""
    db = lake_database(home)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with db.write() as conn:
        collection = collections.get_or_create(conn, "load", "image")
    for first in range(0, n, BATCH):
        rows, members, meta, tags = [], [], [], []
        for i in range(first, min(n, first + BATCH)):
            item_id = new_id()
            when = start + timedelta(seconds=i)
            rows.append(
                {
                    "id": item_id,
                    "unique_name": f"load_img_{i:07d}.jpg",
                    "file_name": f"img_{i:07d}.jpg",
                    "content_type": "image",
                    "collection_id": collection["id"],
                    "bucket": "default",
                    "storage_key": f"load/img_{i:07d}.jpg",
                    "size": 800_000,
                    "sha256": f"{i:064x}",
                    "mime": "image/jpeg",
                    "width": 1920,
                    "height": 1080,
                    "created": when,
                    "modified": when,
                    "seq": i + 1,
                }
            )
            members.append({"collection_id": collection["id"], "item_id": item_id, "added": when})
            for key, value in (("camera", f"CAM_{i % 50:04d}"), ("floor", i % 7), ("site", "A")):
                meta.append(
                    {
                        "item_id": item_id,
                        "key": key,
                        "value": value,
                        "value_text": value if isinstance(value, str) else None,
                        "value_num": value if isinstance(value, int) else None,
                    }
                )
            tags.append({"item_id": item_id, "tag": f"batch_{i // 1000}"})
        with db.write() as conn:
            conn.execute(items.insert(), rows)
            conn.execute(collection_items.insert(), members)
            conn.execute(item_metadata.insert(), meta)
            conn.execute(item_tags.insert(), tags)
    db.refresh_statistics()  # as the job runner leaves a lake after an upload
    db.close()


def lake_of(n: int) -> Path:
    home = OUT / f"api_lake_{n}"
    if not (home / "seeded").exists():
        print(f"seeding {n} items in {home} ...", file=sys.stderr)
        seed(home, n)
        (home / "seeded").touch()
    return home


def hammer(args: tuple, barrier: Any, results: Any) -> None:
    """One client process: once every client is ready, random pages until the deadline."""
    url, key, secret, pages, seconds, seed_value = args
    rng = random.Random(seed_value)
    latencies = []
    with Client(url, key, secret, show_progress=False) as client:
        collection_id = client.get_collection_id_by_name("load")
        client.get_item_list_from_collection(collection_id, page_index=0, page_size=PAGE_SIZE)
        barrier.wait()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            start = time.perf_counter()
            page = client.get_item_list_from_collection(
                collection_id, page_index=rng.randrange(pages), page_size=PAGE_SIZE
            )
            latencies.append(time.perf_counter() - start)
            assert len(page) == PAGE_SIZE
    results.put(latencies)


def load(url: str, key: str, secret: str, pages: int, clients: int, seconds: float) -> list:
    """Latencies of every request of `clients` processes started together."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(clients), context.Queue()
    processes = [
        context.Process(
            target=hammer, args=((url, key, secret, pages, seconds, i), barrier, results)
        )
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    latencies = [x for _ in processes for x in results.get()]
    for process in processes:
        process.join()
    return sorted(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    home = lake_of(args.items)
    pages = args.items // PAGE_SIZE
    with serve(home, workers=args.workers) as server:
        latencies = load(server.url, server.key, server.secret, pages, args.clients, args.seconds)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{args.items} items, {args.clients} clients, {args.workers} server workers, "
        f"{os.cpu_count()} cores, pages of {PAGE_SIZE} at random offsets"
    )
    rate = len(latencies) / args.seconds
    print(f"requests: {len(latencies)} in {args.seconds:.0f} s = {rate:.0f}/s")
    print(f"latency ms: p50 {q[49] * 1000:.1f}  p90 {q[89] * 1000:.1f}  p99 {q[98] * 1000:.1f}")
    print(json.dumps({"p50": q[49], "p99": q[98], "rps": len(latencies) / args.seconds}))


if __name__ == "__main__":
    main()
