"""Soak benchmark: a mixed load on a real `metalake serve` for N minutes, watching its memory.

Starts `metalake serve` on a fresh lake: SQLite + local folder (`--backend sqlite`), or a fresh
PostgreSQL database + a SeaweedFS S3 server started for the run (`--backend postgresql`). Then
16 client threads (one `Client` each, in this process) loop as fast as they can over a weighted
mix of calls:

  upload      4 small real JPEGs (Pillow, unique pixels) with metadata, until the job completes
  list        get_item_list_from_datalake with one of several query shapes, random page
  count       get_item_count_from_metalake with the same shapes
  metadata    upload_metadata_for_files on a few of the thread's files (fields and a tag)
  download    download_files_from_collection, a page of 5 of the thread's files
  url         get_downloadable_url of one of the thread's files
  get         GET of that URL (the server's signed route, or SeaweedFS's presigned one)

Every `--sample-seconds` (10) it reads the server process's RSS (psutil if installed, else
/proc/<pid>/status), threads and open files. At the end it prints RSS a row a minute and, per
call type, count, p50, p99 and errors, and writes everything as JSON to `--out`.
`--memstats` and `--tracemalloc` load bench/soak_site into the server through PYTHONPATH (bench
only, never part of the product): the first logs, every 10 s, glibc's heap in use and free,
SQLite's own allocations and the number of Python objects; the second snapshots the Python heap
every minute and prints what grew between the first and the last snapshot.
`--server-env NAME=VALUE` (repeatable) sets a variable of the server only, e.g.
MALLOC_ARENA_MAX=2.

Usage: python bench/soak.py [--backend sqlite|postgresql] [--minutes 20] [--clients 16]
                            [--out bench/out/soak-sqlite.json] [--memstats] [--tracemalloc]
                            [--server-env NAME=VALUE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import OUT, fresh_postgres
from metalake import Client
from tests.servers import seaweedfs, serve

log = logging.getLogger("bench.soak")
SITE = Path(__file__).resolve().parent / "soak_site"
IMAGES_PER_UPLOAD = 4
WEIGHTS = {"upload": 1, "list": 3, "count": 2, "metadata": 2, "download": 1, "url": 2}
JOB_TIMEOUT_S = 600
ERROR_EXAMPLES = 5


def queries(thread: int) -> list[str]:
    """The query shapes the list and count calls draw from (all match some files)."""
    return [
        "",
        "metadata.site = north",
        f"tags = t{thread:02d}",
        "metadata.n >= 90",
        'name ~ "*_1.jpg"',
        f"metadata.site = south AND NOT tags = t{thread:02d}",
        "tags = edited OR metadata.n < 5",
    ]


@dataclass
class Tally:
    """Latencies and errors of every call, by call type; shared by the client threads."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, kind: str, call: Callable[[], Any]) -> Any:
        """Run `call`, keeping its latency under `kind`, or its error (then None)."""
        start = time.perf_counter()
        try:
            result = call()
        except Exception as exc:  # a soak counts every failure and keeps going
            with self.lock:
                self.errors[kind] += 1
                if len(self.examples[kind]) < ERROR_EXAMPLES:
                    self.examples[kind].append(f"{type(exc).__name__}: {exc}"[:300])
            return None
        with self.lock:
            self.latencies[kind].append(time.perf_counter() - start)
        return result

    def failed(self, kind: str, message: str) -> None:
        """Count a call that returned but did not do its work (e.g. a FAILED job)."""
        with self.lock:
            self.errors[kind] += 1
            if len(self.examples[kind]) < ERROR_EXAMPLES:
                self.examples[kind].append(message[:300])


def make_jpeg(path: Path, rng: np.random.Generator) -> None:
    """A small real JPEG (160x120) of random pixels, so no two files share bytes."""
    pixels = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=85)


