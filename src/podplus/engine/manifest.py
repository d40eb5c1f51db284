"""The episode manifest: parsed and checked into frozen records before any work starts.

Every problem is a ``ManifestError`` whose message starts with the field's path
(``segments[1].trim_start_s: must be a number ≥ 0``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podplus.engine.errors import ManifestError

FORMATS = ("mp3", "m4a", "wav", "flac")
LOSSY_FORMATS = ("mp3", "m4a")


@dataclass(frozen=True)
class Part:
    """One piece of the spoken timeline: the intro, a segment, or the outro."""

    path: Path
    title: str
    trim_start_s: float = 0.0
    trim_end_s: float | None = None
    gain_db: float = 0.0
    measured_lufs: float | None = None


@dataclass(frozen=True)
class MusicBed:
    path: Path
    gain_db: float = -20.0
    duck: bool = True


@dataclass(frozen=True)
class LoudnessTarget:
    target_lufs: float = -16.0
    true_peak_db: float = -1.0


@dataclass(frozen=True)
class OutputSpec:
    format: str = "mp3"
    bitrate_kbps: int = 128
    channels: int = 1
    sample_rate: int = 44100

    @property
    def is_lossy(self) -> bool:
        return self.format in LOSSY_FORMATS


@dataclass(frozen=True)
class Manifest:
    title: str
    parts: tuple[Part, ...]  # intro, segments…, outro, in playing order
    music_bed: MusicBed | None = None
    crossfade_s: float = 1.0
    trim_silence: bool = False
    level_segments: bool = True
    loudness: LoudnessTarget = field(default_factory=LoudnessTarget)
    output: OutputSpec = field(default_factory=OutputSpec)
    tags: dict[str, str] = field(default_factory=dict)
    cover: Path | None = None
    chapters: bool = True


def load_manifest(path: Path) -> Manifest:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ManifestError(f"{path}: can't read the manifest ({exc.strerror})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc})") from exc
    return parse_manifest(data, base_dir=path.resolve().parent)


def parse_manifest(data: Any, *, base_dir: Path) -> Manifest:
    """Check ``data`` field by field; relative paths resolve against ``base_dir``."""
    reader = _Reader(base_dir)
    data = reader.object(data, "manifest")
    title = reader.string(data.get("title", "Episode"), "title")
    segments = data.get("segments")
    if not isinstance(segments, list) or not segments:
        raise ManifestError("segments: must be a non-empty list of parts")
    parts = []
    if data.get("intro") is not None:
        parts.append(reader.part(data["intro"], "intro", default_title="Intro"))
    for index, segment in enumerate(segments):
        parts.append(reader.part(segment, f"segments[{index}]", default_title=None))
    if data.get("outro") is not None:
        parts.append(reader.part(data["outro"], "outro", default_title="Outro"))

    bed = None
    if data.get("music_bed") is not None:
        raw = reader.object(data["music_bed"], "music_bed")
        bed = MusicBed(
            path=reader.path(raw.get("path"), "music_bed.path"),
            gain_db=reader.number(raw.get("gain_db", -20.0), "music_bed.gain_db", low=-60, high=0),
            duck=reader.boolean(raw.get("duck", True), "music_bed.duck"),
        )
    loudness_raw = reader.object(data.get("loudness", {}), "loudness")
    loudness = LoudnessTarget(
        target_lufs=reader.number(
            loudness_raw.get("target_lufs", -16.0), "loudness.target_lufs", low=-40, high=-5
        ),
        true_peak_db=reader.number(
            loudness_raw.get("true_peak_db", -1.0), "loudness.true_peak_db", low=-9, high=0
        ),
    )
    output_raw = reader.object(data.get("output", {}), "output")
    output_format = output_raw.get("format", "mp3")
    if output_format not in FORMATS:
        raise ManifestError(f"output.format: must be one of {', '.join(FORMATS)}")
    channels = output_raw.get("channels", 1)
    if channels not in (1, 2):
        raise ManifestError("output.channels: must be 1 or 2")
    output = OutputSpec(
        format=output_format,
        bitrate_kbps=int(
            reader.number(output_raw.get("bitrate_kbps", 128), "output.bitrate_kbps", 32, 320)
        ),
        channels=channels,
        sample_rate=int(
            reader.number(output_raw.get("sample_rate", 44100), "output.sample_rate", 8000, 96000)
        ),
    )
    tags_raw = reader.object(data.get("tags", {}), "tags")
    tags = {str(key): str(value) for key, value in tags_raw.items() if value is not None}
    tags.setdefault("title", title)
    return Manifest(
        title=title,
        parts=tuple(parts),
        music_bed=bed,
        crossfade_s=reader.number(data.get("crossfade_s", 1.0), "crossfade_s", low=0, high=30),
        trim_silence=reader.boolean(data.get("trim_silence", False), "trim_silence"),
        level_segments=reader.boolean(data.get("level_segments", True), "level_segments"),
        loudness=loudness,
        output=output,
        tags=tags,
        cover=reader.path(data["cover"], "cover") if data.get("cover") is not None else None,
        chapters=reader.boolean(data.get("chapters", True), "chapters"),
    )


class _Reader:
    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir

    def object(self, value: Any, name: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ManifestError(f"{name}: must be an object")
        return value

    def string(self, value: Any, name: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ManifestError(f"{name}: must be a non-empty string")
        return value

    def number(
        self, value: Any, name: str, low: float | None = None, high: float | None = None
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ManifestError(f"{name}: must be a number")
        if low is not None and value < low:
            raise ManifestError(f"{name}: must be a number ≥ {low}")
        if high is not None and value > high:
            raise ManifestError(f"{name}: must be a number ≤ {high}")
        return float(value)

    def boolean(self, value: Any, name: str) -> bool:
        if not isinstance(value, bool):
            raise ManifestError(f"{name}: must be true or false")
        return value

    def path(self, value: Any, name: str) -> Path:
        text = self.string(value, name)
        path = Path(text)
        return path if path.is_absolute() else self.base_dir / path

    def part(self, value: Any, name: str, *, default_title: str | None) -> Part:
        raw = self.object(value, name)
        path = self.path(raw.get("path"), f"{name}.path")
        start = self.number(raw.get("trim_start_s", 0.0), f"{name}.trim_start_s", low=0)
        end = raw.get("trim_end_s")
        if end is not None:
            end = self.number(end, f"{name}.trim_end_s", low=0)
            if end <= start:
                raise ManifestError(f"{name}.trim_end_s: must be after trim_start_s")
        measured = raw.get("measured_lufs")
        title = raw.get("title") or default_title or path.stem
        return Part(
            path=path,
            title=self.string(title, f"{name}.title"),
            trim_start_s=start,
            trim_end_s=end,
            gain_db=self.number(raw.get("gain_db", 0.0), f"{name}.gain_db", low=-60, high=30),
            measured_lufs=(
                None if measured is None else self.number(measured, f"{name}.measured_lufs")
            ),
        )
