"""PyTorch datasets over dataset versions: `DetectionDataset`, one split as (image, target) pairs
in the form torchvision's detection models and reference scripts take.

Needs the `torch` extra: `pip install 'metalake[torch]'`. No torchvision."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote, urlparse

try:
    import torch
    from torch.utils.data import Dataset
except ImportError as missing:
    raise ImportError(
        "metalake.torch needs PyTorch, which is not installed: pip install 'metalake[torch]'"
    ) from missing

import httpx
from PIL import Image

from metalake.client.file_cache import FileCache
from metalake.errors import StorageError, StorageUnavailableError
from metalake.settings import cache_bytes, cache_folder

if TYPE_CHECKING:
    from metalake.client.client import Client

log = logging.getLogger(__name__)

__all__ = ["DetectionDataset", "decode_image"]

Sample = tuple[Any, dict[str, Any]]
Transform = Callable[[torch.Tensor, dict[str, Any]], Any]

REFRESH_PAGE = 200
"""Files whose URLs one refresh renews: the expired file and those after it in the split."""
FETCH_TRIES = 4
EXPIRED = (401, 403)
"""Statuses of an expired signed URL (S3 answers 403, a MetaLake server 403)."""


class _Entry(NamedTuple):
    """One file of the split, as the index read at construction holds it (small, picklable)."""

    file: str
    unique_name: str
    sha256: str
    boxes: list[list[float]]
    labels: list[int]
    areas: list[float]


class DetectionDataset(Dataset[Sample]):
    """One split of a dataset version as `(image, target)` pairs, for `torch.utils.data`.

    `image` is a `torch.uint8` tensor `[3, H, W]` (RGB, decoded with Pillow; EXIF orientation
    is not applied, as in torchvision's `CocoDetection`). `target` holds `boxes` (float32
    `[N, 4]`, xyxy pixels), `labels` (int64 `[N]`), `image_id` (an int: the image's id in this
    split's COCO export, 1 for the first file by export name), `area` (float32 `[N]`: the box's,
    or the polygon's own area as in the COCO export) and `iscrowd` (int64 zeros).

    Labels are the lake's stable label ids, the `category_id`s of the COCO export, so the same
    class has the same number in every version. `categories` maps id to name; `classes[label]`
    is the name too (`"__background__"` at 0, as torchvision's models reserve it, and `"N/A"`
    for ids the version does not use), so `len(classes)` is the `num_classes` of a torchvision
    detection model. Rectangles give their box, polygons their bounding box (no `masks`); lines
    and points are left out, and so are boxes without area, which torchvision's models refuse.

    `transform(image, target)`, if given, gets the tensor and the target and its result is the
    sample: a detection transform must move the boxes with the pixels, so it takes both, as
    torchvision's v2 transforms do (wrap `target["boxes"]` in `tv_tensors.BoundingBoxes` for
    them to see the boxes); an image-only transform is `lambda image, target: (f(image), target)`.

    The index (files and annotations) is read once, here. Bytes are read from the lake's folder
    for an embedded lake on local disk, else fetched through the download URL of each file (a
    server's signed URL or a presigned S3 URL), renewed when it has expired, checked against
    the file's sha256 and kept in a cache folder (`cache_dir`, else `$METALAKE_CACHE_DIR`, else
    `~/.cache/metalake/files`) of at most `cache_bytes` (else `$METALAKE_CACHE_BYTES`, default
    10 GiB), least recently used first out; `cache=False` keeps nothing.

    The dataset pickles for `DataLoader(num_workers=...)`: each worker opens its own HTTP client
    (and its own client of the lake when URLs need renewing) on first use. Its pickled state
    holds the client's connection settings, an API key and secret included.
    """

    def __init__(
        self,
        client: Client,
        version_id: str,
        split: str,
        transform: Transform | None = None,
        *,
        cache: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        cache_bytes: int | None = None,
    ) -> None:
        self.version_id = version_id
        self.split = split
        self.transform = transform
        version = client._transport.dataset_version(version_id)
        self.categories: dict[int, str] = {c["id"]: c["name"] for c in version["categories"]}
        self.classes: list[str] = _classes(self.categories)
        label_ids = {name: id_ for id_, name in self.categories.items()}
        self._entries: list[_Entry] = []
        self._urls: list[str] = []
        for image in client.dataset_files(version_id, split, with_urls=True):
            self._entries.append(_entry(image, label_ids))
            self._urls.append(image["url"])
        self._reopen = dict(client._reopen)
        self._cache = _file_cache(cache, cache_dir, cache_bytes)
        self._pid: int | None = None
        self._http: httpx.Client | None = None
        self._client: Client | None = None

    @property
    def files(self) -> list[str]:
        """The export name of each sample's file, in sample order."""
        return [entry.file for entry in self._entries]

    @property
    def unique_names(self) -> list[str]:
        """The lake's unique name of each sample's file (for `Client.get_file_details`)."""
        return [entry.unique_name for entry in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> Sample:
        index = range(len(self._entries))[index]
        with Image.open(io.BytesIO(self._bytes(index))) as opened:
            image, target = _sample(_rgb(opened), self._entries[index])
        target["image_id"] = index + 1
        if self.transform is not None:
            return self.transform(image, target)
        return image, target

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_pid=None, _http=None, _client=None)
        return state

    def _bytes(self, index: int) -> bytes:
        url = self._urls[index]
        if url.startswith("file://"):
            return Path(unquote(urlparse(url).path)).read_bytes()
        sha256 = self._entries[index].sha256
        if self._cache is not None:
            cached = self._cache.get(sha256)
            if cached is not None:
                return cached
        data = self._fetch(index)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError(
                f"the bytes fetched for {self._entries[index].unique_name!r} do not match its "
                "sha256: the store changed them; make the dataset again to retry"
            )
        if self._cache is not None:
            self._cache.put(sha256, data)
        return data

    def _fetch(self, index: int) -> bytes:
        """GET the file's URL, renewing it once if it has expired, retrying network errors."""
        renewed = False
        for attempt in range(FETCH_TRIES):
            try:
                response = self._http_client().get(self._urls[index])
            except httpx.TransportError as exc:
                log.warning("fetching %s failed (%s), retrying", self._entries[index].file, exc)
                time.sleep(0.2 * 2**attempt)
                continue
            if response.status_code in EXPIRED and not renewed:
                self._renew_urls(index)
                renewed = True
                continue
            if response.status_code >= 500:
                time.sleep(0.2 * 2**attempt)
                continue
            if response.status_code != 200:
                raise StorageError(
                    f"the download URL of {self._entries[index].unique_name!r} answered "
                    f"{response.status_code}: {response.text[:200]}"
                )
            return response.content
        raise StorageUnavailableError(
            f"could not fetch {self._entries[index].unique_name!r} after {FETCH_TRIES} tries: "
            "check that the lake's server or object store is up"
        )

    def _renew_urls(self, index: int) -> None:
        """Read the page of the split that starts at `index` again, for fresh URLs."""
        after = self._entries[index - 1].file if index else None
        transport = self._lake_client()._transport
        page = transport.dataset_page(self.version_id, self.split, after, REFRESH_PAGE, True)
        following = self._entries[index : index + len(page["images"])]
        for offset, (entry, image) in enumerate(zip(following, page["images"], strict=True)):
            if entry.file != image["file"]:
                break
            self._urls[index + offset] = image["url"]
        log.info("renewed the download URLs of %d files", len(page["images"]))

    def _own(self) -> None:
        """Forget connections inherited from another process (a worker's parent)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._http = None
            self._client = None

    def _http_client(self) -> httpx.Client:
        self._own()
        if self._http is None:
            self._http = httpx.Client(timeout=60.0)
        return self._http

    def _lake_client(self) -> Client:
        from metalake.client.client import Client

        self._own()
        if self._client is None:
            self._client = Client(**self._reopen, show_progress=False)
        return self._client


def decode_image(data: bytes) -> torch.Tensor:
    """Image bytes as a `torch.uint8` RGB tensor `[3, H, W]`: Pillow's decode, in a writable
    buffer torch wraps without a copy, permuted to channels first as torchvision's
    `pil_to_tensor` does (a view, not contiguous)."""
    with Image.open(io.BytesIO(data)) as opened:
        rgb = _rgb(opened)
        width, height = rgb.size
        pixels = bytearray(rgb.tobytes())
    return torch.frombuffer(pixels, dtype=torch.uint8).view(height, width, 3).permute(2, 0, 1)


def _rgb(opened: Image.Image) -> Image.Image:
    rgb = opened.convert("RGB") if opened.mode != "RGB" else opened
    rgb.load()
    return rgb


def _sample(rgb: Image.Image, entry: _Entry) -> tuple[torch.Tensor, dict[str, Any]]:
    """The image tensor (as `decode_image` gives it) and the target's tensors, all views of one
    buffer: a DataLoader worker then hands the sample over as one shared-memory segment, not
    five (each costs the main process a file-descriptor transfer; measured 20 vs 25 ms a
    640x480 sample on a loaded 2-core machine)."""
    width, height = rgb.size
    pixels = width * height * 3
    n = len(entry.labels)
    start = -(-pixels // 8) * 8
    buffer = bytearray(rgb.tobytes())
    # extended, not made zeroed and filled: a fresh zeroed buffer of this size costs page
    # faults (2 ms), a copy and an extension reuse freed memory (0.1 ms)
    buffer.extend(bytes(start - pixels + 36 * n))
    flat = torch.frombuffer(buffer, dtype=torch.uint8)
    image = flat[:pixels].view(height, width, 3).permute(2, 0, 1)
    labels = flat[start : start + 8 * n].view(torch.int64)
    iscrowd = flat[start + 8 * n : start + 16 * n].view(torch.int64)
    boxes = flat[start + 16 * n : start + 32 * n].view(torch.float32).view(n, 4)
    area = flat[start + 32 * n : start + 36 * n].view(torch.float32)
    if n:
        labels.copy_(torch.tensor(entry.labels, dtype=torch.int64))
        boxes.copy_(torch.tensor(entry.boxes, dtype=torch.float32))
        area.copy_(torch.tensor(entry.areas, dtype=torch.float32))
    target = {"boxes": boxes, "labels": labels, "area": area, "iscrowd": iscrowd}
    return image, target


def _entry(image: dict[str, Any], label_ids: dict[str, int]) -> _Entry:
    boxes: list[list[float]] = []
    labels: list[int] = []
    areas: list[float] = []
    for annotation in image["annotations"]:
        kind = annotation["type"]
        if kind == "rectangle":
            x, y, w, h = annotation["bbox"]
            box, area = [x, y, x + w, y + h], w * h
        elif kind == "polygon":
            points = annotation["polygon"]
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            box, area = [min(xs), min(ys), max(xs), max(ys)], _polygon_area(points)
        else:
            continue
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        boxes.append([float(v) for v in box])
        labels.append(label_ids[annotation["label"]])
        areas.append(float(area))
    return _Entry(image["file"], image["unique_name"], image["sha256"], boxes, labels, areas)


def _polygon_area(points: list[list[float]]) -> float:
    """The area a polygon encloses (shoelace formula), as the COCO export gives it."""
    twice = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        twice += x1 * y2 - x2 * y1
    return abs(twice) / 2


def _classes(categories: dict[int, str]) -> list[str]:
    """Names by label: `__background__` at 0, `N/A` for ids the version does not use."""
    classes = ["__background__"] + ["N/A"] * max(categories, default=0)
    for id_, name in categories.items():
        classes[id_] = name
    return classes


def _file_cache(
    enabled: bool, folder: str | os.PathLike[str] | None, budget: int | None
) -> FileCache | None:
    if not enabled:
        return None
    return FileCache(
        Path(folder) if folder is not None else cache_folder(),
        budget if budget is not None else cache_bytes(),
    )
