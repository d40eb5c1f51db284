"""The records of ``quality_bench.py`` and the Markdown it writes from them."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.report import machine, table

FORMATS = ("mp3", "m4a", "flac", "wav")
TARGETS_LUFS = (-14.0, -16.0, -19.0, -23.0)
CEILING_DB = -1.0
PEAK_TOLERANCE_DB = 0.1
LOUDNESS_TOLERANCE_LU = 0.5


@dataclass(frozen=True)
class MatrixRow:
    """One assembly of the loudness matrix and what the meter found in its file."""

    fmt: str
    target_lufs: float
    level_segments: bool
    bed: bool
    channels: int
    cleanup: str
    lufs: float | None
    true_peak_db: float | None
    reported_true_peak_db: float | None
    seconds: float
    error: str

    @property
    def loudness_error_lu(self) -> float | None:
        return None if self.lufs is None else self.lufs - self.target_lufs

    @property
    def ok(self) -> bool:
        error = self.loudness_error_lu
        return (
            not self.error
            and error is not None
            and abs(error) <= LOUDNESS_TOLERANCE_LU
            and self.true_peak_db is not None
            and self.true_peak_db <= CEILING_DB + PEAK_TOLERANCE_DB
            and self.reported_true_peak_db is not None
        )


@dataclass
class Figures:
    rows: list[MatrixRow] = field(default_factory=list)
    take_spread: dict[float, list[float]] = field(default_factory=dict)  # target → takes' LUFS
    bed: dict[float, dict[str, float]] = field(default_factory=dict)  # target → BedFigures
    cleanup: dict[str, dict[str, float]] = field(default_factory=dict)  # variant → figures
    speed: dict[str, Any] = field(default_factory=dict)
    variants: list[str] = field(default_factory=list)
    full: bool = False


def number(value: float | None, spec: str = "+.2f") -> str:
    return "–" if value is None else format(value, spec)


def _worst(rows: list[MatrixRow]) -> list[str]:
    errors = [abs(e) for r in rows if (e := r.loudness_error_lu) is not None]
    peaks = [r.true_peak_db for r in rows if r.true_peak_db is not None]
    return [
        f"{max(errors):.2f}" if errors else "–",
        f"{max(peaks):+.2f}" if peaks else "–",
        f"{sum(r.ok for r in rows)}/{len(rows)}",
    ]


def matrix_section(figures: Figures) -> list[str]:
    rows = figures.rows
    design = (
        "every combination of the options"
        if figures.full
        else "combinations of the options that hold every pair of their values (`--full` "
        "runs every combination)"
    )
    lines = [
        "### 1. Loudness error and true peak, format × target",
        "",
        f"{len(rows)} runs: at every format × target, level_segments on/off, bed on/off, "
        f"mono/stereo and the clean-up variants ({', '.join(figures.variants)}) in {design}.",
        "",
    ]
    headers = ["format", "target LUFS", "worst |error| LU", "highest dBTP", "pass"]
    by_format = [
        [fmt, f"{target:g}", *_worst([r for r in rows if (r.fmt, r.target_lufs) == (fmt, target)])]
        for fmt, target in itertools.product(FORMATS, TARGETS_LUFS)
    ]
    lines += [table([*headers[:2], *headers[2:]], by_format), ""]
    options: list[tuple[str, Callable[[MatrixRow], str]]] = [
        ("level_segments", lambda r: "on" if r.level_segments else "off"),
        ("bed", lambda r: "on" if r.bed else "off"),
        ("channels", lambda r: "mono" if r.channels == 1 else "stereo"),
        ("cleanup", lambda r: r.cleanup),
    ]
    by_option = [
        [f"{label} {value}", *_worst([r for r in rows if key(r) == value])]
        for label, key in options
        for value in sorted({key(r) for r in rows})
    ]
    lines.append(table(["option", *headers[2:]], by_option))
    unreported = sum(r.reported_true_peak_db is None for r in rows)
    lines += ["", f"`done` events without a measured true peak: {unreported} of {len(rows)}."]
    failures = [r for r in rows if not r.ok]
    if failures:
        lines += ["", "<details><summary>Every run that missed</summary>", ""]
        lines.append(
            table(
                [
                    "format",
                    "target",
                    "level",
                    "bed",
                    "ch",
                    "clean-up",
                    "LUFS",
                    "dBTP",
                    "done dBTP",
                    "error",
                ],
                [
                    [
                        r.fmt,
                        f"{r.target_lufs:g}",
                        str(r.level_segments),
                        str(r.bed),
                        str(r.channels),
                        r.cleanup,
                        number(r.lufs),
                        number(r.true_peak_db),
                        number(r.reported_true_peak_db),
                        r.error[:80],
                    ]
                    for r in failures
                ],
            )  # fmt: skip
        )
        lines += ["", "</details>"]
    return lines


def spread_and_bed_section(figures: Figures) -> list[str]:
    spread_rows = [
        [
            f"{target:g}",
            ", ".join(f"{x:.2f}" for x in takes) or "failed",
            f"{max(takes) - min(takes):.2f}" if takes else "–",
        ]
        for target, takes in figures.take_spread.items()
    ]
    bed_rows = [
        [
            f"{target:g}",
            number(found.get("bed_below_speech_db"), "+.1f"),
            number(found.get("duck_depth_db"), ".1f"),
        ]
        for target, found in figures.bed.items()
    ]
    return [
        "### 2. Take spread",
        "",
        "Two plain takes and two peaky ones (quiet speech with hand claps near 0 dBFS), "
        "levelled and joined without crossfade; each take's loudness in the output.",
        "",
        table(["target LUFS", "takes (LUFS)", "spread LU (≤ 0.5)"], spread_rows),
        "",
        "### 3. The music bed at gain_db −20",
        "",
        "A take with 3–5 s pauses over steady pink noise: the bed in pauses against the "
        "speech's loudness, and the duck depth (the bed's top octave, pauses against the "
        "middle of phrases).",
        "",
        table(["target LUFS", "bed vs speech LU (−20 ± 1.5)", "duck depth dB"], bed_rows),
    ]


def cleanup_section(figures: Figures) -> list[str]:
    def pair(found: dict[str, float], before: str, after: str, spec: str = ".1f") -> str:
        return f"{number(found.get(before), spec)} → {number(found.get(after), spec)}"

    rows = [
        [
            name,
            number(found.get("snr_gain_db_50hz"), "+.1f"),
            number(found.get("snr_gain_db_60hz"), "+.1f"),
            pair(found, "lsd_input_db_50hz", "lsd_db_50hz"),
            pair(found, "lsd_input_db_60hz", "lsd_db_60hz"),
            pair(found, "spread_before_lu", "spread_after_lu"),
            pair(found, "pause_below_speech_before_db", "pause_below_speech_after_db"),
            number(found.get("duration_change_s"), "+.2f"),
        ]
        for name, found in figures.cleanup.items()
    ]
    return [
        "### 4. Clean-up",
        "",
        "SNR gain: the output's SNR against the clean voice minus the input's (speech + "
        "pink noise + mains hum with 4 harmonics, 10 dB SNR), each after the best fixed "
        "linear filter, so a high-pass's phase shift is not counted as noise (the "
        "scale-invariant SNR, which counts it, is in quality.json); a gain that changes "
        "over time (levelling voices within a take) is counted, so a variant that levels "
        "voices reads lower here than its noise reduction alone would. Distortion: "
        "log-spectral distance to the clean voice (dB, 50 Hz–8 kHz, speech frames), input → "
        "output. Spread: EBU 3342 range of the short-term loudness of a host and a guest "
        "12 dB apart. Pauses: the quietest 0.3 s against the take's loudness (a leveller "
        "that pumps the room tone up raises it). At −23 LUFS, where the limiter is idle.",
        "",
        table(
            [
                "variant",
                "SNR gain 50 Hz",
                "SNR gain 60 Hz",
                "LSD 50 Hz",
                "LSD 60 Hz",
                "spread LU",
                "pauses dB",
                "length change s",
            ],
            rows,
        ),  # fmt: skip
    ]


def speed_section(figures: Figures) -> list[str]:
    speed = figures.speed
    floor = speed.get("floor_s")
    rows = [["floor (1 pass, no loudness)", number(floor, ".2f"), "1.00×" if floor else "–"]]
    for name in figures.variants:
        seconds = speed.get(name)
        ratio = f"{seconds / floor:.2f}×" if seconds and floor else "–"
        rows.append([f"engine, clean-up {name}", number(seconds, ".2f"), ratio])
    lines = [
        "### 5. Speed",
        "",
        f"An episode of {speed.get('episode_s', 0):.0f} s (four takes, a ducked bed), mp3 out; "
        "median wall time of the CLI against engine_bench.py's single-pass floor.",
        "",
        table(["run", "seconds", "vs floor"], rows),
    ]
    if "floor_error" in speed:
        lines += ["", f"The floor could not be built this run: `{speed['floor_error']}`."]
    return lines


def report(figures: Figures) -> str:
    lines = [
        "## Quality: what the encoded files measure",
        "",
        "Measured on the encoded output with tests/audio_meter.py (pyloudnorm BS.1770-4; true "
        "peak 4× oversampled with scipy), never with the engine's own figures. Material: a "
        "take pushed 6 dB into hard clipping, then quiet speech with hand claps near 0 dBFS "
        f"(≈12 s). Ceiling {CEILING_DB} dBTP. Pass: loudness within ±{LOUDNESS_TOLERANCE_LU} LU "
        f"of the target, true peak ≤ ceiling + {PEAK_TOLERANCE_DB} dB, and the `done` event "
        "reports a measured true peak.",
        "",
        *matrix_section(figures),
        "",
        *spread_and_bed_section(figures),
        "",
        *cleanup_section(figures),
        "",
        *speed_section(figures),
        "",
        machine(),
    ]
    return "\n".join(lines) + "\n"
