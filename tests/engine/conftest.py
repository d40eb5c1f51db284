"""Generated test audio for the engine (made once per session) and a runner for its CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.media_files import ffmpeg, image, speech, tone

ENGINE = [sys.executable, "-m", "podplus.engine"]


@pytest.fixture(scope="session")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Short clips at known levels: speech (espeak-ng), tones and noise (lavfi)."""
    folder = tmp_path_factory.mktemp("audio")
    clips = {
        "intro": tone(folder / "intro.wav", seconds=2.0, frequency_hz=660, volume_db=-6),
        "speech": speech(folder / "speech.wav"),
        "speech_quiet": folder / "speech_quiet.wav",
        "speech_loud": folder / "speech_loud.flac",
        "outro": tone(
            folder / "outro.mp3",
            seconds=2.0,
            frequency_hz=330,
            volume_db=-10,
            sample_rate=48000,
            channels=2,
        ),
        "bed": tone(folder / "bed.mp3", seconds=3.0, frequency_hz=110, volume_db=0),
        "noise": folder / "noise.wav",
        "cover": image(folder / "cover.jpg"),
    }
    # The same voice recorded 20 dB quieter (another day, another microphone).
    ffmpeg("-i", str(clips["speech"]), "-af", "volume=-20dB", str(clips["speech_quiet"]))
    ffmpeg("-i", str(clips["speech"]), "-af", "volume=+9dB", str(clips["speech_loud"]))
    ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=3:c=pink:a=0.05:r=22050", str(clips["noise"]))
    return clips


@pytest.fixture
def write_manifest(tmp_path: Path) -> Callable[..., Path]:
    def write(**fields: Any) -> Path:
        path = tmp_path / "manifest.json"
        path.write_text(json.dumps(fields, default=str))
        return path

    return write


def run_engine(*args: str | Path, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ENGINE, *map(str, args)], capture_output=True, text=True, timeout=timeout_s
    )


def events(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def measure(path: Path) -> dict[str, float]:
    """Loudness of a file with ffmpeg's ebur128, as the issue's acceptance says."""
    result = run_engine("loudness", path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def probe(path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            "-show_chapters",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]
