"""From an episode (media ids) to the engine's manifest (paths): a pure translation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from podplus.storage.episodes import Episode
from podplus.storage.media import Media

# Fields of a part that pass through to the engine unchanged when present.
PART_FIELDS = ("trim_start_s", "trim_end_s", "gain_db")
EPISODE_FIELDS = ("crossfade_s", "trim_silence", "level_segments", "loudness", "output")


def build_manifest(
    episode: Episode, media: Mapping[str, Media], media_path: Callable[[str], Path]
) -> dict[str, Any]:
    """The engine manifest for ``episode``: absolute paths, and each upload's known loudness
    (``measured_lufs``) so the engine never analyses a file twice."""
    spec = episode.spec

    def part(media_id: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        item = media[media_id]
        entry: dict[str, Any] = {
            "path": str(media_path(item.storage_name)),
            "title": Path(item.filename).stem or item.kind.value,
        }
        if item.loudness_lufs is not None:
            entry["measured_lufs"] = item.loudness_lufs
        for name in PART_FIELDS:
            if extra and extra.get(name) is not None:
                entry[name] = extra[name]
        return entry

    manifest: dict[str, Any] = {
        "title": episode.title,
        "segments": [part(segment["media_id"], segment) for segment in spec["segments"]],
        "chapters": spec.get("chapters", True),
    }
    if spec.get("intro_id"):
        manifest["intro"] = {**part(spec["intro_id"]), "title": "Intro"}
    if spec.get("outro_id"):
        manifest["outro"] = {**part(spec["outro_id"]), "title": "Outro"}
    if spec.get("music_bed"):
        bed = spec["music_bed"]
        manifest["music_bed"] = {"path": part(bed["media_id"])["path"]}
        for name in ("gain_db", "duck"):
            if bed.get(name) is not None:
                manifest["music_bed"][name] = bed[name]
    if spec.get("cover_id"):
        manifest["cover"] = str(media_path(media[spec["cover_id"]].storage_name))
    for name in EPISODE_FIELDS:
        if spec.get(name) is not None:
            manifest[name] = spec[name]
    tags = {"title": episode.title, **(spec.get("tags") or {})}
    if episode.description and "comment" not in tags:
        tags["comment"] = episode.description
    manifest["tags"] = tags
    return manifest


def media_ids(spec: Mapping[str, Any]) -> set[str]:
    """Every media id an episode description refers to."""
    ids = {segment["media_id"] for segment in spec.get("segments", [])}
    for field in ("intro_id", "outro_id", "cover_id"):
        if spec.get(field):
            ids.add(spec[field])
    if spec.get("music_bed"):
        ids.add(spec["music_bed"]["media_id"])
    return ids


def output_extension(spec: Mapping[str, Any]) -> str:
    return str((spec.get("output") or {}).get("format", "mp3"))
