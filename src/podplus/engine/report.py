"""What an assembly tells the people who made the episode: per part, its figures before
and after and what was done to it; for the episode, what the encoded file measures."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podplus.engine.manifest import Part


@dataclass(frozen=True)
class Figures:
    loudness_lufs: float | None
    peak_db: float | None
    noise_floor_db: float | None

    def shifted(self, gain_db: float) -> Figures:
        return Figures(*(None if v is None else round(v + gain_db, 1) for v in self._values()))

    def _values(self) -> tuple[float | None, float | None, float | None]:
        return (self.loudness_lufs, self.peak_db, self.noise_floor_db)

    def as_json(self) -> dict[str, float | None]:
        rounded = [None if v is None else round(v, 1) for v in self._values()]
        return dict(zip(("loudness_lufs", "peak_db", "noise_floor_db"), rounded, strict=True))


@dataclass(frozen=True)
class PreparedPart:
    """A part after it was prepared: its float PCM and what was measured on the way."""

    part: Part
    raw: Path
    duration_s: float
    before: Figures
    after: Figures  # cleaned up, before its gain
    silences: list[tuple[float, float | None]]
    applied: list[str]


@dataclass(frozen=True)
class PartReport:
    """What happened to one part, before and after."""

    title: str
    field: str
    duration_s: float
    before: Figures
    after: Figures
    gain_db: float
    limited: bool
    applied: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "field": self.field,
            "duration_s": round(self.duration_s, 3),
            "before": self.before.as_json(),
            "after": self.after.as_json(),
            "gain_db": round(self.gain_db, 1),
            "limited": self.limited,
            "applied": self.applied,
        }


@dataclass(frozen=True)
class AssemblyResult:
    """What was made, measured on the encoded sound itself (decoded by a meter while it
    was encoded): loudness, true peak (4x oversampled), sample peak."""

    output: Path
    duration_s: float
    integrated_lufs: float | None
    true_peak_db: float | None
    sample_peak_db: float | None
    limited: bool
    encodes: int
    seconds: float
    chapters: list[tuple[float, float, str]] = field(default_factory=list)
    parts: list[PartReport] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "duration_s": round(self.duration_s, 3),
            "integrated_lufs": self.integrated_lufs,
            "true_peak_db": self.true_peak_db,
            "sample_peak_db": self.sample_peak_db,
            "measured": True,
            "limited": self.limited,
            "encodes": self.encodes,
            "seconds": round(self.seconds, 3),
            "chapters": [
                {"start_s": round(start, 3), "end_s": round(end, 3), "title": title}
                for start, end, title in self.chapters
            ],
            "parts": [part.as_json() for part in self.parts],
        }
