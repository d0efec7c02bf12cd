"""The facts of an ordinary JPEG read from its header bytes, without Pillow.

Pillow's JPEG reader parses every marker before the scan in Python and decodes the EXIF block
when it opens a file: most of an upload's probing time. This reader accepts only the common,
well-formed layout (markers back to back, one frame header, at most one EXIF block, the usual
application segments) and answers None for anything else, which `probe_image` then gives to
Pillow: whatever Pillow would answer for those, error or not, stays its answer. For the files it
accepts, it answers what Pillow does (tests/test_probe_fast_path.py compares the two).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER_BYTES = 1 << 16
"""How much of a file the reader looks at; a JPEG whose scan starts later goes to Pillow."""

FRAME_MARKERS = frozenset(
    {*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)}
)
SKIPPED_MARKERS = frozenset({0xC4, 0xDD, 0xFE})
"""Huffman tables, restart interval and comments: segments Pillow reads past."""
START_OF_SCAN = 0xDA
QUANTIZATION = 0xDB
EXIF_PREFIX = b"Exif\0\0"
ORIENTATION_TAG = 0x0112
SHORT = 3
COLOR_LAYERS = frozenset({1, 3, 4})


@dataclass(frozen=True)
class JpegHeader:
    """What the header says: the stored size and the EXIF orientation (1 if none)."""

    width: int
    height: int
    orientation: int


def read_header(data: bytes) -> JpegHeader | None:
    """The header facts of a JPEG that starts with `data`, or None if Pillow must decide."""
    if not data.startswith(b"\xff\xd8\xff"):
        return None
    position, size, orientation, exif_seen = 2, None, 1, False
    while True:
        if position + 4 > len(data) or data[position] != 0xFF:
            return None
        marker = data[position + 1]
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        end = position + 2 + length
        if length < 2 or end > len(data):
            return None
        segment = data[position + 4 : end]
        if marker == START_OF_SCAN:
            break
        if marker in FRAME_MARKERS:
            if size is not None:
                return None
            size = _frame_size(segment)
            if size is None:
                return None
        elif marker == QUANTIZATION:
            if not _quantization_ok(segment):
                return None
        elif 0xE0 <= marker <= 0xEF:
            if marker == 0xE1 and segment.startswith(EXIF_PREFIX) and not exif_seen:
                exif_seen = True
                found = _exif_orientation(segment[len(EXIF_PREFIX) :])
                if found is None:
                    return None
                orientation = found
            elif not _plain_application_segment(marker, segment):
                return None
        elif marker not in SKIPPED_MARKERS:
            return None
        position = end
    if size is None:
        return None
    return JpegHeader(size[0], size[1], orientation)


def _frame_size(segment: bytes) -> tuple[int, int] | None:
    """Width and height of a frame header Pillow reads without complaint, else None."""
    if len(segment) < 6 or (len(segment) - 6) % 3 or segment[0] != 8:
        return None
    if segment[5] not in COLOR_LAYERS:
        return None
    height, width = struct.unpack_from(">HH", segment, 1)
    if not width or not height:
        return None
    return width, height


def _quantization_ok(segment: bytes) -> bool:
    """Whether every table of a quantization segment is whole (Pillow refuses a torn one)."""
    offset = 0
    while offset < len(segment):
        precision = 1 if segment[offset] < 16 else 2
        offset += 1 + 64 * precision
        if offset > len(segment):
            return False
    return True


def _plain_application_segment(marker: int, segment: bytes) -> bool:
    """An application segment that changes neither the format nor the orientation Pillow
    reports, and that Pillow parses without failing: JFIF, ICC profiles, Adobe, and others
    it only stores. XMP (an orientation of its own), MPF (a multi-picture file), Photoshop
    blocks and torn known segments go to Pillow."""
    if marker == 0xE0:
        return not segment.startswith(b"JFIF") or len(segment) >= 12
    if marker == 0xE1:
        return False
    if marker == 0xE2:
        return segment.startswith(b"ICC_PROFILE\0") and len(segment) >= 14
    if marker == 0xED:
        return not segment.startswith(b"Photoshop 3.0\x00")
    if marker == 0xEE:
        return not segment.startswith(b"Adobe") or len(segment) >= 12
    return True


def _exif_orientation(tiff: bytes) -> int | None:
    """The orientation in the first directory of an EXIF block (1 if it has none), or None
    if the block is anything but plainly well formed."""
    if len(tiff) < 8 or tiff.startswith(EXIF_PREFIX):  # Pillow drops a second prefix too
        return None
    order = {b"II*\0": "<", b"MM\0*": ">"}.get(tiff[:4])
    if order is None:
        return None
    (offset,) = struct.unpack_from(f"{order}L", tiff, 4)
    if offset < 8 or offset + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(f"{order}H", tiff, offset)
    entries = offset + 2
    if entries + 12 * count + 4 > len(tiff):
        return None
    orientation = None
    for start in range(entries, entries + 12 * count, 12):
        tag, kind, values = struct.unpack_from(f"{order}HHL", tiff, start)
        if tag != ORIENTATION_TAG:
            continue
        if orientation is not None or kind != SHORT or values != 1:
            return None
        (orientation,) = struct.unpack_from(f"{order}H", tiff, start + 8)
    return 1 if orientation is None else orientation
