"""Test audio and images, made on the spot with ffmpeg's lavfi sources and espeak-ng."""

from __future__ import annotations

import subprocess
from pathlib import Path


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly, overwriting its output; a failure fails the test."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def tone(
    path: Path,
    *,
    seconds: float = 2.0,
    frequency_hz: int = 440,
    volume_db: float = -20.0,
    sample_rate: int = 44100,
    channels: int = 1,
) -> Path:
    """A sine tone at a known level, encoded by the file name's extension."""
    layout = "mono" if channels == 1 else "stereo"
    ffmpeg(
        "-f", "lavfi",
        "-i", f"sine=frequency={frequency_hz}:sample_rate={sample_rate}:duration={seconds}",
        "-af", f"volume={volume_db}dB,aformat=channel_layouts={layout}",
        str(path),
    )  # fmt: skip
    return path


def image(path: Path, *, size: str = "300x300") -> Path:
    ffmpeg("-f", "lavfi", "-i", f"color=c=teal:s={size}", "-frames:v", "1", str(path))
    return path


def speech(path: Path, text: str = "Welcome to the show. Today we talk about podcasts.") -> Path:
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
    return path


def photo(path: Path, *, size_px: int = 3000, quality: int = 3) -> Path:
    """A detailed square JPEG (ffmpeg's test pattern): any re-encoding changes its bytes."""
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=s={size_px}x{size_px}", "-frames:v", "1",
        "-q:v", str(quality), str(path),
    )  # fmt: skip
    return path
