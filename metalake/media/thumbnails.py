"""Image thumbnails, made on first request and cached beside the blobs."""

from __future__ import annotations

import io
from typing import BinaryIO

from metalake.media.probe import pillow

THUMBNAIL_SIZE = 256


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
