"""Web app benchmark: the explore page, queries, facets, scrolling and the item view in headless
Chromium, on a lake of 1,000,000 items (SQLite) with the content of bench/query.py and real
bytes behind every item.

The lake is built once (reused with `--keep DIR`) by bench/query.py's bulk build, with one of
64 distinct 160x120 JPEGs (made with Pillow) behind each item: its size, sha256 and image size
are in the item's row, its 5 boxes surround the 5 shapes drawn on the image, and its bytes are a
hard link at the item's storage key under `<home>/blobs` (ext4 allows 65,000 links to a file,
so 64 files carry 1M items).

Each round starts `metalake serve` afresh on each lake (cold: a new server process, an empty
thumbnail cache and a new browser profile), then visits the app twice in that browser (cold,
then warm): the first screen of thumbnails of `/`, the lake's facets, a label query typed into
the query box (its first screen of results, its count, its facets), an item view, and a scroll
through 10,000 items of the grid (frame times from requestAnimationFrame and, where Chromium
has them, long animation frames). Rounds interleave the lakes and FiftyOne's App (on the 100k
lake's items and files, `fo.launch_app(remote=True)`, if `make bench-deps` has run).

Usage: python bench/ui.py [--items 1000000] [--keep DIR] [--small-items 100000]
                          [--small-keep DIR] [--rounds 3] [--no-small] [--no-fiftyone]
                          [--fiftyone-db DIR] [--port 18471] [--build-only]

Prints a table (median and min-max over the rounds, and again without the first round, whose
cold start builds what later starts load) and writes bench/out/ui-<time>.json.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.request import urlopen

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import OUT, FiftyOneChild
from bench.query import FIFTYONE_LOAD, ItemFile, build, fiftyone_rows
from metalake.lake.lake import lake_database
from metalake.lake.trash import THUMBNAIL_PREFIX
from tests.browser import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
METALAKE = ROOT / ".venv" / "bin" / "metalake"
VIEWPORT = {"width": 1440, "height": 900}
IMAGE_SIZE = (160, 120)
IMAGE_COUNT = 64
"""Distinct images: each carries at most 1M / 64 = 15,625 hard links (ext4 allows 65,000)."""
IMAGES_DIR = "bench-ui-images"
QUERY = "annotation.label = car"
"""The label query typed: `car` is one of bench/query.py's 5 common labels (27% of items)."""
SCROLL_ITEMS = 10_000
SCROLL_SECONDS = 5.0
"""How fast the grid is scrolled: 10,000 items in 5 s, by time (a slow frame skips ahead)."""
TIMEOUT_MS = 60_000


# The lake -------------------------------------------------------------------------------------


def image_boxes(k: int) -> tuple[tuple[float, float, float, float], ...]:
    """The 5 boxes (x, y, w, h in pixels) of image k, inside IMAGE_SIZE."""
    rng = random.Random(1000 + k)
    width, height = IMAGE_SIZE
    boxes = []
    for _ in range(5):
        w, h = rng.randrange(20, 64), rng.randrange(16, 48)
        boxes.append(
            (float(rng.randrange(0, width - w)), float(rng.randrange(0, height - h)), w, h)
        )
    return tuple((x, y, float(w), float(h)) for x, y, w, h in boxes)


