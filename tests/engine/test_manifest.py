"""The manifest is checked field by field before any work starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from podplus.engine.errors import ManifestError
from podplus.engine.manifest import parse_manifest

BASE = Path("/episodes/12")


def test_defaults_are_broadcast_ready() -> None:
    manifest = parse_manifest({"segments": [{"path": "take1.wav"}]}, base_dir=BASE)
    assert manifest.loudness.target_lufs == -16.0
    assert manifest.loudness.true_peak_db == -1.0
    assert (manifest.output.format, manifest.output.bitrate_kbps) == ("mp3", 128)
    assert (manifest.output.channels, manifest.output.sample_rate) == (1, 44100)
    assert manifest.level_segments and manifest.chapters and not manifest.trim_silence
    assert manifest.crossfade_s == 1.0


def test_parts_play_in_order_and_relative_paths_resolve_beside_the_manifest() -> None:
    manifest = parse_manifest(
        {
            "intro": {"path": "intro.wav"},
            "segments": [{"path": "a.wav", "title": "Interview"}, {"path": "/abs/b.flac"}],
            "outro": {"path": "outro.wav"},
        },
        base_dir=BASE,
    )
    assert [p.path for p in manifest.parts] == [
        BASE / "intro.wav", BASE / "a.wav", Path("/abs/b.flac"), BASE / "outro.wav",
    ]  # fmt: skip
    assert [p.title for p in manifest.parts] == ["Intro", "Interview", "b", "Outro"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"segments": []}, "segments"),
        ({"segments": [{"path": 3}]}, "segments[0].path"),
        ({"segments": [{"path": "a.wav", "trim_start_s": -1}]}, "segments[0].trim_start_s"),
        (
            {"segments": [{"path": "a.wav", "trim_start_s": 5, "trim_end_s": 2}]},
            "segments[0].trim_end_s",
        ),
        ({"segments": [{"path": "a.wav", "gain_db": "loud"}]}, "segments[0].gain_db"),
        ({"music_bed": {"path": "b.mp3", "duck": "yes"}}, "music_bed.duck"),
        ({"loudness": {"target_lufs": 3}}, "loudness.target_lufs"),
        ({"output": {"format": "ogg"}}, "output.format"),
        ({"output": {"channels": 6}}, "output.channels"),
        ({"crossfade_s": -2}, "crossfade_s"),
    ],
)
def test_every_problem_names_its_field(change: dict[str, object], field: str) -> None:
    data = {"segments": [{"path": "a.wav"}], **change}
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data, base_dir=BASE)
    assert caught.value.message.startswith(f"{field}:")
    assert caught.value.exit_code == 2


def test_segments_are_speech_and_intro_and_outro_music_unless_told() -> None:
    manifest = parse_manifest(
        {
            "intro": {"path": "i.wav"},
            "segments": [{"path": "a.wav"}, {"path": "b.wav", "content": "music"}],
            "outro": {"path": "o.wav", "content": "speech"},
        },
        base_dir=BASE,
    )
    assert [part.content for part in manifest.parts] == ["music", "speech", "music", "speech"]
    assert [part.field for part in manifest.parts] == [
        "intro", "segments[0]", "segments[1]", "outro",
    ]  # fmt: skip


def test_loudness_measured_elsewhere_is_not_taken() -> None:
    # The engine measures each part as it will play (downmixed and cleaned up).
    with pytest.raises(ManifestError) as caught:
        parse_manifest({"segments": [{"path": "a.wav", "measured_lufs": -23.5}]}, base_dir=BASE)
    assert caught.value.message == "segments[0].measured_lufs: unknown field"
