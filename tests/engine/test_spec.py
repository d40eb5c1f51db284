"""The episode spec: one declaration of every field, read strictly, with one message per field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podplus.engine.spec import (
    EpisodeInput,
    EpisodeOptions,
    EpisodeSpec,
    ManifestSpec,
    Output,
    PartOptions,
    SpecError,
    read,
    read_json,
)


def episode(**change: Any) -> dict[str, Any]:
    return {"title": "Episode 12", "segments": [{"media_id": "take1"}], **change}


def problems(data: Any, model: type = EpisodeInput) -> list[str]:
    with pytest.raises(SpecError) as caught:
        read(model, data)
    return caught.value.problems


def test_defaults_are_broadcast_ready() -> None:
    spec = read(EpisodeInput, episode()).spec
    assert (spec.loudness.target_lufs, spec.loudness.true_peak_db) == (-16.0, -1.0)
    assert spec.output == Output(format="mp3", bitrate_kbps=128, channels=1, sample_rate=44100)
    assert spec.crossfade_s == 1.0 and spec.level_segments and spec.chapters
    assert not spec.trim_silence


def test_the_api_and_the_engine_share_every_option_block() -> None:
    # The two shapes differ only in how they point at files: every option is inherited
    # from the same blocks, so a limit can't be written twice.
    assert issubclass(EpisodeSpec, EpisodeOptions) and issubclass(ManifestSpec, EpisodeOptions)
    shared = set(EpisodeOptions.model_fields)
    assert shared <= set(EpisodeSpec.model_fields) & set(ManifestSpec.model_fields)
    api_part = EpisodeSpec.model_fields["segments"].annotation
    engine_part = ManifestSpec.model_fields["segments"].annotation
    assert issubclass(api_part.__args__[0], PartOptions)  # type: ignore[union-attr]
    assert issubclass(engine_part.__args__[0], PartOptions)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"segments": []}, "segments: must not be empty"),
        (
            {"segments": [{"media_id": "a", "trim_start_s": -1}]},
            "segments[0].trim_start_s: must be a number ≥ 0",
        ),
        (
            {
                "segments": [
                    {"media_id": "a"},
                    {"media_id": "b", "trim_start_s": 5, "trim_end_s": 2},
                ]
            },
            "segments[1].trim_end_s: must be after trim_start_s",
        ),
        (
            {"segments": [{"media_id": "a", "gain_db": "loud"}]},
            "segments[0].gain_db: must be a number",
        ),
        ({"music_bed": {"media_id": "m", "duck": "yes"}}, "music_bed.duck: must be true or false"),
        ({"loudness": {"target_lufs": 3}}, "loudness.target_lufs: must be a number ≤ -5"),
        ({"output": {"format": "ogg"}}, "output.format: must be one of mp3, m4a, wav or flac"),
        ({"output": {"channels": 6}}, "output.channels: must be a number ≤ 2"),
        ({"output": {"channels": True}}, "output.channels: must be a whole number"),
        ({"output": {"bitrate_kbps": 128.5}}, "output.bitrate_kbps: must be a whole number"),
        ({"output": {"sample_rate": 44000}}, "output.sample_rate: must be one of"),
        (
            {"output": {"format": "mp3", "sample_rate": 96000}},
            "output.sample_rate: mp3 goes up to 48000 Hz",
        ),
        ({"crossfade_s": -2}, "crossfade_s: must be a number ≥ 0"),
        ({"crossfade_s": "1"}, "crossfade_s: must be a number"),
        ({"tags": {"year": True}}, "tags.year: must be a string or a whole number"),
        ({"tags": {"bad name": "x"}}, "tags.bad name: must be a short word"),
        ({"title": "   "}, "title: must be one line of visible text"),
        ({"title": "a\x00b"}, "title: must be one line of visible text"),
        (
            {"description": "line\nline\ttab\x07"},
            "description: must not contain control characters",
        ),
        ({"surprise": 1}, "surprise: unknown field"),
    ],
)
def test_every_problem_names_its_field(change: dict[str, Any], message: str) -> None:
    assert problems(episode(**change))[0].startswith(message)


def test_show_notes_keep_newlines_and_tabs() -> None:
    notes = "Guests:\n\t- Ada\n\t- Grace\r\n"
    assert read(EpisodeInput, episode(description=notes)).description == notes


def test_every_problem_is_reported_not_only_the_first() -> None:
    found = problems(episode(crossfade_s=-1, output={"format": "ogg"}, extra=1))
    assert [problem.split(":")[0] for problem in found] == ["crossfade_s", "output.format", "extra"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"title": "x", "segments": [{"media_id": "a", "gain_db": NaN}]}',
        b'{"title": "x", "segments": [{"media_id": "a"}], "crossfade_s": Infinity}',
        b'{"title": "\\ud800", "segments": [{"media_id": "a"}]}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"title": "x", "segments": [{"media_id": "a"}], "crossfade_s": 1' + b"0" * 5000 + b"}",
    ],
    ids=["nan", "infinity", "lone-surrogate", "deep-nesting", "huge-number"],
)
def test_hostile_json_is_refused_without_echoing_it(body: bytes) -> None:
    with pytest.raises(SpecError) as caught:
        read_json(EpisodeInput, body)
    assert len(caught.value.message) < 200


def test_a_number_too_big_for_a_float_is_not_infinity() -> None:
    assert problems(episode(crossfade_s=1e308 * 10))[0] == "crossfade_s: must be a number"


def test_the_manifest_reads_paths_titles_and_known_loudness() -> None:
    manifest = read_json(
        ManifestSpec,
        json.dumps(
            {
                "intro": {"path": "intro.wav"},
                "segments": [{"path": "a.wav", "title": "Interview", "content": "music"}],
                "music_bed": {"path": "bed.mp3", "gain_db": -24},
                "cover": "cover.jpg",
            }
        ),
    )
    assert manifest.intro is not None and manifest.intro.path == "intro.wav"
    assert manifest.segments[0].content == "music"
    assert manifest.music_bed is not None and manifest.music_bed.gain_db == -24
    assert problems({"segments": [{"media_id": "a"}]}, ManifestSpec)[0].startswith(
        "segments[0].path: is required"
    )


def test_media_refs_name_the_field_of_every_file() -> None:
    spec = read(
        EpisodeInput,
        episode(intro_id="i", music_bed={"media_id": "m"}, cover_id="c", outro_id="o"),
    ).spec
    assert spec.media_refs() == [
        ("segments[0].media_id", "take1"),
        ("intro_id", "i"),
        ("outro_id", "o"),
        ("music_bed.media_id", "m"),
        ("cover_id", "c"),
    ]
    assert spec.media_ids() == {"take1", "i", "o", "m", "c"}
