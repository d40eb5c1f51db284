"""Loudness (EBU R128 via ffmpeg's ``ebur128``) and silence, read from ffmpeg's stderr."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from podplus.engine.errors import InputError
from podplus.engine.ffmpeg import filter_spec, last_line, run_briefly, safe_input

# The summary ebur128 prints when the stream ends; the peaks follow it, sample first.
_SUMMARY = re.compile(
    r"Integrated loudness:\s*I:\s*(?P<i>-?[\d.]+|-inf) LUFS.*?"
    r"Loudness range:\s*LRA:\s*(?P<lra>-?[\d.]+) LU",
    re.DOTALL,
)
_PEAK = re.compile(r"(?P<kind>Sample|True) peak:\s*Peak:\s*(?P<level>-?[\d.]+|-inf) dBFS")
_SILENCE_START = re.compile(r"silence_start: (-?[\d.]+)")
_SILENCE_END = re.compile(r"silence_end: (-?[\d.]+)")

SILENCE_THRESHOLD_DB = -50
SILENCE_MIN_S = 0.3


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float | None  # None for silence
    loudness_range_lu: float
    true_peak_db: float | None = None
    sample_peak_db: float | None = None

    def as_json(self) -> dict[str, float | None]:
        return {
            "integrated_lufs": self.integrated_lufs,
            "loudness_range_lu": self.loudness_range_lu,
            "true_peak_db": self.true_peak_db,
        }


def ebur128_filter(*, peak: str = "true", instance: str | None = None) -> str:
    """``peak`` is "true" (4× oversampled, costly), "sample", or "" for none; ``instance``
    names the meter when one command runs several (see ``meters``).

    ``framelog=verbose`` keeps the ten lines a second it would otherwise log at the info
    level out of stderr: only the summary at the end is wanted."""
    name = "ebur128" if instance is None else f"ebur128@{instance}"
    if not peak:
        return filter_spec(name, framelog="verbose")
    return filter_spec(name, framelog="verbose", peak=peak)


def loudness_args(path: Path, *, true_peak: bool = True, peaks: str | None = None) -> list[str]:
    """The ffmpeg command whose stderr ``parse_ebur128`` reads. ``true_peak=False`` skips
    the 4x-oversampled peak meter (about a third of the cost) when only LUFS is wanted;
    ``peaks`` names the peak meters outright ("sample+true")."""
    peak = peaks if peaks is not None else ("true" if true_peak else "")
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-nostats", *safe_input(path), "-map", "0:a:0",
        "-filter:a", ebur128_filter(peak=peak), "-f", "null", "-",
    ]  # fmt: skip


def parse_ebur128(stderr: str) -> Loudness:
    """Read the final summary (the last one, if a log holds several)."""
    matches = list(_SUMMARY.finditer(stderr))
    if not matches:
        raise ValueError("no ebur128 summary in the output")
    found = matches[-1]
    peaks = {m["kind"]: _level(m["level"]) for m in _PEAK.finditer(stderr, found.end())}
    return Loudness(
        integrated_lufs=_level(found["i"]),
        loudness_range_lu=float(found["lra"]),
        true_peak_db=peaks.get("True"),
        sample_peak_db=peaks.get("Sample"),
    )


def parse_silences(stderr: str) -> list[tuple[float, float | None]]:
    """(start, end) of each silence ``silencedetect`` reported; end is None at end of file."""
    starts = [float(v) for v in _SILENCE_START.findall(stderr)]
    ends = [float(v) for v in _SILENCE_END.findall(stderr)]
    return [(start, ends[i] if i < len(ends) else None) for i, start in enumerate(starts)]


def measure(path: Path) -> Loudness:
    """Integrated loudness, range and true peak of a file (the ``loudness`` command)."""
    result = run_briefly(loudness_args(path))
    if result.returncode != 0:
        reason = last_line(result.stderr)
        raise InputError(f"{path}: can't measure it: {reason}")
    return parse_ebur128(result.stderr)


def _level(value: str | None) -> float | None:
    if value is None or value == "-inf":
        return None
    return float(value)
