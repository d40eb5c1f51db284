"""Validating an episode description from the API; every message names its field.

The result is the ``spec`` stored with the episode: the engine manifest's fields, with
media ids where the manifest has paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podplus.errors import InvalidInput

FORMATS = ("mp3", "m4a", "wav", "flac")
SAMPLE_RATES = (22050, 24000, 32000, 44100, 48000)
MAX_SEGMENTS = 100
SPEC_FIELDS = frozenset(
    {
        "intro_id",
        "segments",
        "outro_id",
        "music_bed",
        "crossfade_s",
        "trim_silence",
        "level_segments",
        "loudness",
        "output",
        "tags",
        "cover_id",
        "chapters",
    }
)
TOP_FIELDS = SPEC_FIELDS | {"title", "description"}


@dataclass(frozen=True)
class EpisodeInput:
    title: str
    description: str
    spec: dict[str, Any]


def parse_episode(data: dict[str, Any]) -> EpisodeInput:
    unknown = sorted(set(data) - TOP_FIELDS)
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field.")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 300:
        raise InvalidInput("title: must be a non-empty string of at most 300 characters.")
    description = data.get("description") or ""
    if not isinstance(description, str) or len(description) > 5000:
        raise InvalidInput("description: must be a string of at most 5000 characters.")

    spec: dict[str, Any] = {"segments": _segments(data.get("segments"))}
    for name in ("intro_id", "outro_id", "cover_id"):
        if data.get(name) is not None:
            spec[name] = _media_id(data[name], name)
    if data.get("music_bed") is not None:
        spec["music_bed"] = _music_bed(data["music_bed"])
    if data.get("crossfade_s") is not None:
        spec["crossfade_s"] = _number(data["crossfade_s"], "crossfade_s", low=0, high=30)
    for name in ("trim_silence", "level_segments", "chapters"):
        if data.get(name) is not None:
            spec[name] = _boolean(data[name], name)
    if data.get("loudness") is not None:
        spec["loudness"] = _loudness(data["loudness"])
    if data.get("output") is not None:
        spec["output"] = _output(data["output"])
    if data.get("tags") is not None:
        spec["tags"] = _tags(data["tags"])
    return EpisodeInput(title=title.strip(), description=description, spec=spec)


def media_fields(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, media id) for every reference, so a bad one can be named exactly."""
    refs = [(f"segments[{i}].media_id", s["media_id"]) for i, s in enumerate(spec["segments"])]
    refs += [(name, spec[name]) for name in ("intro_id", "outro_id", "cover_id") if name in spec]
    if "music_bed" in spec:
        refs.append(("music_bed.media_id", spec["music_bed"]["media_id"]))
    return refs


def _object(value: Any, field: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{field}: must be an object.")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise InvalidInput(f"{field}.{unknown[0]}: unknown field.")
    return value


def _segments(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise InvalidInput("segments: must be a non-empty list of {media_id, …}.")
    if len(value) > MAX_SEGMENTS:
        raise InvalidInput(f"segments: at most {MAX_SEGMENTS} parts.")
    segments = []
    for index, item in enumerate(value):
        field = f"segments[{index}]"
        item = _object(item, field, {"media_id", "trim_start_s", "trim_end_s", "gain_db"})
        segment: dict[str, Any] = {"media_id": _media_id(item.get("media_id"), f"{field}.media_id")}
        if item.get("trim_start_s") is not None:
            segment["trim_start_s"] = _number(item["trim_start_s"], f"{field}.trim_start_s", low=0)
        if item.get("trim_end_s") is not None:
            end = _number(item["trim_end_s"], f"{field}.trim_end_s", low=0)
            if end <= segment.get("trim_start_s", 0):
                raise InvalidInput(f"{field}.trim_end_s: must be after trim_start_s.")
            segment["trim_end_s"] = end
        if item.get("gain_db") is not None:
            segment["gain_db"] = _number(item["gain_db"], f"{field}.gain_db", low=-60, high=30)
        segments.append(segment)
    return segments


def _music_bed(value: Any) -> dict[str, Any]:
    value = _object(value, "music_bed", {"media_id", "gain_db", "duck"})
    bed: dict[str, Any] = {"media_id": _media_id(value.get("media_id"), "music_bed.media_id")}
    if value.get("gain_db") is not None:
        bed["gain_db"] = _number(value["gain_db"], "music_bed.gain_db", low=-60, high=0)
    if value.get("duck") is not None:
        bed["duck"] = _boolean(value["duck"], "music_bed.duck")
    return bed


def _loudness(value: Any) -> dict[str, Any]:
    value = _object(value, "loudness", {"target_lufs", "true_peak_db"})
    loudness: dict[str, Any] = {}
    if value.get("target_lufs") is not None:
        loudness["target_lufs"] = _number(
            value["target_lufs"], "loudness.target_lufs", low=-40, high=-5
        )
    if value.get("true_peak_db") is not None:
        loudness["true_peak_db"] = _number(
            value["true_peak_db"], "loudness.true_peak_db", low=-9, high=0
        )
    return loudness


def _output(value: Any) -> dict[str, Any]:
    value = _object(value, "output", {"format", "bitrate_kbps", "channels", "sample_rate"})
    output: dict[str, Any] = {}
    if value.get("format") is not None:
        if value["format"] not in FORMATS:
            raise InvalidInput(f"output.format: must be one of {', '.join(FORMATS)}.")
        output["format"] = value["format"]
    if value.get("bitrate_kbps") is not None:
        output["bitrate_kbps"] = int(
            _number(value["bitrate_kbps"], "output.bitrate_kbps", low=32, high=320)
        )
    if value.get("channels") is not None:
        if value["channels"] not in (1, 2):
            raise InvalidInput("output.channels: must be 1 or 2.")
        output["channels"] = value["channels"]
    if value.get("sample_rate") is not None:
        if value["sample_rate"] not in SAMPLE_RATES:
            rates = ", ".join(map(str, SAMPLE_RATES))
            raise InvalidInput(f"output.sample_rate: must be one of {rates}.")
        output["sample_rate"] = value["sample_rate"]
    return output


def _tags(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) > 32:
        raise InvalidInput("tags: must be an object of at most 32 tags.")
    tags: dict[str, Any] = {}
    for key, item in value.items():
        if not key.isidentifier() or len(key) > 32:
            raise InvalidInput(f"tags.{key}: tag names are short words.")
        if isinstance(item, bool) or not isinstance(item, str | int) or len(str(item)) > 1000:
            raise InvalidInput(f"tags.{key}: must be a string or a whole number.")
        tags[key] = item
    return tags


def _media_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise InvalidInput(f"{field}: must be a media id.")
    return value


def _number(
    value: Any, field: str, *, low: float | None = None, high: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{field}: must be a number.")
    if low is not None and value < low:
        raise InvalidInput(f"{field}: must be at least {low}.")
    if high is not None and value > high:
        raise InvalidInput(f"{field}: must be at most {high}.")
    return float(value)


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{field}: must be true or false.")
    return value
