"""From an episode (media ids) to the engine's manifest (paths): a pure translation.

Both sides are the same spec (``podplus.engine.spec``): the options of every part and of the
episode pass through as they are, only the references change from ids to paths.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from podplus.engine.spec import (
    EpisodeOptions,
    ManifestBed,
    ManifestPart,
    ManifestSpec,
    PartOptions,
)
from podplus.storage.episodes import Episode
from podplus.storage.media import Media

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def build_manifest(
    episode: Episode, media: Mapping[str, Media], media_path: Callable[[str], Path]
) -> dict[str, Any]:
    """The engine manifest for ``episode`` as JSON data, with absolute paths. Loudness isn't
    passed on: the engine measures each part as it will play (downmixed, cleaned up)."""
    spec = episode.spec

    def path(media_id: str) -> str:
        return str(media_path(media[media_id].storage_name))

    def part(media_id: str, options: PartOptions, title: str | None = None) -> ManifestPart:
        item = media[media_id]
        return ManifestPart(
            path=path(media_id),
            title=title or chapter_title(item.filename) or item.kind.value,
            **_fields(options, PartOptions),
        )

    tags: dict[str, str | int] = {"title": episode.title, **spec.tags}
    if episode.description.strip() and "comment" not in tags:
        tags["comment"] = episode.description
    manifest = ManifestSpec(
        title=episode.title,
        intro=None if spec.intro_id is None else part(spec.intro_id, PartOptions(), "Intro"),
        segments=[part(segment.media_id, segment) for segment in spec.segments],
        outro=None if spec.outro_id is None else part(spec.outro_id, PartOptions(), "Outro"),
        music_bed=(
            None
            if spec.music_bed is None
            else ManifestBed(
                path=path(spec.music_bed.media_id),
                gain_db=spec.music_bed.gain_db,
                duck=spec.music_bed.duck,
            )
        ),
        cover=None if spec.cover_id is None else path(spec.cover_id),
        **{**_fields(spec, EpisodeOptions), "tags": tags},
    )
    return manifest.model_dump(mode="json", exclude_none=True)


def chapter_title(filename: str) -> str:
    """A part's chapter title from its file name: the stem, on one line, at most 300 chars."""
    return _CONTROL.sub(" ", Path(filename).stem).strip()[:300]


def _fields(source: Any, block: type[PartOptions] | type[EpisodeOptions]) -> dict[str, Any]:
    # The block's own fields, as the (already validated) objects they are.
    return {name: getattr(source, name) for name in block.model_fields}
