"""Read the facts of a media file (size, format, dimensions, video timing) without decoding it.

PyAV and Pillow are imported on first use: together they cost a CLI command tens of
milliseconds of start-up that most commands never need.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO

from metalake.errors import MediaProbeError
from metalake.media.jpeg import HEADER_BYTES, JpegHeader, read_header

if TYPE_CHECKING:
    import av.container

EXIF_ORIENTATION = 0x0112
ROTATED_ORIENTATIONS = {5, 6, 7, 8}
MAX_IMAGE_PIXELS = 1 << 30
"""Pillow's decompression-bomb limit, raised from its default of 89 million pixels."""


def pillow() -> ModuleType:
    """`PIL.Image`, with the lake's pixel limit set before any image is opened."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    return Image


@dataclass(frozen=True)
class MediaFacts:
    mime: str
    width: int | None = None
    height: int | None = None
    frame_count: int | None = None
    fps: float | None = None
    duration: float | None = None


Source = Path | BinaryIO
"""A file to probe: a path, or a seekable binary stream (e.g. an object in S3)."""


def probe_image(path: Source) -> MediaFacts:
    """Width and height as displayed (EXIF orientation applied), and the format's mime type.

    An ordinary JPEG is read from its header bytes (`media/jpeg.py`); every other file, and
    any JPEG that reader declines, is opened with Pillow.
    """
    return _facts_of(_jpeg_header(path)) or pillow_image_facts(path)


def jpeg_facts(data: bytes) -> MediaFacts | None:
    """The facts of an ordinary JPEG that starts with `data` (bytes a caller has read anyway),
    or None: then `probe_image` must read the file."""
    return _facts_of(_checked_header(data[:HEADER_BYTES]))


def _facts_of(header: JpegHeader | None) -> MediaFacts | None:
    if header is None:
        return None
    width, height = header.width, header.height
    if header.orientation in ROTATED_ORIENTATIONS:
        width, height = height, width
    return MediaFacts(mime="image/jpeg", width=width, height=height)


def pillow_image_facts(path: Source) -> MediaFacts:
    """`probe_image` as Pillow answers it (for every file the header reader declines)."""
    from PIL import UnidentifiedImageError

    image = pillow()
    try:
        with image.open(path) as img:
            width, height = img.size
            orientation = img.getexif().get(EXIF_ORIENTATION, 1)
            mime = image.MIME.get(img.format or "", "application/octet-stream")
    except UnidentifiedImageError as exc:
        raise MediaProbeError("not a readable image: its format is not one Pillow knows") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaProbeError(f"not a readable image: {_without_paths(exc)}") from exc
    if orientation in ROTATED_ORIENTATIONS:
        width, height = height, width
    return MediaFacts(mime=mime, width=width, height=height)


def _jpeg_header(source: Source) -> JpegHeader | None:
    """The header of an ordinary JPEG, read from the start of `source` (a stream is left where
    it was); None for anything else, including a file that cannot be read."""
    try:
        if isinstance(source, Path):
            with source.open("rb") as f:
                data = f.read(HEADER_BYTES)
        else:
            where = source.tell()
            data = source.read(HEADER_BYTES)
            source.seek(where)
    except OSError:
        return None
    return _checked_header(data)


def _checked_header(data: bytes) -> JpegHeader | None:
    """The header `read_header` finds, if the image is within the lake's pixel limit (Pillow
    decides about bigger ones)."""
    header = read_header(data)
    if header is None or header.width * header.height > MAX_IMAGE_PIXELS:
        return None
    return header


def _without_paths(exc: Exception) -> str:
    """An error's text without the file name the library put in it (a server's path)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).split(" '/", 1)[0]


def _count_frames(container: av.container.InputContainer) -> int:
    return sum(1 for packet in container.demux(video=0) if packet.size)


def probe_video(path: Source, file_name: str) -> MediaFacts:
    """Width, height, fps, duration (s) and frame count of the first video stream.

    Matroska streams carry no frame count or stream duration, so those are counted from the
    packets and taken from the container.
    """
    import av

    try:
        with av.open(str(path) if isinstance(path, Path) else path, mode="r") as container:
            if not container.streams.video:
                raise MediaProbeError("the file has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            else:
                duration = None
            frames = stream.frames or _count_frames(container)
            width, height = stream.codec_context.width, stream.codec_context.height
            mime = _video_mime(container.format.name, file_name)
    except av.FFmpegError as exc:
        raise MediaProbeError(f"not a readable video: {exc.strerror or 'FFmpeg failed'}") from exc
    return MediaFacts(mime, width, height, frames, fps, duration)


def _video_mime(format_name: str, file_name: str) -> str:
    if "matroska" in format_name:
        return "video/x-matroska" if file_name.lower().endswith(".mkv") else "video/webm"
    if "mp4" in format_name:
        return "video/mp4"
    return mimetypes.guess_type(file_name)[0] or "application/octet-stream"


def probe_other(file_name: str) -> MediaFacts:
    """Only the mime type, guessed from the name."""
    return MediaFacts(mime=mimetypes.guess_type(file_name)[0] or "application/octet-stream")


def probe(source: Source, content_type: str, file_name: str) -> MediaFacts:
    """Probe `source` as the given content type (`image`, `video` or `other`)."""
    if content_type == "image":
        return probe_image(source)
    if content_type == "video":
        return probe_video(source, file_name)
    return probe_other(file_name)
