"""Before and after: one bench run on an older commit and on this tree in turn, for N rounds.

    .venv/bin/python bench/interleave.py OLD_COMMIT [--rounds 3] [--keep DIR] -- BENCH.py [ARGS]

for example `bench/interleave.py b7efe82 -- annotations.py --no-fiftyone`.

The old commit is cloned from this repository into a temp folder and given this tree's bench
scripts, so both trees run the same measurement, and this tree's `bench/out`, so both read the
same cached inputs. Runs alternate old, new, old, new, ... in the same cache state. Each run's
output is kept (in --keep, or a temp folder that is printed). At the end, every line of the
bench's tables (a label, two spaces, then numbers; or a Markdown row of a label and numbers) is
summed up: the median (min-max) of each of its numbers over the rounds, old then new. A line
whose numbers change in count between runs is left out.

A bench that caches a lake in `bench/out` (api_load.py, datasets.py --data) must be given a
separate cache for the old tree: an older lake schema cannot open a newer lake.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE_LINE = re.compile(r"^(\S.*?)\s{2,}(\d.*)$")
NUMBER = re.compile(r"(?<![\d.])\d[\d,]*(?:\.\d+)?")


def old_tree(commit: str, where: Path) -> Path:
    """A checkout of `commit` with this tree's bench scripts and cached inputs."""
    tree = where / "old"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(tree)], check=True)
    subprocess.run(["git", "-C", str(tree), "checkout", "-q", commit], check=True)
    for script in (ROOT / "bench").glob("*.py"):
        shutil.copy2(script, tree / "bench" / script.name)
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    shutil.rmtree(tree / "bench" / "out", ignore_errors=True)
    (tree / "bench" / "out").symlink_to(ROOT / "bench" / "out")
    return tree


def run(tree: Path, bench: list[str], output: Path) -> str:
    """Run the bench in `tree` (its own package first on the path); its output, also saved."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, f"bench/{bench[0]}", *bench[1:]],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: the bench failed, see {output}")
    return done.stdout


def _number(text: str) -> float:
    """A figure as the benches print it (thousands may be grouped with commas)."""
    return float(text.replace(",", ""))


def table_numbers(text: str) -> dict[str, list[float]]:
    """Each table line's label and the numbers after it."""
    found: dict[str, list[float]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) > 1 and all(NUMBER.fullmatch(c) for c in cells[1:]):
            found[cells[0]] = [_number(c) for c in cells[1:]]
            continue
        match = TABLE_LINE.match(line.rstrip())
        if match:
            found[match.group(1).strip()] = [_number(n) for n in NUMBER.findall(match.group(2))]
    return found


def summary(runs: list[dict[str, list[float]]]) -> dict[str, list[str]]:
    """Per label, the median (min-max) of each number over the runs that agree on its shape."""
    result: dict[str, list[str]] = {}
    for label in runs[0]:
        rows = [r[label] for r in runs if label in r]
        if len(rows) != len(runs) or len({len(row) for row in rows}) != 1:
            continue
        result[label] = [
            f"{statistics.median(column):g} ({min(column):g}-{max(column):g})"
            for column in zip(*rows, strict=True)
        ]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commit", help="the older commit to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="where each run's output goes")
    parser.add_argument("bench", nargs="+", help="after --: the bench script and its arguments")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    keep = args.keep or Path(tempfile.mkdtemp(prefix="interleave_"))
    keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"old": old_tree(args.commit, Path(scratch)), "new": ROOT}
        runs: dict[str, list[dict[str, list[float]]]] = {"old": [], "new": []}
        for round_number in range(1, args.rounds + 1):
            for name, tree in trees.items():
                output = keep / f"{name}_{round_number}.txt"
                runs[name].append(table_numbers(run(tree, args.bench, output)))
                print(f"round {round_number}: {name} done ({output})", file=sys.stderr)
    for name, figures in runs.items():
        print(f"{name} ({args.commit if name == 'old' else 'this tree'}), {args.rounds} rounds:")
        for label, columns in summary(figures).items():
            print(f"  {label:<52} {'  '.join(columns)}")
    print(f"each run's output: {keep}")


if __name__ == "__main__":
    main()
