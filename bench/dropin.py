"""LayerNext drop-in benchmark: the same folder uploaded, listed and downloaded through the real
`layernext` 2.3.4 client and through MetaLake's own client, against one `metalake serve` on
loopback (SQLite and a local folder).

Prints seconds and files/s for each client, and the ratio MetaLake / layernext. The layernext
client sends each file as its own initialize / presign / PUT / finalize sequence, one file at a
time for up to 100 files; MetaLake's client bundles small files and sends 8 at a time.

Usage: python bench/dropin.py [N] [--size WxH]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import layernext

from metalake import Client
from tests.media_factory import make_image
from tests.servers import serve


def timed(call: object, *args: object) -> tuple[float, object]:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the client prints per-file progress
        result = call(*args)  # type: ignore[operator]
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=int, nargs="?", default=200)
    parser.add_argument("--size", default="640x480")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "images"
        folder.mkdir()
        for i in range(args.files):
            make_image(folder / f"img_{i:05d}.jpg", (width, height), color=i)
        with serve(root / "lake") as server:
            ln = layernext.LayerNextClient(server.key, server.secret, server.url)
            ours = Client(server.url, server.key, server.secret, show_progress=False)
            rows = []
            ln_up, result = timed(ln.upload_files_to_collection, str(folder), "image", "via ln")
            assert ours.get_job(result["job_id"])["done"] == args.files

            def our_upload() -> dict:
                started = ours.upload_files_to_collection(str(folder), "image", "via ours")
                ours.wait_for_job_complete(started["job_id"])
                return started

            our_up, _ = timed(our_upload)
            rows.append(("upload", ln_up, our_up))
            page = min(args.files, 1000)
            ln_dl, _ = timed(
                ln.download_files_from_collection, result["collection_id"], str(root / "a"), 0, page
            )
            our_dl, _ = timed(
                ours.download_files_from_collection,
                result["collection_id"],
                str(root / "b"),
                0,
                page,
            )
            rows.append((f"download {page}", ln_dl, our_dl))
            ours.close()
    print(f"{args.files} JPEGs of {args.size}, one server on loopback (SQLite, local folder)")
    header = ("step", "layernext s", "files/s", "MetaLake s", "files/s", "ratio")
    print(f"{header[0]:<16}" + "".join(f"{h:>12}" for h in header[1:]))
    for step, ln_s, our_s in rows:
        n = args.files if step == "upload" else page
        print(
            f"{step:<16}{ln_s:>12.2f}{n / ln_s:>12.0f}{our_s:>12.2f}{n / our_s:>12.0f}"
            f"{ln_s / our_s:>11.1f}x"
        )


if __name__ == "__main__":
    main()