def make_images(folder: Path) -> list[ItemFile]:
    """Write IMAGE_COUNT distinct JPEGs (a hue gradient, 5 shapes inside the boxes, the image's
    number) into `folder`; return what each item row says of them."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    width, height = IMAGE_SIZE
    for k in range(IMAGE_COUNT):
        hue = k * 360 // IMAGE_COUNT
        img = Image.new("HSV", IMAGE_SIZE)
        img.putdata(
            [
                (hue * 255 // 360, 90 + 120 * y // height, 230)
                for y in range(height)
                for _ in range(width)
            ]
        )
        img = img.convert("RGB")
        draw = ImageDraw.Draw(img)
        boxes = image_boxes(k)
        for position, (x, y, w, h) in enumerate(boxes):
            colour = ((hue + 120 + 50 * position) % 360 * 255 // 360, 200, 160)
            rgb = Image.new("HSV", (1, 1), colour).convert("RGB").getpixel((0, 0))
            shape = draw.ellipse if position % 2 else draw.rectangle
            shape((x + 2, y + 2, x + w - 3, y + h - 3), fill=rgb)
        draw.text((4, height - 14), f"#{k}", fill=(0, 0, 0))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=85)
        data = out.getvalue()
        (folder / f"{k}.jpg").write_bytes(data)
        files.append(ItemFile(len(data), hashlib.sha256(data).hexdigest(), width, height, boxes))
    return files


def build_lake(home: Path, n: int) -> float:
    """Build (or reuse) a lake of n items at `home` with real bytes behind every item; return
    the seconds the build took (when it was made)."""
    marker = home / f"ui-built-{n}"
    if marker.exists():
        print(f"reusing the {n}-item lake in {home}", file=sys.stderr)
        return float(marker.read_text())
    if home.exists() and any(home.iterdir()):
        raise SystemExit(f"{home} holds something other than a finished bench/ui.py lake")
    started = time.perf_counter()
    files = make_images(home / IMAGES_DIR)
    db = lake_database(home)
    print(f"building {n} items in {home}", file=sys.stderr)
    build(db, n, file_of=lambda index: files[index % IMAGE_COUNT])
    with db.read() as conn:
        rows = conn.exec_driver_sql("SELECT seq, storage_key FROM items ORDER BY seq").all()
    db.close()
    blobs = home / "blobs"
    made: set[Path] = set()
    for seq, key in rows:
        target = blobs / key
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        os.link(home / IMAGES_DIR / f"{(seq - 1) % IMAGE_COUNT}.jpg", target)
    seconds = time.perf_counter() - started
    marker.write_text(str(seconds))
    print(f"built {n} items with their files in {seconds:.0f} s", file=sys.stderr)
    return seconds


# In the page ----------------------------------------------------------------------------------

PAGE_JS = r"""
(() => {
  const STALL_MS = 10000;
  const B = (window.__bench = window.__bench || {});
  // The tiles of the grid's first screen: those inside the grid's visible box.
  B.grid = (spec) => {
    if (spec.grid) return document.querySelector(spec.grid);
    const tile = document.querySelector(spec.tile);
    for (let e = tile && tile.parentElement; e; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (/(auto|scroll)/.test(style.overflowY) && e.scrollHeight > e.clientHeight) return e;
    }
    return document.scrollingElement;
  };
  B.box = (grid) => {
    const r = grid.getBoundingClientRect();
    return {top: Math.max(r.top, 0), bottom: Math.min(r.bottom, innerHeight),
            left: Math.max(r.left, 0), right: Math.min(r.right, innerWidth)};
  };
  B.loaded = (spec, tile) => {
    if (spec.loaded === "canvas") {
      const c = tile.querySelector("canvas");
      return !!c && c.getAttribute("canvas-loaded") === "true";
    }
    const img = tile.querySelector("img");
    return !!img && img.complete && img.naturalWidth > 0;
  };
  // The visible tiles' names if all of them are painted and they fill the screen, else null.
  B.screen = (spec) => {
    const grid = B.grid(spec);
    if (!grid) return null;
    const box = B.box(grid);
    const seen = [];
    let bottom = -1;
    for (const tile of grid.querySelectorAll(spec.tile)) {
      const r = tile.getBoundingClientRect();
      if (r.bottom <= box.top || r.top >= box.bottom || r.right <= box.left || r.left >= box.right
          || r.width === 0) continue;
      if (!B.loaded(spec, tile)) return null;
      seen.push(tile.getAttribute(spec.name) || String(seen.length));
      bottom = Math.max(bottom, r.bottom);
    }
    if (!seen.length) return null;
    const end = grid.scrollTop + grid.clientHeight >= grid.scrollHeight - 2;  // nothing below
    return bottom >= box.bottom - 2 || end ? seen : null;
  };
  B.text = (selector) => {
    const e = selector && document.querySelector(selector);
    return e ? e.textContent.trim() : null;
  };
  B.facets = (spec) => {
    const root = spec.facets && document.querySelector(spec.facets);
    if (!root) return null;
    const values = [...root.querySelectorAll(spec.facet)].map((e) => e.textContent.trim());
    return values.length && values.some((v) => /\d/.test(v)) ? values.join("|") : null;
  };
  // Each frame until every goal is reached and nothing has changed for `settle` ms: the time
  // (performance.now()) each goal was first reached and last changed.
  B.watch = (spec, goals, before, settle, timeout, since) => new Promise((resolve) => {
    const marks = {};
    const last = {};
    const started = performance.now();
    const step = () => {
      const now = performance.now();
      const values = {};
      if (goals.includes("screen")) {
        const names = B.screen(spec);
        const key = names && names.join(",");
        values.screen = key && key !== before.screen ? key : null;
        if (values.screen) marks.screen_names = names.slice(0, 50);
      }
      if (goals.includes("count")) {
        const t = B.text(spec.count);
        values.count = t && /\d/.test(t) && t !== before.count ? t : null;
      }
      if (goals.includes("facets")) {
        const f = B.facets(spec);
        values.facets = f && f !== before.facets ? f : null;
      }
      if (goals.includes("item")) values.item = B.item();
      let done = true;
      for (const goal of goals) {
        const v = values[goal];
        if (v && !(goal in marks)) marks[goal] = now - since;
        if (v && last[goal] !== v) { marks[goal + "_last"] = now - since; last[goal] = v; }
        if (!v) { done = false; if (goal in marks) { delete marks[goal]; delete last[goal]; } }
        marks[goal + "_value"] = v && goal !== "screen" ? String(v).slice(0, 2000) : null;
      }
      const quiet = goals.every((g) => now - since - (marks[g + "_last"] ?? Infinity) >= settle);
      if ((done && quiet) || now - started > timeout) {
        marks.timed_out = !(done && quiet);
        resolve(marks);
      } else requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
  // The item view's image (or video) loaded and its shapes drawn: its source and shape count
  // (the view shows a large thumbnail first, then the file itself).
  B.item = () => {
    const root = document.querySelector("[data-testid=viewer]") || document;
    const media = [...root.querySelectorAll("img, video")].find((m) => {
      const r = m.getBoundingClientRect();
      const ok = m.tagName === "VIDEO" ? m.readyState >= 2 : m.complete && m.naturalWidth > 0;
      return ok && r.width >= 100;
    });
    const shapes = document.querySelectorAll("[data-shape]").length;
    return media && shapes ? `${media.currentSrc}|${shapes}` : null;
  };
  // The page's requests to `prefix` so far, by path: how many, and the slowest (ms).
  B.requests = (prefix) => {
    const paths = {};
    for (const e of performance.getEntriesByType("resource")) {
      const url = new URL(e.name);
      if (!url.pathname.startsWith(prefix)) continue;
      const p = (paths[url.pathname] ||= {n: 0, slowest: 0, last_end: 0});
      p.n += 1;
      p.slowest = Math.max(p.slowest, e.duration);
      p.last_end = Math.max(p.last_end, e.responseEnd);
    }
    return paths;
  };
  // Scroll the grid by `items` tiles in `seconds` (by the clock: a slow frame skips ahead),
  // timing every frame; then wait for its screen to be painted.
  B.scroll = (spec, items, seconds, timeout) => new Promise((resolve) => {
    const grid = B.grid(spec);
    const tiles = [...grid.querySelectorAll(spec.tile)].map((t) => t.getBoundingClientRect())
      .filter((r) => r.width > 0);
    const tops = [...new Set(tiles.map((r) => Math.round(r.top)))].sort((a, b) => a - b);
    const columns = tiles.filter((r) => Math.round(r.top) === tops[0]).length;
    const pitch = tops.length > 1 ? tops[1] - tops[0] : tiles[0].height;
    const target = Math.ceil(items / columns) * pitch;
    const frames = [];
    const long = [];
    let observer = null;
    try {
      observer = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) long.push(e.duration);
      });
      observer.observe({type: "long-animation-frame"});
    } catch (e) { observer = null; }
    // Scrolled by relative steps, and the distance summed from them: a grid may move its
    // content up and scrollTop back while scrolling (FiftyOne's does), so scrollTop alone
    // does not tell how far the list has gone.
    let start = 0, prev = 0, moved = 0, travelled = 0;
    const step = (now) => {
      frames.push(now - prev);
      prev = now;
      const want = Math.min(target, (now - start) * target / (seconds * 1000));
      const before = grid.scrollTop;
      grid.scrollTop = before + Math.max(0, want - travelled);
      const by = grid.scrollTop - before;
      if (by > 0) { travelled += by; moved = now; }
      const stalled = now - moved > STALL_MS;  // the end of the list, or no page arrives
      if (travelled >= target - 1 || now - start > timeout || stalled) {
        const reached = travelled;
        const took = now - start;
        if (observer) {
          observer.takeRecords().forEach((e) => long.push(e.duration));
          observer.disconnect();
        }
        B.watch(spec, ["screen"], {}, 0, timeout, now).then((m) => resolve({
          columns, pitch, target, reached, took, frames, stalled,
          long_frames: observer ? long : null, settled: m.screen ?? null,
          settle_timed_out: m.timed_out, last_names: m.screen_names || [],
        }));
      } else requestAnimationFrame(step);
    };
    requestAnimationFrame((now) => { start = prev = moved = now; requestAnimationFrame(step); });
  });
})();
"""

ML_SPEC = {
    "tile": "[data-testid=tile]",
    "name": "data-unique-name",
    "loaded": "img",
    "grid": "[data-testid=grid]",
    "count": "[data-testid=match-count]",
    "facets": "[data-testid=facets]",
    "facet": "[data-testid=facet]",
}
FO_SPEC = {"tile": "[data-cy=looker]", "name": "", "loaded": "canvas", "grid": ""}
SETTLE_MS = 1000


# The contenders ---------------------------------------------------------------------------------


def create_key(home: Path) -> tuple[str, str]:
    """A new API key of the lake at `home` (through the CLI, as a user makes one)."""
    done = subprocess.run(
        [str(METALAKE), "--home", str(home), "keys", "create", "--name", "bench-ui"],
        capture_output=True,
        text=True,
        check=True,
    )
    found = dict(re.findall(r"^(key|secret):\s+(\S+)$", done.stdout, re.MULTILINE))
    return found["key"], found["secret"]


def wait_healthy(url: str, process: subprocess.Popen[bytes] | None, timeout: float = 120) -> None:
    """Wait until `url` answers 200 (or raise if `process` ends first, or after `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server ended (exit {process.returncode})")
        try:
            with urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@dataclass
class MetaLakeApp:
    """`metalake serve` on a lake folder, restarted for every cold visit."""

    label: str
    home: Path
    port: int
    items: int
    key: tuple[str, str] = ("", "")
    process: subprocess.Popen[bytes] | None = None
    spec: dict[str, str] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Stop any running server, empty the thumbnail cache, start the server; return the
        seconds until /healthz answered."""
        self.stop()
        shutil.rmtree(self.home / "blobs" / THUMBNAIL_PREFIX, ignore_errors=True)
        if not self.key[0]:
            self.key = create_key(self.home)
        log = (self.home / "bench-ui-serve.log").open("ab")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(METALAKE), "--home", str(self.home), "serve", "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_healthy(self.base + "/healthz", self.process)
        return time.perf_counter() - started

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def login(self, context: Any) -> None:
        """Log the browser context in through the login form, without loading `/` (which
        would warm the lake before the visit is timed)."""
        page = context.new_page()
        page.goto(self.base + "/login")
        form = page.evaluate(
            """() => { const f = document.querySelector('input[name=api_key]').form;
                       return f ? {action: f.action, method: f.method} : null; }"""
        )
        fields = {"api_key": self.key[0], "secret": self.key[1]}
        if form and form["method"].lower() == "post" and form["action"]:
            answer = context.request.post(form["action"], form=fields, max_redirects=0)
            if answer.status >= 400:
                raise RuntimeError(f"login failed: {answer.status} {answer.text()[:200]}")
        else:

            def stub(route: Any) -> None:
                request = route.request
                if request.resource_type == "document" and "/login" not in request.url:
                    route.fulfill(status=200, content_type="text/html", body="logged in")
                else:
                    route.continue_()

            page.route("**/*", stub)
            page.fill("input[name=api_key]", fields["api_key"])
            page.fill("input[name=secret]", fields["secret"])
            page.click("form [type=submit], button[type=submit], form button")
            page.wait_for_url(lambda url: "/login" not in url, timeout=TIMEOUT_MS)
            page.unroute("**/*")
        page.close()
        if not context.cookies(self.base):
            raise RuntimeError("logging in left no session cookie")

    def api(self, path: str, body: dict[str, Any]) -> Any:
        """POST to the lake's REST API with the key (to check what the page showed)."""
        import httpx

        answer = httpx.post(self.base + path, json=body, auth=self.key, timeout=120)
        answer.raise_for_status()
        return answer.json()

    def visit(self, context: Any) -> dict[str, Any]:
        """One visit: the explore page, the query, an item, the scroll."""
        spec = self.spec or ML_SPEC
        out: dict[str, Any] = {}
        page = context.new_page()
        try:
            lake = navigate(page, self.base + "/", spec, ["screen", "count", "facets"])
            out.update(
                first_screen_ms=lake.get("screen"),
                **count_and_facets("lake", lake),
                first_screen_tiles=len(lake.get("screen_names") or []),
                timed_out_lake=lake["timed_out"],
                lake_requests=page.evaluate("() => __bench.requests('/api/')"),
            )
            query = type_query(page, spec, QUERY)
            names = query.get("screen_names") or []
            out.update(
                query_results_ms=query.get("screen"),
                **count_and_facets("query", query),
                query_url=page.url,
                query_first_names=names[:5],
                timed_out_query=query["timed_out"],
                query_requests=page.evaluate("() => __bench.requests('/api/')"),
            )
            if names:
                click = click_item(page, spec, names[0]) or {}
                item = navigate(page, f"{self.base}/items/{names[0]}", spec, ["item"])
                out.update(
                    item_click_ms=click.get("item_last"),
                    item_click_first_ms=click.get("item"),
                    item_open_ms=item.get("item_last"),
                    item_open_first_ms=item.get("item"),
                    item_shown=item.get("item_value"),
                    timed_out_item=item["timed_out"] or click.get("timed_out"),
                )
            navigate(page, self.base + "/", spec, ["screen"])
            out.update(scroll_summary(scroll(page, spec)))
        finally:
            page.close()
        return out

    def check(self, visit: dict[str, Any]) -> dict[str, Any]:
        """What the API answers for what a visit showed: the counts and the query's first
        results (newest change first, as the grid's default order)."""
        lake = self.api("/api/v1/items/count", {"selection": {"content_type": "image"}})
        selection = {"content_type": "image", "query": QUERY}
        query = self.api("/api/v1/items/count", {"selection": selection})
        page = self.api("/api/v1/items/page", {"selection": selection, "page_size": 5})
        first = [row.get("unique_name") or row.get("uniqueName") for row in page["items"]]
        return {
            "lake_count": lake["count"],
            "query_count": query["count"],
            "query_first_names": first,
            "lake_count_matches": visit.get("lake_count") == lake["count"],
            "query_count_matches": visit.get("query_count") == query["count"],
            "query_first_names_match": visit.get("query_first_names") == first,
        }


FIFTYONE_UI_CHILD = (
    FIFTYONE_LOAD
    + """
import sys
rows, blobs, boxes = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
def image(r):
    return int(r["name"][-11:-4]) % len(boxes)
def relative(r):
    return [[x / 160, y / 120, w / 160, h / 120] for x, y, w, h in boxes[image(r)]]
def fields(r):
    return {"metadata": fo.ImageMetadata(width=160, height=120, mime_type="image/jpeg")}
name = "bench-ui-" + str(sum(1 for _ in open(rows)))
if fo.dataset_exists(name):  # kept from an earlier run (--fiftyone-db)
    dataset, seconds, reused = fo.load_dataset(name), 0.0, True
else:
    dataset, reused = fo.Dataset(name), False
    seconds = load(dataset, rows, filepath=lambda r: blobs + "/" + r["name"], boxes=relative,
                   fields=fields)
    dataset.persistent = True
print(json.dumps({"load": seconds, "items": len(dataset), "reused": reused}), flush=True)
session = None
for line in sys.stdin:
    command = line.split()
    if command[0] == "launch":
        if session is not None:
            session.close()
        start = time.perf_counter()
        session = fo.launch_app(dataset, remote=True, address="127.0.0.1", port=int(command[1]),
                                auto=False)
        print(json.dumps({"url": session.url, "seconds": time.perf_counter() - start}),
              flush=True)
    elif command[0] == "close" and session is not None:
        session.close()
        session = None
        print(json.dumps({"closed": True}), flush=True)
if session is not None:
    session.close()
"""
)
"""The FiftyOne side: the 100k lake's items (bench/query.py's loader) with their real files
and boxes, and an App server launched afresh on command (`launch PORT`)."""


@dataclass
class FiftyOneApp:
    """FiftyOne's App (`fo.launch_app(remote=True)`) on the small lake's items and files."""

    child: FiftyOneChild
    port: int
    label: str = "fiftyone-100k"
    url: str = ""
    loaded: dict[str, Any] | None = None

    def start(self) -> float:
        """Launch the App afresh; return the seconds until it answered."""
        started = time.perf_counter()
        self.child.send(f"launch {self.port}")
        answer = self.child.read()
        self.url = answer["url"]
        wait_healthy(self.url, None)
        return time.perf_counter() - started

    def stop(self) -> None:
        if self.url:
            self.child.send("close")
            self.child.read()
            self.url = ""

    def login(self, context: Any) -> None:
        """FiftyOne's App has no login."""

    def visit(self, context: Any) -> dict[str, Any]:
        """One visit: the first screen of the grid, then the scroll."""
        page = context.new_page()
        try:
            grid = navigate(page, self.url, FO_SPEC, ["screen"])
            out: dict[str, Any] = {
                "first_screen_ms": grid.get("screen"),
                "first_screen_tiles": len(grid.get("screen_names") or []),
                "timed_out_lake": grid["timed_out"],
            }
            out.update(scroll_summary(scroll(page, FO_SPEC)))
        finally:
            page.close()
        return out


# One visit's steps ------------------------------------------------------------------------------


def navigate(page: Any, url: str, spec: dict[str, str], goals: list[str]) -> dict[str, Any]:
    """Load `url` and watch its goals from the navigation's start (times in ms from it)."""
    page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
    return page.evaluate(
        "([spec, goals, settle, timeout]) => __bench.watch(spec, goals, {}, settle, timeout, 0)",
        [spec, goals, SETTLE_MS, TIMEOUT_MS],
    )


def type_query(page: Any, spec: dict[str, str], query: str) -> dict[str, Any]:
    """Type `query` into the query box and press Enter; watch its results, count and facets
    from the Enter key's press."""
    page.fill("input[name=query]", query)
    page.evaluate(
        """([spec, settle, timeout]) => {
            const B = window.__bench;
            const before = {screen: (B.screen(spec) || []).join(","), count: B.text(spec.count),
                            facets: B.facets(spec)};
            document.addEventListener("keydown", (e) => {
                if (e.key === "Enter" && !B.query) B.query = B.watch(
                    spec, ["screen", "count", "facets"], before, settle, timeout,
                    performance.now());
            }, {capture: true});
        }""",
        [spec, SETTLE_MS, TIMEOUT_MS],
    )
    page.press("input[name=query]", "Enter")
    return page.evaluate("() => window.__bench.query")


def click_item(page: Any, spec: dict[str, str], name: str) -> dict[str, Any] | None:
    """Click the tile of `name` and watch its item view from the click (the tile loads the
    page `/items/<name>`), or None if the click opens no item view."""
    page.evaluate(
        """() => document.addEventListener("mousedown", () => {
            sessionStorage.benchClick = String(performance.timeOrigin + performance.now());
        }, {capture: true})"""
    )
    page.locator(f'{spec["tile"]}[{spec["name"]}="{name}"]').click()
    try:
        page.wait_for_url(lambda url: f"/items/{name}" in url, timeout=TIMEOUT_MS)
    except Exception:  # playwright's TimeoutError: the tile opens no item view
        return None
    return page.evaluate(
        """([settle, timeout]) => __bench.watch({}, ["item"], {}, settle, timeout,
            Number(sessionStorage.benchClick) - performance.timeOrigin)""",
        [SETTLE_MS, TIMEOUT_MS],
    )


def scroll(page: Any, spec: dict[str, str]) -> dict[str, Any]:
    return page.evaluate(
        "([spec, items, seconds, timeout]) => __bench.scroll(spec, items, seconds, timeout)",
        [spec, SCROLL_ITEMS, SCROLL_SECONDS, TIMEOUT_MS],
    )


def scroll_summary(run: dict[str, Any]) -> dict[str, Any]:
    """The frames of a scroll (the first, which only starts the clock, left out)."""
    frames = run["frames"][1:]
    long = run["long_frames"]
    return {
        "scroll_longest_frame_ms": max(frames) if frames else None,
        "scroll_frames_over_50ms": sum(1 for f in frames if f > 50),
        "scroll_frames_over_200ms": sum(1 for f in frames if f > 200),
        "scroll_frames": len(frames),
        "scroll_ms": run["took"],
        "scroll_items": round(run["reached"] / run["pitch"]) * run["columns"],
        "scroll_columns": run["columns"],
        "scroll_stalled": run["stalled"],
        "scroll_settle_ms": run["settled"],
        "scroll_long_animation_frames": None if long is None else len(long),
        "scroll_longest_animation_frame_ms": max(long) if long else None,
    }


def count_and_facets(prefix: str, found: dict[str, Any]) -> dict[str, Any]:
    """When a view's count and facets settled, and what they showed, under `prefix`."""
    return {
        f"{prefix}_count_ms": found.get("count_last"),
        f"{prefix}_count": digits(found.get("count_value")),
        f"{prefix}_facets_ms": found.get("facets_last"),
        f"{prefix}_facet_values": count_values(found.get("facets_value")),
    }


def digits(text: str | None) -> int | None:
    found = re.sub(r"\D", "", text or "")
    return int(found) if found else None


def count_values(text: str | None) -> int:
    return len(text.split("|")) if text else 0


# The run ----------------------------------------------------------------------------------------

METRICS = [
    ("first_screen_ms", "first screen of thumbnails, ms"),
    ("lake_count_ms", "lake count shown, ms"),
    ("lake_facets_ms", "lake facets shown, ms"),
    ("query_results_ms", "query: first screen of results, ms"),
    ("query_count_ms", "query: count shown, ms"),
    ("query_facets_ms", "query: facets shown, ms"),
    ("item_click_ms", "item view from a tile's click, ms"),
    ("item_open_ms", "item view opened by URL, ms"),
    ("scroll_longest_frame_ms", "scroll 10k: longest frame, ms"),
    ("scroll_frames_over_50ms", "scroll 10k: frames over 50 ms"),
    ("scroll_frames_over_200ms", "scroll 10k: frames over 200 ms"),
    ("scroll_frames", "scroll 10k: frames"),
    ("scroll_ms", "scroll 10k: duration, ms"),
    ("scroll_settle_ms", "scroll 10k: screen painted after, ms"),
    ("scroll_longest_animation_frame_ms", "scroll 10k: longest LoAF, ms"),
]
TARGETS = {
    "first_screen_ms": 1000,
    "query_results_ms": 1000,
    "query_count_ms": 1000,
    "lake_facets_ms": 1000,
    "query_facets_ms": 1000,
    "scroll_longest_frame_ms": 200,
}


def round_of(app: Any, browser: Any, check: bool) -> dict[str, Any]:
    """A cold start of `app` and two visits in a fresh browser profile: cold, then warm (and,
    if `check`, what the API answers for what the warm visit showed)."""
    result: dict[str, Any] = {"app": app.label, "load_before": os.getloadavg()}
    result["server_start_s"] = app.start()
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(PAGE_JS)
    try:
        try:
            app.login(context)
            failed = None
        except Exception as exc:  # no login, no visit: reported, the run goes on
            failed = f"login: {type(exc).__name__}: {exc}"[:2000]
        for visit in ("cold", "warm"):
            started = time.perf_counter()
            try:
                if failed:
                    raise RuntimeError(failed)
                result[visit] = app.visit(context)
            except Exception as exc:  # a failed visit is reported, the run goes on
                result[visit] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            result[visit]["visit_s"] = time.perf_counter() - started
            print(f"  {app.label} {visit}: {brief(result[visit])}", file=sys.stderr)
        if check and isinstance(app, MetaLakeApp) and "error" not in result["warm"]:
            result["check"] = app.check(result["warm"])
    finally:
        context.close()
        app.stop()  # nothing of this app runs beside the next one
    result["load_after"] = os.getloadavg()
    return result


def brief(visit: dict[str, Any]) -> str:
    if "error" in visit:
        return visit["error"][:300]
    shown = [
        f"{key}={visit[key]:.0f}" for key, _ in METRICS if isinstance(visit.get(key), (int, float))
    ]
    return " ".join(shown)


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.0f}"
    return f"{median:.0f} ({min(values):.0f}-{max(values):.0f})"


def table(rounds: list[dict[str, Any]]) -> list[str]:
    """Median (min-max) of every metric, per app and visit, as Markdown lines."""
    apps = list(dict.fromkeys(r["app"] for r in rounds))
    columns = [(app, visit) for app in apps for visit in ("cold", "warm")]
    lines = [
        "| metric | target | " + " | ".join(f"{a} {v}" for a, v in columns) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in columns) + " |",
    ]
    starts = [
        spread([r["server_start_s"] * 1000 for r in rounds if r["app"] == app])
        if visit == "cold"
        else ""
        for app, visit in columns
    ]
    lines.append("| server start to first answer, ms | | " + " | ".join(starts) + " |")
    for key, title in METRICS:
        cells = []
        for app, visit in columns:
            values = [
                r[visit][key]
                for r in rounds
                if r["app"] == app and isinstance(r.get(visit, {}).get(key), (int, float))
            ]
            cells.append(spread(values))
        if all(c == "-" for c in cells):
            continue
        target = TARGETS.get(key)
        lines.append(
            f"| {title} | {'< ' + str(target) if target else ''} | " + " | ".join(cells) + " |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=OUT / "ui-lake-1m", help="Lake folder.")
    parser.add_argument("--small-items", type=int, default=100_000)
    parser.add_argument("--small-keep", type=Path, default=OUT / "ui-lake-100k")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=18471)
    parser.add_argument("--no-small", action="store_true", help="Leave the 100k lake out.")
    parser.add_argument("--no-fiftyone", action="store_true")
    parser.add_argument(
        "--fiftyone-db",
        type=Path,
        help="Keep FiftyOne's database (and its loaded dataset) in this folder for next time.",
    )
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    builds = {"metalake-1m": build_lake(args.keep, args.items)}
    apps: list[Any] = [MetaLakeApp("metalake-1m", args.keep, args.port, args.items)]
    if not args.no_small or not args.no_fiftyone:
        builds["metalake-100k"] = build_lake(args.small_keep, args.small_items)
    if not args.no_small:
        apps.append(MetaLakeApp("metalake-100k", args.small_keep, args.port + 1, args.small_items))
    if args.build_only:
        return
    OUT.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    rounds: list[dict[str, Any]] = []
    notes: list[str] = []
    with contextmanager(fiftyone_app)(args, notes) as fiftyone:
        if fiftyone is not None:
            apps.append(fiftyone)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for number in range(args.rounds):
                    print(f"round {number + 1} of {args.rounds}", file=sys.stderr)
                    for app in apps:
                        found = round_of(app, browser, check=number == 0)
                        rounds.append({"round": number + 1, **found})
            finally:
                browser.close()
                for app in apps:
                    app.stop()
    checks = {r["app"]: r["check"] for r in rounds if "check" in r}
    lines = table(rounds)
    print("\n".join(lines))
    later = [r for r in rounds if r["round"] > 1]
    if later:  # the first cold start of a lake builds what later ones load (saved bitmaps)
        print("\nRounds after the first:")
        print("\n".join(table(later)))
    for label, found in checks.items():
        print(f"{label}: what the API answers: {json.dumps(found)}")
    for note in notes:
        print(note)
    result = {
        "started": started.isoformat(),
        "query": QUERY,
        "builds": builds,
        "rounds": rounds,
        "checks": checks,
        "notes": notes,
        "fiftyone": fiftyone.loaded if fiftyone is not None else None,
        "table": lines,
        "table_after_first_round": table(later) if later else None,
        "cpus": os.cpu_count(),
    }
    path = OUT / f"ui-{started.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {path}", file=sys.stderr)


def fiftyone_app(args: argparse.Namespace, notes: list[str]) -> Iterator[FiftyOneApp | None]:
    """FiftyOne's App on the small lake's items, or None (with a note why) if it cannot run."""
    if args.no_fiftyone:
        yield None
        return
    rows = fiftyone_rows(args.small_items)
    boxes = json.dumps([image_boxes(k) for k in range(IMAGE_COUNT)])
    blobs = str((args.small_keep / "blobs" / "bench").resolve())
    with FiftyOneChild(
        FIFTYONE_UI_CHILD, str(rows), blobs, boxes, database_dir=args.fiftyone_db
    ) as child:
        if child.process is None:
            notes.append("FiftyOne skipped: no bench venv (`make bench-deps`)")
            yield None
            return
        print(f"FiftyOne: loading {args.small_items} items", file=sys.stderr)
        app = FiftyOneApp(child, args.port + 2)
        app.loaded = child.read()
        how = "reused" if app.loaded.get("reused") else f"loaded in {app.loaded['load']:.0f} s"
        print(f"FiftyOne: {app.loaded['items']} items {how}", file=sys.stderr)
        try:
            yield app
        finally:
            app.stop()


if __name__ == "__main__":
    main()
