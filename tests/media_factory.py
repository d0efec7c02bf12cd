"""Real media files for tests, made with Pillow and PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image


def make_image(
    path: Path, size: tuple[int, int] = (64, 48), color: int = 0, **save: object
) -> Path:
    """A small image whose pixels depend on `color`, so different colors give different bytes."""
    Image.new("RGB", size, ((color * 37) % 256, (color * 91) % 256, 128)).save(path, **save)
    return path


def make_exif_rotated_jpeg(path: Path, size: tuple[int, int] = (80, 40)) -> Path:
    """A JPEG stored landscape with EXIF orientation 6 (display rotated: portrait)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", size, (10, 200, 30)).save(path, exif=exif.tobytes())
    return path


def make_video(
    path: Path, frames: int = 12, size: tuple[int, int] = (64, 48), fps: int = 24
) -> Path:
    """A short H.264 video in the container the suffix names (.mp4 or .mkv)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            pixels = np.full((size[1], size[0], 3), (i * 20) % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_folder(folder: Path, count: int, suffix: str = ".jpg") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        make_image(folder / f"img_{i:03d}{suffix}", color=i)
    return folder
