"""Looking inside uploads without blocking the event loop: ffprobe and ffmpeg as asyncio
subprocesses, with the reading of their output left to pure functions."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMAGE_CODECS = frozenset({"mjpeg", "png", "webp", "bmp", "gif", "tiff", "jpeg2000"})
PROBE_TIMEOUT_S = 60.0
LOUDNESS_TIMEOUT_S = 1800.0
# The summary ebur128 prints at the end: "I:         -16.2 LUFS".
INTEGRATED_PATTERN = re.compile(r"^\s*I:\s+(-?[\d.]+|-inf)\s+LUFS", re.MULTILINE)


class ProbeFailed(Exception):
    """ffprobe or ffmpeg could not read the file."""


@dataclass(frozen=True)
class MediaInfo:
    has_audio: bool
    is_image: bool
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    codec: str | None


def probe_args(path: Path) -> list[str]:
    # file: and the whitelist keep a crafted upload (a playlist, say) from opening anything else.
    return [
        "ffprobe",
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        f"file:{path}",
    ]


def loudness_args(path: Path) -> list[str]:
    return [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-protocol_whitelist",
        "file",
        "-i",
        f"file:{path}",
        "-map",
        "0:a:0",
        "-filter:a",
        "ebur128",
        "-f",
        "null",
        "-",
    ]


def parse_probe(report: dict[str, Any]) -> MediaInfo:
    streams = report.get("streams") or []
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    duration = _number(report.get("format", {}).get("duration"))
    if audio is not None:
        return MediaInfo(
            has_audio=True,
            is_image=False,
            duration_s=duration if duration is not None else _number(audio.get("duration")),
            sample_rate=_integer(audio.get("sample_rate")),
            channels=_integer(audio.get("channels")),
            codec=audio.get("codec_name"),
        )
    is_image = video is not None and video.get("codec_name") in IMAGE_CODECS
    return MediaInfo(
        has_audio=False,
        is_image=is_image,
        duration_s=None,
        sample_rate=None,
        channels=None,
        codec=video.get("codec_name") if video else None,
    )


def parse_integrated_lufs(stderr: str) -> float | None:
    matches = INTEGRATED_PATTERN.findall(stderr)
    if not matches or matches[-1] == "-inf":
        return None  # silence has no loudness
    return float(matches[-1])


async def probe(path: Path) -> MediaInfo:
    stdout, _ = await _run(probe_args(path), timeout_s=PROBE_TIMEOUT_S, path=path)
    try:
        return parse_probe(json.loads(stdout or b"{}"))
    except json.JSONDecodeError as exc:
        raise ProbeFailed("ffprobe gave no readable report") from exc


async def integrated_lufs(path: Path, *, nice: int) -> float | None:
    _, stderr = await _run(
        ["nice", "-n", str(nice), *loudness_args(path)], timeout_s=LOUDNESS_TIMEOUT_S, path=path
    )
    return parse_integrated_lufs(stderr.decode(errors="replace"))


async def _run(argv: list[str], *, timeout_s: float, path: Path) -> tuple[bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=timeout_s)
    except BaseException:
        if process.returncode is None:
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        # Our storage path means nothing to the uploader; keep only ffmpeg's reason.
        text = stderr.decode(errors="replace").replace(f"file:{path}: ", "").replace(str(path), "")
        tail = text.strip().splitlines()[-1:] or ["unreadable"]
        raise ProbeFailed(tail[0].strip().rstrip("."))
    return stdout, stderr


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)
