"""What a listener gets: loudness on target, one level across takes, exact duration, a bed
that ducks under speech, and tags, cover and chapters a player can read."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from podplus.engine.timeline import POST_ROLL_S, PRE_ROLL_S
from tests.engine.conftest import events, measure, probe, run_engine
from tests.media_files import ffmpeg, tone

TARGET_LUFS = -16.0
TRUE_PEAK_DB = -1.0


def assemble(manifest: Path, output: Path) -> dict[str, float]:
    result = run_engine("assemble", manifest, "-o", output, "--json")
    assert result.returncode == 0, result.stderr
    done = events(result)[-1]
    assert done["event"] == "done"
    return done


@pytest.mark.parametrize(
    ("clip", "fmt"),
    [("speech_quiet", "mp3"), ("speech_loud", "mp3"), ("noise", "m4a"), ("speech", "flac")],
)
def test_loudness_lands_on_target_with_the_peak_under_the_ceiling(  # type: ignore[no-untyped-def]
    audio, write_manifest, tmp_path, clip, fmt
) -> None:
    manifest = write_manifest(segments=[{"path": audio[clip]}], output={"format": fmt})
    output = tmp_path / f"out.{fmt}"
    assemble(manifest, output)
    measured = measure(output)
    assert measured["integrated_lufs"] == pytest.approx(TARGET_LUFS, abs=0.5)
    assert measured["true_peak_db"] <= TRUE_PEAK_DB + 0.1


def test_mixed_levels_without_levelling_still_hit_the_target(  # type: ignore[no-untyped-def]
    audio, write_manifest, tmp_path
) -> None:
    manifest = write_manifest(
        segments=[{"path": audio["speech_quiet"]}, {"path": audio["speech_loud"]}],
        level_segments=False,
        loudness={"target_lufs": -19, "true_peak_db": -2},
    )
    output = tmp_path / "out.mp3"
    assemble(manifest, output)
    measured = measure(output)
    assert measured["integrated_lufs"] == pytest.approx(-19, abs=0.5)
    assert measured["true_peak_db"] <= -2 + 0.1


def test_a_take_20_db_quieter_comes_out_level_with_the_others(  # type: ignore[no-untyped-def]
    audio, write_manifest, tmp_path
) -> None:
    manifest = write_manifest(
        segments=[{"path": audio["speech"]}, {"path": audio["speech_quiet"]}],
        crossfade_s=0,
        output={"format": "wav"},
    )
    output = tmp_path / "out.wav"
    assemble(manifest, output)
    first_s = float(probe(audio["speech"])["format"]["duration"])
    halves = []
    for start, end in ((0, first_s), (first_s, None)):
        piece = tmp_path / f"piece{start}.wav"
        trim = ["-ss", str(start)] + (["-t", str(end - start)] if end else [])
        ffmpeg("-i", str(output), *trim, str(piece))
        halves.append(measure(piece)["integrated_lufs"])
    assert abs(halves[0] - halves[1]) <= 2.0


def test_duration_is_the_parts_minus_the_crossfades(audio, write_manifest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    parts = [audio["intro"], audio["speech"], audio["outro"]]
    manifest = write_manifest(
        intro={"path": parts[0]},
        segments=[{"path": parts[1]}],
        outro={"path": parts[2]},
        crossfade_s=0.5,
    )
    output = tmp_path / "out.mp3"
    done = assemble(manifest, output)
    expected = sum(float(probe(p)["format"]["duration"]) for p in parts) - 2 * 0.5
    assert float(probe(output)["format"]["duration"]) == pytest.approx(expected, abs=0.05)
    assert done["duration_s"] == pytest.approx(expected, abs=0.05)


def test_trims_cut_the_source(audio, write_manifest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    manifest = write_manifest(
        segments=[{"path": audio["noise"], "trim_start_s": 0.5, "trim_end_s": 2.0}],
        output={"format": "wav"},
    )
    output = tmp_path / "out.wav"
    assemble(manifest, output)
    assert float(probe(output)["format"]["duration"]) == pytest.approx(1.5, abs=0.02)


def test_trim_silence_cuts_leading_and_trailing_silence(audio, write_manifest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    padded = tmp_path / "padded.wav"
    ffmpeg("-i", str(audio["intro"]), "-af", "adelay=1500,apad=pad_dur=2", str(padded))
    manifest = write_manifest(
        segments=[{"path": padded}], trim_silence=True, output={"format": "wav"}
    )
    output = tmp_path / "out.wav"
    assemble(manifest, output)
    # The two seconds of tone, with the breath of room kept before and after the cut.
    expected = 2.0 + PRE_ROLL_S + POST_ROLL_S
    assert float(probe(output)["format"]["duration"]) == pytest.approx(expected, abs=0.05)


def _level(path: Path, start_s: float, duration_s: float) -> float:
    """Mean volume (dB) of a window, read from volumedetect."""
    result = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-ss",
            str(start_s),
            "-t",
            str(duration_s),
            "-i",
            str(path),
            "-af",
            "volumedetect",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in result.stderr.splitlines() if "mean_volume" in x)
    return float(line.split("mean_volume:")[1].split("dB")[0])


def test_the_bed_ducks_under_speech_runs_to_the_end_and_fades(  # type: ignore[no-untyped-def]
    audio, write_manifest, tmp_path
) -> None:
    # A 2 s spoken part, 3 s of silence, 2 s spoken: the bed (a 45 Hz tone) should be
    # lower while the voice speaks than in the gap.
    silence = tmp_path / "gap.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "3", str(silence))
    voice = tmp_path / "voice.wav"
    ffmpeg("-i", str(audio["speech"]), "-t", "2", str(voice))
    # A 45 Hz bed sits below espeak's voice, so a low-pass isolates it.
    bed = tone(tmp_path / "bed.mp3", seconds=3.0, frequency_hz=45, volume_db=0)
    manifest = write_manifest(
        segments=[{"path": voice}, {"path": silence}, {"path": voice}],
        crossfade_s=0,
        level_segments=False,
        music_bed={"path": bed, "gain_db": -12, "duck": True},
        output={"format": "wav"},
    )
    output = tmp_path / "out.wav"
    assemble(manifest, output)
    bed_only = tmp_path / "bed_only.wav"
    # Isolate the bed with a steep low-pass.
    ffmpeg("-i", str(output), "-af", "lowpass=f=60,lowpass=f=60,lowpass=f=60", str(bed_only))
    under_speech = _level(bed_only, 0.8, 1.0)
    in_gap = _level(bed_only, 3.2, 1.0)
    assert in_gap - under_speech >= 6
    total = float(probe(output)["format"]["duration"])
    assert total == pytest.approx(7.0, abs=0.05)
    # The 3 s bed loops to cover all 7 s, and fades out at the very end.
    assert _level(bed_only, 5.0, 0.5) > -60
    assert _level(bed_only, total - 0.15, 0.1) < _level(bed_only, 3.2, 0.5) - 10


@pytest.mark.parametrize("fmt", ["mp3", "m4a"])
def test_tags_cover_and_chapters_are_readable(audio, write_manifest, tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    manifest = write_manifest(
        title="Episode 12",
        intro={"path": audio["intro"]},
        segments=[{"path": audio["speech"], "title": "The interview"}],
        outro={"path": audio["outro"]},
        tags={"artist": "Ada", "album": "The Show", "comment": "Notes", "year": 2026},
        cover=audio["cover"],
        output={"format": fmt, "bitrate_kbps": 96, "channels": 2, "sample_rate": 48000},
    )
    output = tmp_path / f"out.{fmt}"
    assemble(manifest, output)
    report = probe(output)
    tags = {k.lower(): v for k, v in report["format"]["tags"].items()}
    assert tags["title"] == "Episode 12"
    assert tags["artist"] == "Ada" and tags["album"] == "The Show"
    assert tags["date"] == "2026"
    audio_stream = next(s for s in report["streams"] if s["codec_type"] == "audio")
    assert audio_stream["channels"] == 2 and audio_stream["sample_rate"] == "48000"
    covers = [s for s in report["streams"] if s.get("disposition", {}).get("attached_pic")]
    assert len(covers) == 1
    assert [c["tags"]["title"] for c in report["chapters"]] == ["Intro", "The interview", "Outro"]
    assert float(report["chapters"][1]["start_time"]) == pytest.approx(2.0 - 1.0, abs=0.01)


@pytest.mark.parametrize("fmt", ["flac", "wav"])
def test_lossless_outputs_carry_tags(audio, write_manifest, tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    manifest = write_manifest(
        title="Lossless",
        segments=[{"path": audio["speech"]}],
        tags={"artist": "Ada"},
        cover=audio["cover"],
        output={"format": fmt},
    )
    output = tmp_path / f"out.{fmt}"
    assemble(manifest, output)
    report = probe(output)
    tags = {k.lower(): v for k, v in report["format"]["tags"].items()}
    assert tags["title"] == "Lossless" and tags["artist"] == "Ada"
    covers = [s for s in report["streams"] if s.get("disposition", {}).get("attached_pic")]
    assert len(covers) == (1 if fmt == "flac" else 0)