class Worker:
    """One client thread: its own Client, collection, files and scratch folder."""

    def __init__(self, index: int, server: Any, tally: Tally, scratch: Path) -> None:
        self.index = index
        self.client = Client(server.url, server.key, server.secret, show_progress=False)
        self.http = httpx.Client(timeout=60)
        self.tally = tally
        self.scratch = scratch / f"t{index:02d}"
        self.scratch.mkdir(parents=True)
        self.collection = f"soak_t{index:02d}"
        self.collection_id: str | None = None
        self.files: list[str] = []
        self.uploads = 0
        self.rng = random.Random(index)
        self.np_rng = np.random.default_rng(index)
        self.queries = queries(index)

    def close(self) -> None:
        self.client.close()
        self.http.close()

    def run(self, deadline: float) -> None:
        """Upload once so the thread has files, then the weighted mix until the deadline."""
        self.upload()
        kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
        while time.monotonic() < deadline:
            kind = self.rng.choices(kinds, weights)[0]
            if kind != "upload" and not self.files:
                kind = "upload"
            getattr(self, kind if kind != "list" else "list_page")()

    def upload(self) -> None:
        folder = self.scratch / f"up{self.uploads:05d}"
        folder.mkdir()
        names = [f"t{self.index:02d}_u{self.uploads:05d}_{i}.jpg" for i in range(IMAGES_PER_UPLOAD)]
        for name in names:
            make_jpeg(folder / name, self.np_rng)
        self.uploads += 1
        metadata = {
            "site": self.rng.choice(["north", "south", "east"]),
            "n": self.rng.randrange(100),
            "Tags": [f"t{self.index:02d}"],
        }

        def upload_and_wait() -> str:
            result = self.client.upload_files_to_collection(
                str(folder), "image", self.collection, metadata
            )
            status = self.client.wait_for_job_complete(result["job_id"], timeout=JOB_TIMEOUT_S)
            self.collection_id = result["collection_id"]
            return status["job_status"]

        status = self.tally.timed("upload", upload_and_wait)
        shutil.rmtree(folder, ignore_errors=True)
        if status == "COMPLETED":
            self.files.extend(names)
        elif status is not None:
            self.tally.failed("upload", f"job {status}")

    def list_page(self) -> None:
        query = self.rng.choice(self.queries)
        page = self.rng.randrange(5)
        self.tally.timed(
            "list",
            lambda: self.client.get_item_list_from_datalake(
                "image", query, page_index=page, page_size=20
            ),
        )

    def count(self) -> None:
        query = self.rng.choice(self.queries)
        self.tally.timed("count", lambda: self.client.get_item_count_from_metalake("image", query))

    def metadata(self) -> None:
        chosen = self.rng.sample(self.files, min(4, len(self.files)))
        document = {
            "files": [
                {"file": name, "metadata": {"n": self.rng.randrange(100), "Tags": ["edited"]}}
                for name in chosen
            ]
        }
        path = self.scratch / "metadata.json"
        path.write_text(json.dumps(document))
        self.tally.timed(
            "metadata",
            lambda: self.client.upload_metadata_for_files(self.collection, "image", str(path)),
        )

    def download(self) -> None:
        if self.collection_id is None:
            return
        collection_id = self.collection_id
        folder = self.scratch / "download"
        pages = max(1, len(self.files) // 5)
        page = self.rng.randrange(pages)
        result = self.tally.timed(
            "download",
            lambda: self.client.download_files_from_collection(
                collection_id, str(folder), page_index=page, page_size=5
            ),
        )
        if result is not None and not result.get("is_success"):
            self.tally.failed("download", result.get("message", "not is_success"))
        shutil.rmtree(folder, ignore_errors=True)

    def url(self) -> None:
        unique_name = f"{self.collection}_{self.rng.choice(self.files)}"
        url = self.tally.timed("url", lambda: self.client.get_downloadable_url(unique_name))
        if url is None:
            return
        response = self.tally.timed("get", lambda: self.http.get(url))
        if response is not None and (response.status_code != 200 or not response.content):
            self.tally.failed("get", f"GET answered {response.status_code}")


def read_rss(pid: int) -> dict[str, int]:
    """RSS (bytes), threads, open files and open SQLite database files of a running process."""
    fds = list(Path(f"/proc/{pid}/fd").iterdir())
    db_files = sum(1 for fd in fds if _target(fd).endswith(".db"))
    try:
        import psutil
    except ImportError:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        fields = dict(line.split(":", 1) for line in status if ":" in line)
        rss, threads = int(fields["VmRSS"].split()[0]) * 1024, int(fields["Threads"])
    else:
        process = psutil.Process(pid)
        rss, threads = process.memory_info().rss, process.num_threads()
    return {"rss": rss, "threads": threads, "fds": len(fds), "db_files": db_files}


def _target(link: Path) -> str:
    """Where a /proc fd link points ('' if it closed meanwhile)."""
    try:
        return str(link.readlink())
    except OSError:
        return ""


def sample_forever(pid: int, every: float, start: float, out: list, stop: threading.Event) -> None:
    """Append a sample of the server's memory every `every` seconds until `stop` is set, and
    log one a minute so a long run shows how it goes."""
    logged = 0
    while not stop.wait(every):
        out.append({"t": time.monotonic() - start, **read_rss(pid)})
        if out[-1]["t"] >= 60 * (logged + 1):
            logged += 1
            log.info("minute %d: server RSS %.1f MiB", logged, out[-1]["rss"] / 2**20)


@contextlib.contextmanager
def served_lake(args: argparse.Namespace, scratch: Path, env: dict[str, str]) -> Iterator[Any]:
    """`metalake serve` on a fresh lake of the chosen backend."""
    home = scratch / "lake"
    if args.backend == "sqlite":
        with serve(home, env=env) as server:
            yield server
        return
    with (
        fresh_postgres(args.database_url, "metalake_soak") as database_url,
        seaweedfs(scratch / "seaweedfs") as s3,
    ):
        storage = f"s3://soak-{uuid.uuid4().hex[:8]}/blobs"
        with serve(home, database_url, storage, env={**s3.env, **env}) as server:
            yield server


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (1-99) of at least one value, in milliseconds."""
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def tracemalloc_growth(folder: Path, top: int = 15) -> list[str]:
    """What grew most between the first and the last heap snapshot of the server."""
    snapshots = sorted(folder.glob("snap_*.tm"))
    if len(snapshots) < 2:
        return [f"fewer than 2 snapshots in {folder}"]
    first = tracemalloc.Snapshot.load(str(snapshots[0]))
    last = tracemalloc.Snapshot.load(str(snapshots[-1]))
    lines = [f"heap growth {snapshots[0].name} -> {snapshots[-1].name}:"]
    for stat in last.compare_to(first, "traceback")[:top]:
        lines.append(f"{stat.size_diff / 1024:+9.0f} KiB {stat.count_diff:+7d} blocks")
        lines.extend(f"      {line}" for line in stat.traceback.format()[-6:])
    total_first = sum(s.size for s in first.statistics("filename"))
    total_last = sum(s.size for s in last.statistics("filename"))
    lines.append(f"traced total {total_first / 2**20:.1f} -> {total_last / 2**20:.1f} MiB")
    return lines


def rss_by_minute(samples: list[dict], minutes: float) -> list[dict]:
    """The sample nearest each whole minute (0 = before the load started), and the last."""
    return [*by_minute(samples, minutes), {"minute": "end", **samples[-1]}]


def by_minute(samples: list[dict], minutes: float) -> list[dict]:
    """The sample nearest each whole minute of the run."""
    return [
        {"minute": minute, **min(samples, key=lambda s: abs(s["t"] - 60 * minute))}
        for minute in range(int(minutes) + 1)
    ]


def soak(args: argparse.Namespace) -> dict:
    """Serve, load, sample; the results as a JSON-ready dict."""
    scratch = Path(tempfile.mkdtemp(prefix=f"soak_{args.backend}_"))
    env = dict(item.split("=", 1) for item in args.server_env)
    trace_dir = scratch / "tracemalloc"
    memstats = scratch / "memstats.jsonl"
    if args.tracemalloc or args.memstats:
        path = os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH")]))
        env["PYTHONPATH"] = path
    if args.tracemalloc:
        env["SOAK_TRACEMALLOC_DIR"] = str(trace_dir)
    if args.memstats:
        env["SOAK_MEMSTATS_FILE"] = str(memstats)
    tally = Tally()
    samples: list[dict] = []
    try:
        with served_lake(args, scratch, env) as server:
            pid = server.process.pid
            time.sleep(2)  # let the fresh server settle before the idle sample
            if args.tracemalloc:
                (trace_dir / "start").touch()
            start = time.monotonic()
            samples.append({"t": 0.0, **read_rss(pid)})
            stop = threading.Event()
            sampler = threading.Thread(
                target=sample_forever, args=(pid, args.sample_seconds, start, samples, stop)
            )
            sampler.start()
            workers = [Worker(i, server, tally, scratch) for i in range(args.clients)]
            deadline = start + 60 * args.minutes
            threads = [threading.Thread(target=w.run, args=(deadline,)) for w in workers]
            try:
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            finally:
                stop.set()
                sampler.join()
                samples.append({"t": time.monotonic() - start, **read_rss(pid)})
                for worker in workers:
                    worker.close()
            files = sum(len(w.files) for w in workers)
            growth = tracemalloc_growth(trace_dir) if args.tracemalloc else []
            lines = memstats.read_text().splitlines() if args.memstats else []
            inside = [json.loads(line) for line in lines]
            for row in inside:
                row["t"] -= start
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    calls = {
        kind: {
            "count": len(values),
            "p50_ms": percentile(values, 50),
            "p99_ms": percentile(values, 99),
            "errors": tally.errors[kind],
            "error_examples": tally.examples[kind],
        }
        for kind, values in sorted(tally.latencies.items())
    }
    for kind in set(tally.errors) - set(calls):
        calls[kind] = {"count": 0, "errors": tally.errors[kind], "examples": tally.examples[kind]}
    return {
        "backend": args.backend,
        "minutes": args.minutes,
        "clients": args.clients,
        "server_env": args.server_env,
        "cores": os.cpu_count(),
        "files_uploaded": files,
        "rss_by_minute": rss_by_minute(samples, args.minutes),
        "memstats_by_minute": by_minute(inside, args.minutes) if inside else [],
        "samples": samples,
        "calls": calls,
        "tracemalloc": growth,
    }


def report(result: dict) -> None:
    """Print the RSS rows and the per-call table."""
    print(
        f"{result['backend']}: {result['clients']} client threads, {result['minutes']} min, "
        f"{result['cores']} cores shared with other work, {result['files_uploaded']} files "
        f"uploaded, server env {result['server_env'] or '-'}"
    )
    print("minute  server RSS MiB  threads  fds  db files")
    for row in result["rss_by_minute"]:
        rss = row["rss"] / 2**20
        print(
            f"{row['minute']!s:>6}  {rss:14.1f}  {row['threads']:7d}  {row['fds']:3d}  "
            f"{row['db_files']:8d}"
        )
    if result["memstats_by_minute"]:
        print("minute  malloc in use MiB  malloc free MiB  SQLite MiB  gc objects  traced MiB")
        for row in result["memstats_by_minute"]:
            print(
                f"{row['minute']:6d}  {row['malloc_in_use'] / 2**20:17.1f}  "
                f"{row['malloc_free'] / 2**20:15.1f}  {row['sqlite_used'] / 2**20:10.1f}  "
                f"{row['gc_objects']:10d}  {row['traced'] / 2**20:10.1f}"
            )
    print(f"{'call':10s} {'count':>7s} {'p50 ms':>9s} {'p99 ms':>9s} {'errors':>7s}")
    for kind, stats in result["calls"].items():
        if stats["count"]:
            print(
                f"{kind:10s} {stats['count']:7d} {stats['p50_ms']:9.1f} "
                f"{stats['p99_ms']:9.1f} {stats['errors']:7d}"
            )
        else:
            print(f"{kind:10s} {0:7d} {'-':>9s} {'-':>9s} {stats['errors']:7d}")
        for example in stats.get("error_examples", []):
            print(f"           {example}")
    for line in result["tracemalloc"]:
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "METALAKE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server where the run may create (and drop) a database",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--memstats", action="store_true")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    OUT.mkdir(exist_ok=True)
    result = soak(args)
    report(result)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
