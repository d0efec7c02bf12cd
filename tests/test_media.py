"""Probing media: real files made by Pillow and PyAV, and files that are not what they claim."""

from __future__ import annotations

from pathlib import Path

import pytest

from metalake import MediaProbeError
from metalake.media.probe import probe
from tests.media_factory import make_exif_rotated_jpeg, make_image, make_video


def test_png_and_jpeg(tmp_path: Path):
    png = probe(make_image(tmp_path / "a.png", (30, 20), format="PNG"), "image", "a.png")
    assert (png.mime, png.width, png.height) == ("image/png", 30, 20)
    jpg = probe(make_exif_rotated_jpeg(tmp_path / "r.jpg", (30, 20)), "image", "r.jpg")
    assert (jpg.mime, jpg.width, jpg.height) == ("image/jpeg", 20, 30)


def test_mkv_frames_are_counted_from_packets(tmp_path: Path):
    facts = probe(make_video(tmp_path / "v.mkv", frames=7, fps=7), "video", "v.mkv")
    assert facts.frame_count == 7
    assert facts.duration == pytest.approx(1.0, abs=0.15)


def test_other_files_get_a_mime_from_their_name(tmp_path: Path):
    (tmp_path / "x.csv").write_text("a,b")
    assert probe(tmp_path / "x.csv", "other", "x.csv").mime == "text/csv"
    assert probe(tmp_path / "x.csv", "other", "x.unknownext").mime == "application/octet-stream"


@pytest.mark.parametrize("content_type, name", [("image", "x.jpg"), ("video", "x.mp4")])
def test_files_that_are_not_media_are_refused(tmp_path: Path, content_type: str, name: str):
    (tmp_path / name).write_bytes(b"\x00garbage" * 100)
    with pytest.raises(MediaProbeError, match=f"not a readable {content_type}"):
        probe(tmp_path / name, content_type, name)
