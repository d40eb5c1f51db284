"""What a media file holds, from ffprobe. Building the command and reading its report are
pure functions, so the web side can run them with its own asyncio subprocess."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podplus.engine.errors import InputError
from podplus.engine.ffmpeg import FORBIDDEN_DEMUXERS, file_url, last_line, run_briefly, safe_input

IMAGE_CODECS = frozenset({"mjpeg", "png", "webp", "bmp", "gif", "tiff"})


@dataclass(frozen=True)
class ProbeResult:
    format_name: str
    duration_s: float | None
    codec: str | None
    sample_rate: int | None
    channels: int | None
    bit_rate: int | None
    has_audio: bool
    is_image: bool
    tags: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "format": self.format_name,
            "duration_s": self.duration_s,
            "codec": self.codec,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "bit_rate": self.bit_rate,
            "tags": self.tags,
        }


def ffprobe_args(path: Path, *, image: bool = False) -> list[str]:
    """The ffprobe command whose stdout ``parse_ffprobe`` reads (after ``json.loads``)."""
    return [
        "ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
        *safe_input(path, demuxer="image2" if image else None),
    ]  # fmt: skip


def parse_ffprobe(report: dict[str, Any]) -> ProbeResult:
    """ffprobe's JSON report as a ``ProbeResult``; check ``is_forbidden_format`` too."""
    streams = report.get("streams") or []
    container = report.get("format") or {}
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    format_name = str(container.get("format_name") or "")
    main = audio or video or {}
    duration = _number(container.get("duration"))
    if duration is None and audio is not None:
        duration = _number(audio.get("duration"))
    tags = {str(k).lower(): str(v) for k, v in (container.get("tags") or {}).items()}
    return ProbeResult(
        format_name=format_name,
        duration_s=duration if audio is not None else None,
        codec=main.get("codec_name"),
        sample_rate=_integer(audio.get("sample_rate")) if audio else None,
        channels=_integer(audio.get("channels")) if audio else None,
        bit_rate=_integer(container.get("bit_rate")) or _integer(main.get("bit_rate")),
        has_audio=audio is not None,
        is_image=audio is None and video is not None and video.get("codec_name") in IMAGE_CODECS,
        tags=tags,
    )


def is_forbidden_format(format_name: str) -> bool:
    """Whether the demuxer ffprobe chose (``mov,mp4,m4a,...`` lists its names) would let a
    crafted upload open other files; such an input is refused before ffmpeg reads it."""
    return bool(set(format_name.split(",")) & FORBIDDEN_DEMUXERS)


def probe(path: Path, *, image: bool = False) -> ProbeResult:
    """Probe ``path`` or raise ``InputError`` saying why it can't be used. ``image`` reads
    it as one picture (the image2 demuxer, pinned to no file pattern)."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    result = run_briefly(ffprobe_args(path, image=image))
    if result.returncode != 0:
        reason = last_line(result.stderr)
        raise InputError(
            f"{path}: ffprobe can't read it: {reason.replace(file_url(path) + ': ', '')}"
        )
    try:
        found = parse_ffprobe(json.loads(result.stdout))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: ffprobe gave no report") from exc
    if not image and is_forbidden_format(found.format_name):
        raise InputError(f"{path}: {found.format_name} files are not accepted as input")
    return found


def probe_audio(path: Path) -> ProbeResult:
    found = probe(path)
    if not found.has_audio:
        raise InputError(f"{path}: has no audio stream")
    if found.duration_s == 0:
        raise InputError(f"{path}: the audio in it is empty (0 seconds)")
    return found


def probe_image(path: Path) -> ProbeResult:
    found = probe(path, image=True)
    if not found.is_image:
        raise InputError(f"{path}: the cover is not a JPEG, PNG or WebP image")
    return found


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)
