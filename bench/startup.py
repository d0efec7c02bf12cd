"""Start-up time of `import metalake` and of CLI commands: the median of N fresh processes.

    .venv/bin/python bench/startup.py [N]

Each command runs N times (default 11) in a new interpreter, after one untimed warm-up run that
writes the bytecode caches (`PYTHONDONTWRITEBYTECODE` is dropped for the children); an embedded
lake with a few items and a served one (`metalake serve` on a free loopback port) give
`query --count` something to count. `-X importtime` tells which modules cost the time.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.media_factory import make_folder  # noqa: E402
from tests.servers import serve  # noqa: E402

PYTHON = sys.executable
METALAKE = str(Path(PYTHON).with_name("metalake"))


def median_s(args: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    """Median and fastest wall time of `args` over `runs` runs (one warm-up run first)."""
    times = []
    for attempt in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, env=env)
        if attempt:
            times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    with tempfile.TemporaryDirectory(prefix="startup_") as tmp:
        home = Path(tmp) / "lake"
        images = make_folder(Path(tmp) / "images", 3)
        # As after a normal install: bytecode caches written (by the warm-up run) and used.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("METALAKE_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        subprocess.run(
            [METALAKE, "--home", str(home), "upload", str(images), "--collection", "c"],
            check=True,
            capture_output=True,
            env=env,
        )
        embedded = [METALAKE, "--home", str(home)]
        commands = {
            "python -c 'import metalake'": [PYTHON, "-c", "import metalake"],
            "python -c 'from metalake import Client'": [
                PYTHON, "-c", "from metalake import Client",
            ],
            "metalake --help": [METALAKE, "--help"],
            "metalake query --count (embedded)": [*embedded, "query", "--count"],
            "metalake query 'width > 10' --count (embedded)": [
                *embedded, "query", "width > 10", "--count",
            ],
        }  # fmt: skip
        with serve(home) as server:
            remote_env = {
                **env,
                "METALAKE_URL": server.url,
                "METALAKE_API_KEY": server.key,
                "METALAKE_SECRET": server.secret,
            }
            rows = [(name, *median_s(args, runs, env)) for name, args in commands.items()]
            for name, args in {
                "metalake query --count (remote)": [METALAKE, "query", "--count"],
                "metalake query 'width > 10' --count (remote)": [
                    METALAKE, "query", "width > 10", "--count",
                ],
            }.items():  # fmt: skip
                rows.append((name, *median_s(args, runs, remote_env)))
    print(f"| command ({runs} runs) | median s | fastest s |")
    print("| --- | ---: | ---: |")
    for name, median, fastest in rows:
        print(f"| `{name}` | {median:.3f} | {fastest:.3f} |")


if __name__ == "__main__":
    main()
