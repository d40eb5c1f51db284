"""The episode every benchmark assembles, generated once with ffmpeg and espeak-ng.

Three content segments of tone-and-noise "speech", a spoken intro and outro, and a music
bed, all 44.1 kHz stereo 16-bit WAV: the format the naive baselines can read with the
``wave`` module, and a realistic upload for podplus. Files are cached by their spec
under ``benchmarks/work/audio/`` so reruns skip the generation.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.processes import BENCH_DIR

SAMPLE_RATE_HZ = 44100
CHANNELS = 2
AUDIO_CACHE_DIR = BENCH_DIR / "work" / "audio"


@dataclass(frozen=True)
class EpisodeSpec:
    total_s: float = 1800.0
    segments: int = 3
    bed_s: float = 60.0
    intro_text: str = "Welcome to the podplus benchmark episode."
    outro_text: str = "That was the podplus benchmark. Thanks for listening."


@dataclass(frozen=True)
class EpisodeFiles:
    segments: list[Path]
    intro: Path
    outro: Path
    bed: Path

    @property
    def all_paths(self) -> list[Path]:
        return [self.intro, *self.segments, self.outro, self.bed]


def episode_files(spec: EpisodeSpec, *, cache_dir: Path = AUDIO_CACHE_DIR) -> EpisodeFiles:
    """Generate (or reuse) the files for ``spec``."""
    key = hashlib.sha256(json.dumps(asdict(spec), sort_keys=True).encode()).hexdigest()[:12]
    folder = cache_dir / key
    files = EpisodeFiles(
        segments=[folder / f"segment-{index + 1}.wav" for index in range(spec.segments)],
        intro=folder / "intro.wav",
        outro=folder / "outro.wav",
        bed=folder / "bed.wav",
    )
    if all(path.exists() for path in files.all_paths):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    _speech(spec.intro_text, files.intro)
    _speech(spec.outro_text, files.outro)
    spoken_s = _duration_s(files.intro) + _duration_s(files.outro)
    segment_s = max(1.0, (spec.total_s - spoken_s) / spec.segments)
    for index, path in enumerate(files.segments):
        _voice_like(path, duration_s=segment_s, pitch_hz=110.0 + 40.0 * index)
    _bed(files.bed, duration_s=spec.bed_s)
    return files


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
    )


def _wav_out(path: Path) -> list[str]:
    return ["-ar", str(SAMPLE_RATE_HZ), "-ac", str(CHANNELS), "-c:a", "pcm_s16le", str(path)]


def _voice_like(path: Path, *, duration_s: float, pitch_hz: float) -> None:
    # A tone whose level rises and falls at syllable rate over quiet noise: loud and quiet
    # stretches like speech, so loudness analysis and ducking have something to do.
    expression = (
        f"0.35*sin(2*PI*{pitch_hz}*t)*(0.55+0.45*sin(2*PI*3.1*t))*(0.7+0.3*sin(2*PI*0.21*t))"
    )
    _ffmpeg(
        "-f", "lavfi", "-i", f"aevalsrc={expression}:s={SAMPLE_RATE_HZ}:d={duration_s:.3f}",
        "-f", "lavfi", "-i", f"anoisesrc=c=pink:a=0.02:r={SAMPLE_RATE_HZ}:d={duration_s:.3f}",
        "-filter_complex", "amix=inputs=2:normalize=0",
        *_wav_out(path),
    )  # fmt: skip


def _bed(path: Path, *, duration_s: float) -> None:
    chord = "+".join(f"0.12*sin(2*PI*{hz}*t)" for hz in (261.63, 329.63, 392.0))
    _ffmpeg(
        "-f", "lavfi", "-i", f"aevalsrc={chord}:s={SAMPLE_RATE_HZ}:d={duration_s:.3f}",
        *_wav_out(path),
    )  # fmt: skip


def _speech(text: str, path: Path) -> None:
    raw = path.with_suffix(".espeak.wav")
    if shutil.which("espeak-ng") is None:
        # No speech synthesiser: two seconds of tone stand in for the spoken part.
        _ffmpeg("-f", "lavfi", "-i", f"sine=frequency=300:sample_rate={SAMPLE_RATE_HZ}:d=2",
                *_wav_out(path))  # fmt: skip
        return
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
    _ffmpeg("-i", str(raw), *_wav_out(path))
    raw.unlink()


def _duration_s(path: Path) -> float:
    import wave

    with wave.open(str(path), "rb") as reader:
        return reader.getnframes() / reader.getframerate()
