"""Image thumbnails, made on first request and cached beside the blobs."""

from __future__ import annotations

import io
from typing import BinaryIO

from metalake.errors import InvalidArgumentError
from metalake.media.probe import pillow

THUMBNAIL_SIZE = 256
THUMBNAIL_SIZES = (64, 128, 256, 512, 1024)
"""The sizes a thumbnail is made in: a few, so that each image has a bounded number cached."""


def check_thumbnail_size(size: object) -> int:
    """`size` if it is one of THUMBNAIL_SIZES, else raise."""
    if type(size) is not int or size not in THUMBNAIL_SIZES:
        raise InvalidArgumentError(
            f"thumbnail size must be one of {', '.join(map(str, THUMBNAIL_SIZES))}, not {size!r}"
        )
    return size


def make_thumbnail(source: BinaryIO, size: int = THUMBNAIL_SIZE) -> bytes:
    """A JPEG no larger than `size` x `size`, upright (EXIF orientation applied)."""
    from PIL import ImageOps

    with pillow().open(source) as img:
        img.draft("RGB", (size, size))
        img = ImageOps.exif_transpose(img)
        img.thumbnail((size, size))
        out = io.BytesIO()
        img.convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()
