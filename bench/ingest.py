"""Ingest benchmark: upload N 1920x1080 JPEGs into a fresh embedded lake.

Prints files/s, MB/s and peak RSS for the lake, and in the same run times on the same files:
  floor     a single-threaded loop that copies every file to a temp folder while hashing it
            (sha256): the least work an upload into a lake can do;
  fiftyone  FiftyOne's add_images_dir + compute_metadata (registers files in place, no copy:
            a reference, not the same work), from the separate venv `make bench-deps` builds.

With --remote it also uploads the same files through a `metalake serve` process on loopback
(client and server peak RSS reported); with --storage s3 both the embedded and the served lake
keep their bytes in a SeaweedFS S3 server started for the run.

Usage: python bench/ingest.py N [--folder DIR] [--no-fiftyone] [--remote] [--storage s3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import OUT, peak_rss, run_child, run_fiftyone
from tests.servers import seaweedfs, serve

CHUNK = 1 << 20
UNIQUE_IMAGES = 2000

LAKE_CHILD = """
import json, resource, sys, time
from metalake import Client
# What a client imports on first use, imported before the clock starts: start-up is timed by
# bench/startup.py, not here.
import av, PIL.Image, metalake.lake.lake, metalake.client.http, metalake.client.sender
where, folder = json.loads(sys.argv[1]), sys.argv[2]
start = time.perf_counter()
with Client(**where, show_progress=False) as client:
    result = client.upload_files_to_collection(folder, "image", "bench")
    status = client.wait_for_job_complete(result["job_id"])
    job = client.get_job(result["job_id"])
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "rss": rss, "status": status, "done": job["done"]}))
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


def floor(files: list[Path]) -> float:
    """Seconds to copy and sha256 every file, one thread, into a temp folder."""
    target = Path(tempfile.mkdtemp(dir=OUT, prefix="floor_"))
    start = time.perf_counter()
    for path in files:
        digest = hashlib.sha256()
        with path.open("rb") as src, (target / path.name).open("wb") as dst:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dst.write(chunk)
    seconds = time.perf_counter() - start
    shutil.rmtree(target)
    return seconds


def lake(folder: Path, storage: str | None, env: dict[str, str]) -> dict:
    """Upload into a fresh embedded lake in a child process."""
    home = Path(tempfile.mkdtemp(dir=OUT, prefix="lake_"))
    where = {"home": str(home), "storage": storage}
    try:
        return run_child(
            sys.executable, LAKE_CHILD, json.dumps(where), str(folder), env={**os.environ, **env}
        )
    finally:
        shutil.rmtree(home)


def served_lake(folder: Path, storage: str | None, env: dict[str, str]) -> dict:
    """Upload through a `metalake serve` process on loopback; adds the server's peak RSS."""
    home = Path(tempfile.mkdtemp(dir=OUT, prefix="served_"))
    try:
        with serve(home, storage=storage, env=env) as server:
            where = {"url": server.url, "api_key": server.key, "secret": server.secret}
            result = run_child(sys.executable, LAKE_CHILD, json.dumps(where), str(folder))
            result["server_rss"] = peak_rss(server.process.pid)
        return result
    finally:
        shutil.rmtree(home)


def fiftyone(folder: Path) -> dict | None:
    return run_fiftyone(FIFTYONE_CHILD, str(folder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of 1920x1080 JPEGs")
    parser.add_argument("--folder", type=Path, help="use the JPEGs of this folder instead")
    parser.add_argument("--no-fiftyone", action="store_true")
    parser.add_argument("--remote", action="store_true", help="also upload through a server")
    parser.add_argument("--storage", choices=["local", "s3"], default="local")
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
    floor_s = floor(files)
    with ExitStack() as stack:
        storage, env = None, {}
        if args.storage == "s3":
            s3_dir = Path(tempfile.mkdtemp(dir=OUT, prefix="s3_"))
            stack.callback(shutil.rmtree, s3_dir, True)
            env = stack.enter_context(seaweedfs(s3_dir)).env
            storage = "s3://bench-embedded/blobs"
        result = lake(folder, storage, env)
        assert result["done"] == len(files), result
        remote = None
        if args.remote:
            remote = served_lake(folder, storage and "s3://bench-served/blobs", env)
            assert remote["done"] == len(files), remote
    fo = None if args.no_fiftyone else fiftyone(folder)

    def line(name: str, seconds: float, rss: int | None) -> str:
        peak = f"{rss / 2**20:8.0f}" if rss else "       -"
        return f"{name:<34} {seconds:8.2f} {len(files) / seconds:9.0f} {mb / seconds:8.0f} {peak}"

    print(f"{len(files)} files, {mb:.0f} MB, {os.cpu_count()} cores")
    print(f"{'':<34} {'seconds':>8} {'files/s':>9} {'MB/s':>8} {'RSS MiB':>8}")
    print(line("floor (copy + sha256, 1 thread)", floor_s, None))
    print(line(f"metalake embedded upload ({args.storage})", result["seconds"], result["rss"]))
    if remote:
        print(line(f"metalake remote upload ({args.storage})", remote["seconds"], remote["rss"]))
        print(f"{'  server peak RSS':<62} {remote['server_rss'] / 2**20:8.0f}")
    if fo:
        print(line("fiftyone add_images_dir+metadata", fo["seconds"], fo["rss"]))
    print(f"metalake / floor throughput:    {floor_s / result['seconds']:.2f}x")
    if remote:
        print(f"remote / embedded throughput:   {result['seconds'] / remote['seconds']:.2f}x")
    if fo:
        print(f"metalake / fiftyone throughput: {fo['seconds'] / result['seconds']:.2f}x")
    max_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(f"largest child peak RSS: {max_rss / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
