"""Ingest benchmark: upload N 1920x1080 JPEGs into a fresh embedded lake, against the copy floor.

Runs rounds of interleaved contenders on the same files (floor, embedded, [remote], [fiftyone],
floor, embedded, ...), each after `sync` so that none inherits the previous one's writeback, all
on a warm page cache for the sources; prints every round, then the median (min-max) of each:
  floor     a single-threaded loop that copies every file to a temp folder while hashing it
            (sha256): the least work an upload into a lake can do;
  embedded  `upload_files_to_collection` + `wait_for_job_complete` into a fresh embedded lake;
  remote    the same through a `metalake serve` process on loopback (--remote), with the client's
            and the server's CPU (user and kernel) per file;
  fiftyone  FiftyOne's add_images_dir + compute_metadata (registers files in place, no copy:
            a reference, not the same work), from the separate venv `make bench-deps` builds.
Ratios are per round (floor / embedded, embedded / remote), then their median.
With --storage s3 both lakes keep their bytes in a SeaweedFS S3 server started for the run.
With --breakdown, one more embedded upload runs under py-spy (`pip install py-spy`) and the
samples of its threads are split into stages (file creation, copy, hash, probe, database, ...).

Usage: python bench/ingest.py N [--rounds 3] [--folder DIR] [--no-fiftyone] [--remote]
                              [--storage s3] [--breakdown]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import OUT, peak_rss, run_child, run_fiftyone
from tests.servers import seaweedfs, serve

CHUNK = 1 << 20
UNIQUE_IMAGES = 2000
INODE_WINDOW_S = 36
"""How long ext4 without a journal (this VM's disk) avoids reusing a deleted inode: each file
created meanwhile first scans past every inode deleted in that window (`recently_deleted` in
the kernel's profile), so a contender run just after 2,000 files were deleted paid up to 1 ms per
file it created. Outputs are therefore deleted together at the end of a run (see Leftovers)."""


class Leftovers:
    """The output folders of a run's contenders, deleted together when the run ends, so that no
    contender creates its files just after another one's were deleted. When the disk has no room
    for one more output they are deleted at once, and the next contender waits out the window."""

    def __init__(self, room: int) -> None:
        self._room = room
        """Free bytes the disk must keep for the next contender's output."""
        self._paths: list[Path] = []

    def keep(self, path: Path) -> None:
        self._paths.append(path)
        if shutil.disk_usage(OUT).free < self._room:
            self.clear()
            time.sleep(INODE_WINDOW_S)

    def clear(self) -> None:
        for path in self._paths:
            shutil.rmtree(path, ignore_errors=True)
        self._paths.clear()


LAKE_CHILD = """
import json, os, resource, sys, time
from metalake import Client
# What a client imports on first use, imported before the clock starts: start-up is timed by
# bench/startup.py, not here.
import av, PIL.Image, metalake.lake.lake, metalake.client.http, metalake.client.sender
where, folder = json.loads(sys.argv[1]), sys.argv[2]
cpu = os.times()
start = time.perf_counter()
with Client(**where, show_progress=False) as client:
    opened = time.perf_counter() - start
    result = client.upload_files_to_collection(folder, "image", "bench")
    status = client.wait_for_job_complete(result["job_id"])
    job = client.get_job(result["job_id"])
seconds = time.perf_counter() - start
used = os.times()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({
    "seconds": seconds, "open": opened, "rss": rss, "status": status, "done": job["done"],
    "user": used.user - cpu.user, "system": used.system - cpu.system,
}))
"""

FIFTYONE_CHILD = """
import json, resource, sys, time
import fiftyone as fo
start = time.perf_counter()
dataset = fo.Dataset()
dataset.add_images_dir(sys.argv[1], progress=False)
dataset.compute_metadata(progress=False)
seconds = time.perf_counter() - start
count = len(dataset)
dataset.delete()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "rss": rss, "count": count}))
"""


def _make_jpeg(path: Path) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(abs(hash(path.name)) % (1 << 32))
    y, x = np.mgrid[0:1080, 0:1920]
    base = np.stack([(x // 8) % 256, (y // 5) % 256, ((x + y) // 12) % 256], axis=-1)
    noise = rng.integers(0, 48, size=(1080, 1920, 3))
    Image.fromarray((base + noise).clip(0, 255).astype("uint8")).save(path, quality=90)


def generate(n: int) -> Path:
    """A cached folder of n distinct 1920x1080 JPEGs.

    The first UNIQUE_IMAGES are encoded from distinct pixels on both cores; the rest are copies of
    those with a unique trailer after the JPEG end marker: still valid JPEGs with distinct bytes and
    hashes, made at disk speed instead of an hour of encoding.
    """
    folder = OUT / f"jpegs_{n}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"img_{i:06d}.jpg" for i in range(n)]
    unique = [p for p in paths[:UNIQUE_IMAGES] if not p.exists()]
    if unique:
        print(f"encoding {len(unique)} JPEGs in {folder} ...", file=sys.stderr)
        with ProcessPoolExecutor(os.cpu_count()) as pool:
            list(pool.map(_make_jpeg, unique, chunksize=16))
    copies = [(i, p) for i, p in enumerate(paths) if i >= UNIQUE_IMAGES and not p.exists()]
    if copies:
        print(f"deriving {len(copies)} more JPEGs ...", file=sys.stderr)
    for i, path in copies:
        data = paths[i % UNIQUE_IMAGES].read_bytes()
        path.write_bytes(data + i.to_bytes(8, "big"))
    return folder


def warm(files: list[Path]) -> int:
    """Read every file once so every contender starts from the same page cache; total bytes."""
    total = 0
    for path in files:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                total += len(chunk)
    return total


def floor(files: list[Path], leftovers: Leftovers) -> dict:
    """Copy and sha256 every file, one thread, into a temp folder: seconds and CPU."""
    target = Path(tempfile.mkdtemp(dir=OUT, prefix="floor_"))
    cpu = os.times()
    start = time.perf_counter()
    for path in files:
        digest = hashlib.sha256()
        with path.open("rb") as src, (target / path.name).open("wb") as dst:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dst.write(chunk)
    seconds = time.perf_counter() - start
    used = os.times()
    leftovers.keep(target)
    return {"seconds": seconds, "user": used.user - cpu.user, "system": used.system - cpu.system}


def lake(folder: Path, storage: str | None, env: dict[str, str], leftovers: Leftovers) -> dict:
    """Upload into a fresh embedded lake in a child process."""
    home = Path(tempfile.mkdtemp(dir=OUT, prefix="lake_"))
    where = {"home": str(home), "storage": storage}
    try:
        return run_child(
            sys.executable, LAKE_CHILD, json.dumps(where), str(folder), env={**os.environ, **env}
        )
    finally:
        leftovers.keep(home)


def process_cpu(pid: int) -> tuple[float, float]:
    """User and kernel CPU seconds a running process (all its threads) has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def served_lake(
    folder: Path, storage: str | None, env: dict[str, str], leftovers: Leftovers
) -> dict:
    """Upload through a `metalake serve` process on loopback; adds the server's peak RSS and
    the CPU it used during the upload."""
    home = Path(tempfile.mkdtemp(dir=OUT, prefix="served_"))
    try:
        with serve(home, storage=storage, env=env) as server:
            where = {"url": server.url, "api_key": server.key, "secret": server.secret}
            before = process_cpu(server.process.pid)
            os.sync()
            result = run_child(sys.executable, LAKE_CHILD, json.dumps(where), str(folder))
            after = process_cpu(server.process.pid)
            result["server_rss"] = peak_rss(server.process.pid)
            result["server_user"], result["server_system"] = (
                a - b for a, b in zip(after, before, strict=True)
            )
        return result
    finally:
        leftovers.keep(home)


def fiftyone(folder: Path) -> dict | None:
    return run_fiftyone(FIFTYONE_CHILD, str(folder))


STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("create file", ("mkstemp", "_mkstemp_inner", "copy_to_new_file")),
    ("probe", ("probe", "probe_image")),
    ("rename into place", ("LocalBlobStore.commit",)),
    ("database", ("sqlalchemy", "metalake/store/", "_register_chunk", "_pending_chunks", "_plan")),
    ("waiting", ("Condition.wait", "Future.result", "Queue.get", "Event.wait", "select")),
    ("imports", ("_find_and_load",)),
)
"""Stages of an upload, by the functions (or paths) on a sample's stack, checked in order."""


def _stage_of(frames: list[str]) -> str:
    """The stage a py-spy sample's stack (root first) belongs to."""
    leaf_function, _, where = frames[-1].partition(" (")
    path, _, line = where.rstrip(")").rpartition(":")
    if "metalake/blobs" in path:
        import linecache

        text = linecache.getline(str(Path(__file__).resolve().parent.parent / path), int(line))
        for stage, marks in (
            ("hash", ("digest", "sha256")),
            ("write", ("write", "copy_file_range", "sendfile")),
            ("read", ("read",)),
        ):
            if any(mark in text for mark in marks):
                return stage
    for stage, marks in STAGES:
        if any(mark in frame for frame in frames for mark in marks):
            return stage
    return f"other Python ({leaf_function})"


def breakdown(folder: Path, files: int) -> None:
    """One embedded upload under py-spy: where each thread's samples went, in ms per file."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("breakdown skipped: `pip install py-spy` first", file=sys.stderr)
        return
    home = Path(tempfile.mkdtemp(dir=OUT, prefix="lake_"))
    raw = home.with_suffix(".raw")
    rate = 250
    where = json.dumps({"home": str(home)})
    command = [spy, "record", "-r", str(rate), "-t", "-f", "raw", "-o", str(raw), "--"]
    try:
        os.sync()
        subprocess.run(
            [*command, sys.executable, "-c", LAKE_CHILD, where, str(folder)],
            check=True,
            capture_output=True,
        )
        stages: dict[str, dict[str, int]] = {}
        for record in raw.read_text().splitlines():
            stack, _, count = record.rpartition(" ")
            frames = stack.split(";")
            thread = frames[0].split(": ", 1)[-1].rstrip("0123456789-")
            stage = _stage_of(frames[1:]) if len(frames) > 1 else "idle"
            by_thread = stages.setdefault(stage, {})
            by_thread[thread] = by_thread.get(thread, 0) + int(count)
    finally:
        shutil.rmtree(home)
        raw.unlink(missing_ok=True)
    threads = sorted({t for counts in stages.values() for t in counts})
    print(f"\nbreakdown of one embedded upload (py-spy, {rate} Hz), ms per file per thread:")
    print(f"{'stage':<40}" + "".join(f"{t[:18]:>19}" for t in threads))
    ordered = sorted(stages.items(), key=lambda kv: -sum(kv[1].values()))
    for stage, counts in ordered[:16]:
        cells = "".join(f"{counts.get(t, 0) * 1000 / rate / files:>19.3f}" for t in threads)
        print(f"{stage[:40]:<40}{cells}")


def median_spread(values: list[float], digits: int = 2) -> str:
    """`median (min-max)` of a bench's rounds."""
    low, middle, high = min(values), statistics.median(values), max(values)
    return f"{middle:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def ratios(slower: list[dict], faster: list[dict]) -> list[float]:
    """Per round, how many times faster one contender ran than another."""
    return [s["seconds"] / f["seconds"] for s, f in zip(slower, faster, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of 1920x1080 JPEGs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--folder", type=Path, help="use the JPEGs of this folder instead")
    parser.add_argument("--no-fiftyone", action="store_true")
    parser.add_argument("--remote", action="store_true", help="also upload through a server")
    parser.add_argument("--storage", choices=["local", "s3"], default="local")
    parser.add_argument("--breakdown", action="store_true", help="profile one more upload")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    folder = args.folder.resolve() if args.folder else generate(args.n)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    files = files[: args.n]
    if len(files) < args.n:
        raise SystemExit(f"{folder} has only {len(files)} JPEGs")
    if args.folder is None and len(list(folder.iterdir())) != args.n:
        raise SystemExit(f"{folder} holds more than {args.n} files; pass --folder")
    total = warm(files)
    mb = total / 1e6
    leftovers = Leftovers(3 * total)  # one more output, with a lake's database
    n = len(files)
    runs: dict[str, list[dict]] = {}
    with ExitStack() as stack:
        stack.callback(leftovers.clear)
        storage, env = None, {}
        if args.storage == "s3":
            s3_dir = Path(tempfile.mkdtemp(dir=OUT, prefix="s3_"))
            stack.callback(shutil.rmtree, s3_dir, True)
            env = stack.enter_context(seaweedfs(s3_dir)).env
            storage = "s3://bench-embedded/blobs"
        contenders: list[tuple[str, Callable[[], dict | None]]] = [
            ("floor", lambda: floor(files, leftovers)),
            ("embedded", lambda: lake(folder, storage, env, leftovers)),
        ]
        if args.remote:
            served = storage and "s3://bench-served/blobs"
            contenders.append(("remote", lambda: served_lake(folder, served, env, leftovers)))
        if not args.no_fiftyone:
            contenders.append(("fiftyone", lambda: fiftyone(folder)))
        print(f"{n} files, {mb:.0f} MB, {os.cpu_count()} cores, storage {args.storage}")
        for number in range(1, args.rounds + 1):
            cells = []
            for name, run in contenders:
                os.sync()
                result = run()
                if result is None:
                    continue
                assert result.get("done", n) == n and result.get("count", n) == n, result
                runs.setdefault(name, []).append(result)
                cells.append(f"{name} {result['seconds']:.2f} s")
            floor_s, lake_s = runs["floor"][-1]["seconds"], runs["embedded"][-1]["seconds"]
            cells.append(f"embedded/floor {floor_s / lake_s:.2f}x")
            if "remote" in runs:
                cells.append(f"remote/embedded {lake_s / runs['remote'][-1]['seconds']:.2f}x")
            print(f"round {number}: " + ", ".join(cells), flush=True)
    print(f"\nmedian (min-max) of {args.rounds} interleaved rounds")
    print(f"{'':<34} {'seconds':>18} {'files/s':>8} {'MB/s':>6} {'RSS MiB':>8}")
    for name, results in runs.items():
        seconds = [r["seconds"] for r in results]
        rss = max((r.get("rss") or 0) for r in results)
        peak = f"{rss / 2**20:8.0f}" if rss else "       -"
        middle = statistics.median(seconds)
        spread = median_spread(seconds)
        print(f"{name:<34} {spread:>18} {n / middle:8.0f} {mb / middle:6.0f} {peak}")
    versus = median_spread(ratios(runs["floor"], runs["embedded"]))
    print(f"embedded / floor throughput:  {versus}x")
    opening = median_spread([r["open"] for r in runs["embedded"]])
    alone = [
        f["seconds"] / (e["seconds"] - e["open"])
        for f, e in zip(runs["floor"], runs["embedded"], strict=True)
    ]
    print(f"  of which opening the fresh lake: {opening} s; without it: {median_spread(alone)}x")
    if "remote" in runs:
        remote = runs["remote"]
        print(f"remote / embedded throughput: {median_spread(ratios(runs['embedded'], remote))}x")
        server_rss = max(r["server_rss"] for r in remote)
        print(f"remote server peak RSS: {server_rss / 2**20:.0f} MiB")
    if "fiftyone" in runs:
        versus = median_spread(ratios(runs["fiftyone"], runs["embedded"]))
        print(f"embedded / fiftyone throughput: {versus}x")
    print("\nCPU per file (ms), median of rounds: user + kernel")
    for name in ("floor", "embedded", "remote"):
        for side, prefix in (("", ""), (" server", "server_")):
            results = [r for r in runs.get(name, []) if f"{prefix}user" in r]
            if not results:
                continue
            user = statistics.median(r[f"{prefix}user"] for r in results) * 1000 / n
            kernel = statistics.median(r[f"{prefix}system"] for r in results) * 1000 / n
            print(f"  {name + side:<20} {user:6.2f} + {kernel:6.2f}")
    max_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(f"largest child peak RSS: {max_rss / 2**20:.0f} MiB")
    if args.breakdown:
        time.sleep(INODE_WINDOW_S)  # the outputs were just deleted
        breakdown(folder, n)


if __name__ == "__main__":
    main()
