"""The JPEG header reader (media/jpeg.py) answers what Pillow does, or leaves the file to it.

Real JPEGs made by Pillow in every layout the reader accepts or must decline (orientations,
gray, CMYK, progressive, ICC, comments, XMP, multi-picture files), then the same headers torn,
flipped and spliced at random: for each, the header reader either declines (None) or gives the
very facts Pillow's own path gives, and `probe_image` answers exactly what Pillow's path answers,
error message included.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from metalake.errors import MediaProbeError
from metalake.media.jpeg import read_header
from metalake.media.probe import MediaFacts, pillow_image_facts, probe_image


def jpeg(mode: str = "RGB", size: tuple[int, int] = (40, 24), **save: object) -> bytes:
    out = io.BytesIO()
    color = {"L": 128, "RGB": (10, 200, 30), "CMYK": (10, 20, 30, 40)}[mode]
    Image.new(mode, size, color).save(out, "JPEG", **save)
    return out.getvalue()


def exif_with(orientation: int | None, extra: dict[int, object] | None = None) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    for tag, value in (extra or {}).items():
        exif[tag] = value
    return exif.tobytes()


def mpo() -> bytes:
    out = io.BytesIO()
    first, second = Image.new("RGB", (30, 20), "red"), Image.new("RGB", (30, 20), "blue")
    first.save(out, "MPO", save_all=True, append_images=[second])
    return out.getvalue()


def xmp_rotated() -> bytes:
    data = jpeg()
    packet = b'<x:xmpmeta><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'
    segment = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    app1 = b"\xff\xe1" + (len(segment) + 2).to_bytes(2, "big") + segment
    return data[:2] + app1 + data[2:]


def segment_offsets(data: bytes) -> list[int]:
    """Where each marker segment of a JPEG's header starts, up to the scan."""
    offsets, position = [], 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        offsets.append(position)
        if data[position + 1] == 0xDA:
            break
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return offsets


def patched(data: bytes, marker: int, offset: int, value: bytes) -> bytes:
    """`data` with `value` written `offset` bytes into the first segment of `marker`."""
    start = next(o for o in segment_offsets(data) if data[o + 1] == marker)
    return data[: start + offset] + value + data[start + offset + len(value) :]


def inserted(data: bytes, marker: int, payload: bytes) -> bytes:
    """`data` with a segment of `marker` holding `payload` right after the start marker."""
    return (
        data[:2]
        + bytes([0xFF, marker])
        + (len(payload) + 2).to_bytes(2, "big")
        + payload
        + data[2:]
    )


PHOTOSHOP = b"Photoshop 3.0\x008BIM\x03\xed\x00\x00\x00\x00\x00\x10" + b"\x00" * 16

SAMPLES = {
    "plain": jpeg(),
    "gray": jpeg("L"),
    "cmyk": jpeg("CMYK"),
    "progressive": jpeg(progressive=True),
    "optimized": jpeg(optimize=True, quality=40),
    "icc": jpeg(icc_profile=b"\0" * 300),
    "comment": jpeg(comment=b"a comment"),
    "restart interval": jpeg(restart_marker_blocks=1),
    "exif without orientation": jpeg(exif=exif_with(None, {0x010F: "camera"})),
    "xmp orientation": xmp_rotated(),
    "multi-picture": mpo(),
    "big": jpeg(size=(1920, 1080)),
    **{f"orientation {o}": jpeg(exif=exif_with(o)) for o in range(0, 10)},
    "12-bit frame": patched(jpeg(), 0xC0, 4, b"\x0c"),
    "2-layer frame": patched(jpeg(), 0xC0, 9, b"\x02"),
    "zero width": patched(jpeg(), 0xC0, 7, b"\x00\x00"),
    "frame with a stray byte": patched(jpeg(), 0xC0, 3, b"\x12"),
    "two frames": inserted(jpeg(), 0xC0, bytes.fromhex("0800100010") + b"\x01\x01\x11\x00"),
    "torn quantization table": inserted(jpeg(), 0xDB, b"\x00" + b"\x01" * 9),
    "photoshop block": inserted(jpeg(), 0xED, PHOTOSHOP),
    "torn photoshop block": inserted(jpeg(), 0xED, PHOTOSHOP[:22]),
    "short jfif": patched(jpeg(), 0xE0, 2, b"\x00\x07"),
    "adobe": inserted(jpeg(), 0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01"),
    "short adobe": inserted(jpeg(), 0xEE, b"Adobe\x00"),
    "short icc": inserted(jpeg(), 0xE2, b"ICC_PROFILE\x00"),
    "two exif blocks": inserted(jpeg(exif=exif_with(6)), 0xE1, b"Exif\x00\x00" + exif_with(1)[6:]),
    "fill bytes": (lambda d: d[:2] + b"\xff" + d[2:])(jpeg()),
    "png": (lambda out: (Image.new("RGB", (5, 5)).save(out, "PNG"), out.getvalue())[1])(
        io.BytesIO()
    ),
    "empty": b"",
    "not an image": b"hello, world",
}


def pillow_answer(data: bytes) -> MediaFacts | str:
    try:
        return pillow_image_facts(io.BytesIO(data))
    except MediaProbeError as exc:
        return f"error: {exc}"


def probe_answer(source: Path | io.BytesIO) -> MediaFacts | str:
    try:
        return probe_image(source)
    except MediaProbeError as exc:
        return f"error: {exc}"


def check_same(data: bytes) -> bool:
    """Assert the reader agrees with Pillow on `data`; True if it did not decline."""
    header = read_header(data)
    expected = pillow_answer(data)
    if header is not None:
        assert isinstance(expected, MediaFacts), expected
        rotated = header.orientation in {5, 6, 7, 8}
        size = (header.height, header.width) if rotated else (header.width, header.height)
        assert (expected.mime, expected.width, expected.height) == ("image/jpeg", *size)
    assert probe_answer(io.BytesIO(data)) == expected
    return header is not None


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_layout_reads_as_pillow_reads_it(name: str, tmp_path: Path):
    data = SAMPLES[name]
    accepted = check_same(data)
    path = tmp_path / "file.jpg"
    path.write_bytes(data)
    assert probe_answer(path) == pillow_answer(data)
    accepted_names = {
        "plain",
        "gray",
        "cmyk",
        "progressive",
        "optimized",
        "icc",
        "comment",
        "restart interval",
        "exif without orientation",
        "big",
        "adobe",
        *(f"orientation {o}" for o in range(0, 10)),
    }
    assert accepted == (name in accepted_names), name


def test_rotated_orientations_swap_width_and_height():
    facts = probe_image(io.BytesIO(jpeg(size=(40, 24), exif=exif_with(6))))
    assert (facts.width, facts.height) == (24, 40)
    assert read_header(jpeg(exif=exif_with(6))) is not None


def test_a_stream_is_left_where_it_was():
    stream = io.BytesIO(SAMPLES["plain"])
    probe_image(stream)
    assert stream.tell() == 0


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A sample's bytes with a few bytes of its header changed, cut or repeated."""
    data = bytearray(draw(st.sampled_from(sorted(SAMPLES.values(), key=len)[3:])))
    end = min(len(data), 1200)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        starts = segment_offsets(bytes(data))
        if starts and draw(st.booleans()):  # near a segment's start, where its fields are
            at = draw(st.sampled_from(starts)) + draw(st.integers(0, 12))
        else:
            at = draw(st.integers(0, max(0, min(end, len(data)) - 1)))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[at:]
    return bytes(data)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's notes on damaged EXIF blocks
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_headers_read_as_pillow_reads_them_or_go_to_pillow(data: bytes):
    check_same(data)
