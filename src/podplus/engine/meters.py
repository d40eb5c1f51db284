"""What ffmpeg's meters print at the end of a stream, read per named filter instance.

One ffmpeg often runs several meters (the part before and after its clean-up, the hum
bands); each is given a name (``astats@before``) and its summary is read back by that
name, so one command answers several questions without decoding anything twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from podplus.engine.ffmpeg import OptionValue, filter_spec
from podplus.engine.loudness import Loudness, parse_ebur128

# ffmpeg prefixes each log message with the filter instance that wrote it; the lines of a
# multi-line message (ebur128's summary) after the first carry no prefix.
_PREFIX = re.compile(r"^(?:\[(?:info|verbose|warning|error)\] )?\[(?P<name>[\w@]+) @ 0x[0-9a-f]+\]")
_ASTATS_FIELD = re.compile(r"\] (?:\[\w+\] )?(?P<key>[A-Za-z ]+): (?P<value>\S+)$")


@dataclass(frozen=True)
class Stats:
    """``astats``' overall figures for a stream."""

    samples: int  # per channel
    peak_db: float | None  # None: digital silence
    rms_db: float | None
    # The quietest 50 ms window: in a recording with pauses, its noise floor.
    rms_trough_db: float | None
    dc_offset: float


def named(filter_name: str, instance: str) -> str:
    return f"{filter_name}@{instance}"


def astats_filter(instance: str, *, window_s: float | None = None) -> str:
    options: dict[str, OptionValue] = {"metadata": False, "measure_perchannel": "none"}
    if window_s is not None:
        options["length"] = window_s
    return filter_spec(named("astats", instance), **options)


def blocks(stderr: str) -> dict[str, str]:
    """The log text of each filter instance, by instance name (``astats@before``)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in stderr.splitlines():
        match = _PREFIX.match(line)
        if match:
            current = found.setdefault(match["name"], [])
            current.append(line)
        elif line.startswith("["):
            current = None
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in found.items()}


def read_loudness(stderr_blocks: dict[str, str], instance: str) -> Loudness:
    text = stderr_blocks.get(named("ebur128", instance))
    if text is None:
        raise ValueError(f"no summary from ebur128@{instance}")
    return parse_ebur128(text)


def read_stats(stderr_blocks: dict[str, str], instance: str) -> Stats:
    text = stderr_blocks.get(named("astats", instance))
    if text is None:
        raise ValueError(f"no summary from astats@{instance}")
    values: dict[str, str] = {}
    overall = False
    for line in text.splitlines():
        if line.rstrip().endswith("] Overall") or line.rstrip().endswith("Overall"):
            overall = True
            continue
        match = _ASTATS_FIELD.search(line)
        if match and (overall or "Number of samples" in line):
            values[match["key"].strip()] = match["value"]
    return Stats(
        samples=int(float(values.get("Number of samples", "0"))),
        peak_db=_decibels(values.get("Peak level dB")),
        rms_db=_decibels(values.get("RMS level dB")),
        rms_trough_db=_decibels(values.get("RMS trough dB")),
        dc_offset=float(values.get("DC offset", "0")),
    )


def _decibels(value: str | None) -> float | None:
    if value is None or value in {"-inf", "inf", "nan", "-nan"}:
        return None
    number = float(value)
    return None if number < -200 else number
