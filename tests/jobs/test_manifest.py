"""An episode (media ids) becomes the engine's manifest (paths): the options pass through."""

from __future__ import annotations

from pathlib import Path

from podplus.engine.manifest import parse_manifest
from podplus.engine.spec import EpisodeInput, read
from podplus.jobs.manifest import build_manifest, chapter_title
from podplus.storage.episodes import Episode
from podplus.storage.media import Media, MediaKind

MEDIA_ROOT = Path("/srv/media")


def media(media_id: str, kind: MediaKind, filename: str, lufs: float | None = -20.0) -> Media:
    return Media(
        id=media_id, owner_id="u", kind=kind, filename=filename, storage_name=f"s-{media_id}",
        size_bytes=1, duration_s=1.0, sample_rate=44100, channels=1, codec="pcm_s16le",
        loudness_lufs=lufs, created_at=0.0,
    )  # fmt: skip


LIBRARY = {
    item.id: item
    for item in [
        media("take", MediaKind.CONTENT, "Interview\x00 with Ada.wav"),
        media("intro", MediaKind.INTRO, "intro.wav"),
        media("bed", MediaKind.MUSIC, "bed.mp3", lufs=None),
        media("cover", MediaKind.COVER, "cover.jpg", lufs=None),
    ]
}


def episode(**fields: object) -> Episode:
    described = read(
        EpisodeInput,
        {"title": "Episode 12", "segments": [{"media_id": "take", "gain_db": -2}], **fields},
    )
    return Episode(
        id="e", owner_id="u", title=described.title, description=described.description,
        spec=described.spec, audio_name=None, audio_size_bytes=None, duration_s=None,
        integrated_lufs=None, true_peak_db=None, created_at=0.0, updated_at=0.0,
    )  # fmt: skip


def path_of(storage_name: str) -> Path:
    return MEDIA_ROOT / storage_name


def test_files_become_paths_and_every_option_passes_through() -> None:
    source = episode(
        description="Show notes.",
        intro_id="intro",
        music_bed={"media_id": "bed", "gain_db": -24, "duck": False},
        cover_id="cover",
        crossfade_s=0.25,
        loudness={"target_lufs": -19},
        output={"format": "m4a", "channels": 2},
        tags={"artist": "Ada", "year": 2026},
    )
    manifest = parse_manifest(build_manifest(source, LIBRARY, path_of), base_dir=Path("/work"))
    assert [part.path for part in manifest.parts] == [MEDIA_ROOT / "s-intro", MEDIA_ROOT / "s-take"]
    assert [part.title for part in manifest.parts] == ["Intro", "Interview  with Ada"]
    assert manifest.parts[1].gain_db == -2 and manifest.parts[1].content == "speech"
    assert manifest.music_bed is not None
    assert (manifest.music_bed.path, manifest.music_bed.gain_db) == (MEDIA_ROOT / "s-bed", -24)
    assert manifest.music_bed.duck is False
    assert manifest.cover == MEDIA_ROOT / "s-cover"
    assert manifest.crossfade_s == 0.25 and manifest.loudness.target_lufs == -19
    assert (manifest.output.format, manifest.output.channels) == ("m4a", 2)
    assert manifest.tags == {
        "title": "Episode 12", "artist": "Ada", "year": "2026", "comment": "Show notes."
    }  # fmt: skip


def test_a_chapter_title_is_one_clean_line() -> None:
    assert chapter_title("take\n1\x00.final.wav") == "take 1 .final"
    assert chapter_title(".wav") == ".wav"
    assert len(chapter_title("x" * 1000 + ".wav")) == 300
