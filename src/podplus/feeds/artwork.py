"""What podcast directories require of a show's artwork, judged on what ffprobe reads
from the image's headers (nothing is decoded in the server). The file is read as one
picture (ffprobe's ``image2`` demuxer), never as a container: an AVI of JPEG frames or an
animation is not artwork, whatever its first frame is.

Apple Podcasts: "a minimum size of 1400 x 1400 pixels and a maximum size of 3000 x 3000
pixels, in JPEG or PNG format, … with appropriate file extensions (.jpg, .png), and in the
RGB colorspace" (A Podcaster's Guide to RSS, ``<itunes:image>``). Spotify asks the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MIN_ARTWORK_PX = 1400
MAX_ARTWORK_PX = 3000
# The demuxers that read a file as one still picture (``image2`` is the one podplus asks
# for; the ``_pipe`` ones are ffprobe's own names for a JPEG or PNG it recognised).
IMAGE_CONTAINERS = frozenset({"image2", "png_pipe", "jpeg_pipe"})
# ffprobe's codec name → the file's extension and MIME type.
ARTWORK_FORMATS = {"mjpeg": (".jpg", "image/jpeg"), "png": (".png", "image/png")}
ARTWORK_MEDIA_TYPES = tuple(media_type for _, media_type in ARTWORK_FORMATS.values())
# Pixel formats that hold colour as RGB (JPEG stores it as YCbCr, a transform of RGB;
# a palette PNG's palette is RGB). Grey, CMYK/YCCK and anything unknown are refused.
RGB_PIXEL_FORMATS = frozenset(
    {
        "rgb24", "bgr24", "rgba", "bgra", "rgb48be", "rgb48le", "rgba64be", "rgba64le", "pal8",
        "yuvj420p", "yuvj422p", "yuvj440p", "yuvj444p", "yuvj411p",
        "yuv420p", "yuv422p", "yuv440p", "yuv444p", "yuv411p",
    }
)  # fmt: skip


class ArtworkRule(StrEnum):
    """The rule an image broke."""

    FORMAT = "format"
    SQUARE = "square"
    SIZE = "size"
    COLOUR = "colour"


@dataclass(frozen=True)
class ImageFacts:
    """What an image declares: its codec, size and pixel format, and the demuxer that
    read it (``container``, ffprobe's ``format_name``) with how many streams it found."""

    codec: str | None
    width: int | None
    height: int | None
    pixel_format: str | None
    container: str | None
    streams: int


def artwork_problem(facts: ImageFacts) -> tuple[ArtworkRule, str] | None:
    """The first rule ``facts`` break and why, or None for artwork the directories take.

    >>> artwork_problem(ImageFacts("png", 1400, 1400, "rgb24", "image2", 1)) is None
    True
    >>> artwork_problem(ImageFacts("png", 1600, 1400, "rgb24", "image2", 1))
    (<ArtworkRule.SQUARE: 'square'>, 'artwork must be square; this image is 1600×1400 px')
    """
    if facts.container not in IMAGE_CONTAINERS or facts.streams != 1:
        return ArtworkRule.FORMAT, (
            "artwork must be a JPEG or PNG image; this file is not one still picture"
        )
    if facts.codec not in ARTWORK_FORMATS:
        return ArtworkRule.FORMAT, (
            f"artwork must be a JPEG or PNG image; this one is {facts.codec or 'not an image'}"
        )
    width, height = facts.width or 0, facts.height or 0
    if width != height:
        return ArtworkRule.SQUARE, f"artwork must be square; this image is {width}×{height} px"
    if not MIN_ARTWORK_PX <= width <= MAX_ARTWORK_PX:
        return ArtworkRule.SIZE, (
            f"artwork must be {MIN_ARTWORK_PX} to {MAX_ARTWORK_PX} px on each side; "
            f"this image is {width}×{height} px"
        )
    if facts.pixel_format not in RGB_PIXEL_FORMATS:
        return ArtworkRule.COLOUR, (
            f"artwork must be in the RGB colour space; this image is "
            f"{facts.pixel_format or 'of an unknown colour space'}"
        )
    return None
