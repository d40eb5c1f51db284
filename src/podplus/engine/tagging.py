"""A tag ffmpeg's mp3 muxer can't write the way players read it: the comment.

ffmpeg writes an mp3's ``comment`` as a ``TXXX`` frame described "comment"; players and
podcast apps read the comment from a ``COMM`` frame. The finished file (still in the work
folder) gets its ID3v2.3 tag rebuilt with that one frame swapped and every other frame
kept as it is, in its order: ffprobe and some players list chapters in the order their
``CHAP`` frames appear, and a general tag library (mutagen) re-sorts frames by size.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from podplus.engine.errors import OutputError

HEADER = struct.Struct(">3sBBBI")  # "ID3", major, revision, flags, syncsafe size
FRAME = struct.Struct(">4sIH")  # v2.3: id, plain 32-bit size, flags
LATIN1, UTF16 = 0, 1


class TagError(OutputError):
    """The tag ffmpeg wrote isn't the plain ID3v2.3 one this expects."""


def write_mp3_comment(path: Path, comment: str) -> None:
    data = path.read_bytes()
    magic, major, _, flags, size_bits = HEADER.unpack_from(data)
    if magic != b"ID3" or major != 3 or flags:
        raise TagError("expected the plain ID3v2.3 tag ffmpeg writes")
    size = _unsyncsafe(size_bits)
    frames, offset = [], HEADER.size
    end = HEADER.size + size
    while offset + FRAME.size <= end and data[offset] != 0:
        frame_id, frame_size, _ = FRAME.unpack_from(data, offset)
        body = data[offset + FRAME.size : offset + FRAME.size + frame_size]
        if not (frame_id == b"TXXX" and _description(body) == "comment"):
            frames.append(data[offset : offset + FRAME.size + frame_size])
        offset += FRAME.size + frame_size
    frames.append(_frame(b"COMM", bytes([UTF16]) + b"eng" + _utf16("") + _utf16(comment)[:-2]))
    tag = b"".join(frames)
    header = HEADER.pack(b"ID3", 3, 0, 0, _syncsafe(len(tag)))
    partial = path.with_name(path.name + ".tagged")
    partial.write_bytes(header + tag + data[end:])
    os.replace(partial, path)


def _frame(frame_id: bytes, body: bytes) -> bytes:
    return FRAME.pack(frame_id, len(body), 0) + body


def _utf16(text: str) -> bytes:
    return b"\xff\xfe" + text.encode("utf-16-le") + b"\x00\x00"


def _description(body: bytes) -> str | None:
    if not body:
        return None
    encoding, rest = body[0], body[1:]
    if encoding == LATIN1:
        return rest.split(b"\x00", 1)[0].decode("latin-1")
    if encoding == UTF16:
        for index in range(0, len(rest) - 1, 2):
            if rest[index : index + 2] == b"\x00\x00":
                return rest[:index].decode("utf-16")
    return None


def _unsyncsafe(value: int) -> int:
    return ((value & 0x7F) | ((value >> 8 & 0x7F) << 7) | ((value >> 16 & 0x7F) << 14)) | (
        (value >> 24 & 0x7F) << 21
    )


def _syncsafe(value: int) -> int:
    if value >= 1 << 28:
        raise TagError("the tag is too large for ID3")
    return (
        (value & 0x7F)
        | ((value >> 7 & 0x7F) << 8)
        | ((value >> 14 & 0x7F) << 16)
        | ((value >> 21 & 0x7F) << 24)
    )
