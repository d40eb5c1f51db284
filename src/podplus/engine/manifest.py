"""The engine's manifest: read with the episode spec, then resolved into the records the
assembly works from (absolute paths, parts in playing order, tags with a title).

Every problem is a ``ManifestError`` whose message starts with the field's path
(``segments[1].trim_start_s: must be a number ≥ 0``); the limits are the spec's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podplus.engine.errors import ManifestError
from podplus.engine.spec import (
    FORMATS,
    LOSSY_FORMATS,
    Cleanup,
    Content,
    ManifestPart,
    ManifestSpec,
    SpecError,
    parse_json,
    read,
)
from podplus.engine.spec import Loudness as LoudnessTarget
from podplus.engine.spec import Output as OutputSpec

__all__ = [
    "FORMATS",
    "Cleanup",
    "LOSSY_FORMATS",
    "LoudnessTarget",
    "Manifest",
    "MusicBed",
    "OutputSpec",
    "Part",
    "load_manifest",
    "parse_manifest",
]


@dataclass(frozen=True)
class Part:
    """One piece of the spoken timeline: the intro, a segment, or the outro."""

    path: Path
    title: str
    field: str  # where it is in the manifest ("segments[2]"), to name it in errors
    content: Content
    trim_start_s: float
    trim_end_s: float | None
    gain_db: float


@dataclass(frozen=True)
class MusicBed:
    path: Path
    gain_db: float
    duck: bool


@dataclass(frozen=True)
class Manifest:
    title: str
    parts: tuple[Part, ...]  # intro, segments…, outro, in playing order
    music_bed: MusicBed | None
    crossfade_s: float
    trim_silence: bool
    level_segments: bool
    cleanup: Cleanup
    loudness: LoudnessTarget
    output: OutputSpec
    tags: dict[str, str]
    cover: Path | None
    chapters: bool


def load_manifest(path: Path) -> Manifest:
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"{path}: can't read the manifest ({exc.strerror})") from exc
    try:
        data = parse_json(body)
    except SpecError as exc:
        raise ManifestError(f"{path}: {exc.message}") from None
    return parse_manifest(data, base_dir=path.resolve().parent)


def parse_manifest(data: Any, *, base_dir: Path) -> Manifest:
    """Check ``data`` against the spec; relative paths resolve against ``base_dir``."""
    try:
        spec = read(ManifestSpec, data)
    except SpecError as exc:
        raise ManifestError(exc.message) from None

    def resolve(text: str) -> Path:
        path = Path(text)
        return path if path.is_absolute() else base_dir / path

    def part(raw: ManifestPart, field: str, default_title: str | None, content: Content) -> Part:
        path = resolve(raw.path)
        return Part(
            path=path,
            title=raw.title or default_title or path.stem or path.name,
            field=field,
            content=raw.content or content,
            trim_start_s=raw.trim_start_s,
            trim_end_s=raw.trim_end_s,
            gain_db=raw.gain_db,
        )

    parts = [
        part(segment, f"segments[{index}]", None, "speech")
        for index, segment in enumerate(spec.segments)
    ]
    if spec.intro is not None:
        parts.insert(0, part(spec.intro, "intro", "Intro", "music"))
    if spec.outro is not None:
        parts.append(part(spec.outro, "outro", "Outro", "music"))
    bed = spec.music_bed
    tags = {name: str(value) for name, value in spec.tags.items()}
    tags.setdefault("title", spec.title)
    return Manifest(
        title=spec.title,
        parts=tuple(parts),
        music_bed=(
            None if bed is None else MusicBed(resolve(bed.path), gain_db=bed.gain_db, duck=bed.duck)
        ),
        crossfade_s=spec.crossfade_s,
        trim_silence=spec.trim_silence,
        level_segments=spec.level_segments,
        cleanup=spec.cleanup,
        loudness=spec.loudness,
        output=spec.output,
        tags=tags,
        cover=None if spec.cover is None else resolve(spec.cover),
        chapters=spec.chapters,
    )
