"""Every promise of issue 11's part 1, held on hostile material and measured on the encoded
file with the independent meter (tests/audio_meter.py), never with the engine's own figures.

Each test drives the real CLI (``python -m podplus.engine assemble MANIFEST -o OUT --json``)
and decodes what it wrote. Where a figure belongs to one part of the episode, the window is
taken from the known timeline (the decoded lengths of the inputs, joined without overlap)
with a margin at each end, so a few milliseconds of join can't move the answer.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.audio_meter import (
    Audio,
    BedFigures,
    bed_figures,
    decode,
    envelope_db,
    first_above_s,
    integrated_lufs,
    last_above_s,
    onset_s,
    rms_db,
    true_peak_db,
    window_lufs,
)
from tests.engine.conftest import events, probe, run_engine
from tests.hostile_audio import (
    centred_stereo,
    clipped_take,
    encode,
    one_sided_stereo,
    padded_speech,
    peaky_take,
    plain_take,
    room_tone,
    silent_take,
    steady_bed,
    take_with_pauses,
    vbr_mp3_without_xing,
    voice_like,
    zero_length_wav,
)
from tests.media_files import photo, tone

FORMATS = ("mp3", "m4a", "flac", "wav")
TARGETS_LUFS = (-14.0, -16.0, -19.0, -23.0)
CEILING_DB = -1.0
PEAK_TOLERANCE_DB = 0.1
LOUDNESS_TOLERANCE_LU = 0.5
MARGIN_S = 0.3  # kept clear of each join when a window is measured


@dataclass(frozen=True)
class Run:
    result: subprocess.CompletedProcess[str]
    output: Path

    @property
    def done(self) -> dict[str, Any]:
        lines = events(self.result)
        assert lines and lines[-1]["event"] == "done", self.result.stderr
        return lines[-1]

    @property
    def phases(self) -> set[str]:
        return {line.get("phase", "") for line in events(self.result)}

    def audio(self) -> Audio:
        assert self.result.returncode == 0, self.result.stderr
        return decode(self.output)


def assemble(folder: Path, name: str = "out", *, fmt: str = "wav", **fields: Any) -> Run:
    """Write a manifest of ``fields`` (``output.format`` set to ``fmt`` unless given) and
    run the engine on it."""
    fields.setdefault("output", {})
    fields["output"] = {"format": fmt, **fields["output"]}
    manifest = folder / f"{name}.json"
    manifest.write_text(json.dumps(fields, default=str))
    output = folder / f"{name}.{fields['output']['format']}"
    return Run(run_engine("assemble", manifest, "-o", output, "--json"), output)


def spans(durations_s: Iterable[float]) -> list[tuple[float, float]]:
    """Where each part plays when they are joined end to end."""
    edges = [0.0, *itertools.accumulate(durations_s)]
    return list(itertools.pairwise(edges))


def inner(span: tuple[float, float], margin_s: float = MARGIN_S) -> tuple[float, float]:
    return span[0] + margin_s, span[1] - margin_s


def assert_refused_cleanly(run: Run, *words: str) -> None:
    """Exit 2, a message with each of ``words``, no output and no work folder left."""
    message = run.result.stderr.lower()
    assert run.result.returncode == 2, (run.result.returncode, run.result.stderr[-500:])
    assert all(word in message for word in words), run.result.stderr[-500:]
    assert not run.output.exists()
    assert not list(run.output.parent.glob(".podplus-*"))


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    return {
        # Pushed 6 dB into clipping: flat tops at full scale, yet quiet enough that the
        # episode's gain pushes them into the limiter, with levelling or without.
        "clipped": clipped_take(folder / "clipped.wav", boost_db=6),
        "plain": plain_take(folder / "plain.wav"),
        "plain_b": plain_take(folder / "plain_b.wav", text="And that is all for the first part."),
        "peaky": peaky_take(folder / "peaky.wav"),
        "peaky_b": peaky_take(folder / "peaky_b.wav", text="Give it up for our guest tonight."),
        "vbr": vbr_mp3_without_xing(folder / "vbr.mp3"),
        "left": one_sided_stereo(folder / "left.wav"),
        "centre": centred_stereo(folder / "centre.wav"),
        "room": room_tone(folder / "room.wav"),
        "silent": silent_take(folder / "silent.wav"),
        "empty": zero_length_wav(folder / "empty.wav"),
        "padded": padded_speech(folder / "padded.wav"),
        "cover": photo(folder / "cover.jpg"),
    }


def length_s(path: Path) -> float:
    return decode(path).duration_s


# -- 1. the true-peak ceiling holds for every format, target and option --------------------


# Every format at every target, each with levelling on and off and in mono and stereo
# across the set (16 runs); `make bench-quality` runs the whole product.
CEILING_CASES = [
    (fmt, target, (f + t) % 2 == 0, 1 + (t + f // 2) % 2)
    for (f, fmt), (t, target) in itertools.product(enumerate(FORMATS), enumerate(TARGETS_LUFS))
]


@pytest.mark.parametrize(("fmt", "target_lufs", "level_segments", "channels"), CEILING_CASES)
def test_a_clipped_take_comes_out_on_target_under_the_ceiling(
    material: dict[str, Path],
    tmp_path: Path,
    fmt: str,
    target_lufs: float,
    level_segments: bool,
    channels: int,
) -> None:
    run = assemble(
        tmp_path,
        fmt=fmt,
        segments=[{"path": material["clipped"]}, {"path": material["peaky"]}],
        level_segments=level_segments,
        loudness={"target_lufs": target_lufs, "true_peak_db": CEILING_DB},
        output={"channels": channels},
    )
    assert run.result.returncode == 0, run.result.stderr[-800:]
    audio = run.audio()
    peak, lufs = true_peak_db(audio), integrated_lufs(audio)
    figures = f"{peak:+.2f} dBTP, {lufs:.2f} LUFS, done: {run.done.get('true_peak_db')} dBTP"
    assert audio.channels == channels
    assert peak <= CEILING_DB + PEAK_TOLERANCE_DB, figures
    assert lufs == pytest.approx(target_lufs, abs=LOUDNESS_TOLERANCE_LU), figures
    # The engine measured the file it wrote, and never calls an over "done".
    assert run.done["true_peak_db"] is not None, figures
    assert run.done["true_peak_db"] <= CEILING_DB + PEAK_TOLERANCE_DB, figures


# -- 2. a VBR MP3 without a Xing header keeps its tail ------------------------------------------


def test_a_vbr_mp3_without_a_header_plays_to_its_last_sample(
    material: dict[str, Path], tmp_path: Path
) -> None:
    source_s = length_s(material["vbr"])
    run = assemble(tmp_path, segments=[{"path": material["vbr"]}])
    played_s = run.audio().duration_s
    assert played_s == pytest.approx(source_s, abs=0.05), f"{played_s:.3f} s of {source_s:.3f} s"


# -- 3. the bed sits at its gain under the levelled speech, at every target --------------------


BED_BAND_HZ = (14000.0, 20000.0)  # where the bed plays and the voice (22.05 kHz) can't


@pytest.fixture(scope="module")
def bed_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[float, BedFigures]:
    folder = tmp_path_factory.mktemp("bed")
    layout = take_with_pauses(folder / "pauses.wav")
    bed = steady_bed(folder / "bed.wav", seconds=8.0, level_db=-30.0)
    figures = {}
    for target in TARGETS_LUFS:
        run = assemble(
            folder,
            f"bed{-target:.0f}",
            segments=[{"path": layout.path}],
            music_bed={"path": bed, "gain_db": -20, "duck": True},
            loudness={"target_lufs": target},
        )
        figures[target] = bed_figures(
            run.audio(), speech=layout.speech, pauses=layout.pauses, bed_band_hz=BED_BAND_HZ
        )
    return figures


@pytest.mark.parametrize("target_lufs", TARGETS_LUFS)
def test_the_bed_in_pauses_sits_at_its_gain_below_the_speech(
    bed_runs: dict[float, BedFigures], target_lufs: float
) -> None:
    relative = bed_runs[target_lufs].bed_below_speech_db
    assert relative == pytest.approx(-20.0, abs=1.5), f"bed at {relative:+.1f} dB"


def test_the_bed_ducks_as_deep_at_every_target(bed_runs: dict[float, BedFigures]) -> None:
    depths = {target: round(f.duck_depth_db, 1) for target, f in bed_runs.items()}
    assert min(depths.values()) >= 6, depths
    assert max(depths.values()) - min(depths.values()) <= 1.5, depths


# -- 4. levelling measures what plays: a one-sided take in a mono episode ----------------------


@pytest.mark.parametrize("target_lufs", [-16.0, -23.0])
def test_a_one_sided_take_lands_level_with_a_centred_one_in_mono(
    material: dict[str, Path], tmp_path: Path, target_lufs: float
) -> None:
    # At −23 the limiter is idle and the downmix's 3 dB shows whole.
    parts = [material["left"], material["centre"]]
    run = assemble(
        tmp_path,
        segments=[{"path": path} for path in parts],
        crossfade_s=0,
        loudness={"target_lufs": target_lufs},
        output={"channels": 1},
    )
    audio = run.audio()
    left, centre = (window_lufs(audio, *inner(s)) for s in spans(map(length_s, parts)))
    assert abs(left - centre) <= 0.5, f"one-sided {left:.2f} LUFS, centred {centre:.2f} LUFS"


# -- 5. silence is not programme ---------------------------------------------------------------


def test_a_silent_episode_is_refused(material: dict[str, Path], tmp_path: Path) -> None:
    run = assemble(tmp_path, segments=[{"path": material["silent"]}])
    assert_refused_cleanly(run, "silent")


def test_room_tone_between_speech_stays_at_its_level(
    material: dict[str, Path], tmp_path: Path
) -> None:
    parts = [material["plain"], material["room"], material["plain_b"]]
    run = assemble(tmp_path, segments=[{"path": p} for p in parts], crossfade_s=0)
    audio = run.audio()
    room = spans(map(length_s, parts))[1]
    level = rms_db(audio.window(*inner(room)))
    assert level <= -60, f"room tone played at {level:.1f} dBFS RMS (it was -75)"


def test_no_part_is_raised_more_than_24_db(material: dict[str, Path], tmp_path: Path) -> None:
    # Both normal takes are already on the target, so they need no levelling; the quiet
    # one (speech, 29 dB under) may be raised by 24 dB at most.
    folder = tmp_path / "takes"
    normal = plain_take(folder / "normal.wav", lufs=-23.0)
    quiet = plain_take(folder / "quiet.wav", text="I am very far from the microphone.", lufs=-52)
    closing = plain_take(folder / "closing.wav", text="Back to me, then.", lufs=-23.0)
    parts = [normal, quiet, closing]
    run = assemble(
        tmp_path,
        segments=[{"path": p} for p in parts],
        crossfade_s=0,
        loudness={"target_lufs": -23},
    )
    audio = run.audio()
    gains = [
        window_lufs(audio, *inner(span)) - window_lufs(decode(path), *inner((0, span[1] - span[0])))
        for path, span in zip(parts, spans(map(length_s, parts)), strict=True)
    ]
    raised = gains[1] - (gains[0] + gains[2]) / 2
    assert raised <= 24.0 + 0.5, f"the quiet take was raised {raised:.1f} dB (gains {gains})"


# -- 6. the limiter doesn't un-level takes -----------------------------------------------------


@pytest.mark.parametrize("target_lufs", [-14.0, -16.0])
def test_peaky_and_plain_takes_land_within_half_a_lu(
    material: dict[str, Path], tmp_path: Path, target_lufs: float
) -> None:
    parts = [material["plain"], material["peaky"], material["plain_b"], material["peaky_b"]]
    run = assemble(
        tmp_path,
        segments=[{"path": p} for p in parts],
        crossfade_s=0,
        loudness={"target_lufs": target_lufs},
    )
    audio = run.audio()
    # Whole takes (speech joins are butted; only the 5 ms edge fades are left out): a
    # window that cuts off a clap near a take's edge would measure the window, not the take.
    takes = [window_lufs(audio, *inner(s, 0.01)) for s in spans(map(length_s, parts))]
    assert max(takes) - min(takes) <= 0.5, "takes at " + ", ".join(f"{t:.2f}" for t in takes)


# -- 7. covers and tags -------------------------------------------------------------------------


def cover_bytes_and_type(path: Path) -> tuple[bytes, int | None]:
    """The embedded picture, exactly as stored, and its picture type (None in MP4)."""
    import mutagen.flac
    import mutagen.id3
    import mutagen.mp4

    if path.suffix == ".mp3":
        frame = mutagen.id3.ID3(path).getall("APIC")[0]
        return bytes(frame.data), int(frame.type)
    if path.suffix == ".flac":
        picture = mutagen.flac.FLAC(path).pictures[0]
        return bytes(picture.data), int(picture.type)
    tags = mutagen.mp4.MP4(path).tags
    assert tags is not None
    return bytes(tags["covr"][0]), None


@pytest.mark.parametrize("fmt", ["mp3", "m4a", "flac"])
def test_a_large_jpeg_cover_is_embedded_as_it_is_as_the_front_cover(
    material: dict[str, Path], tmp_path: Path, fmt: str
) -> None:
    run = assemble(
        tmp_path, fmt=fmt, segments=[{"path": material["plain"]}], cover=material["cover"]
    )
    assert run.result.returncode == 0, run.result.stderr[-500:]
    data, picture_type = cover_bytes_and_type(run.output)
    original = material["cover"].read_bytes()
    assert data == original, f"embedded {len(data)} bytes, the cover has {len(original)}"
    if fmt != "m4a":
        assert picture_type == 3  # ID3/FLAC picture type 3: "Cover (front)"


def test_the_mp3_comment_is_a_comm_frame(material: dict[str, Path], tmp_path: Path) -> None:
    import mutagen.id3

    run = assemble(
        tmp_path, fmt="mp3", segments=[{"path": material["plain"]}], tags={"comment": "Notes"}
    )
    assert run.result.returncode == 0, run.result.stderr[-500:]
    tags = mutagen.id3.ID3(run.output)
    assert [frame.text for frame in tags.getall("COMM")] == [["Notes"]]
    assert not [frame for frame in tags.getall("TXXX") if frame.desc.lower() == "comment"]


# -- 8. joins ----------------------------------------------------------------------------------


VOICE_A_BAND_HZ = (250.0, 350.0)
VOICE_B_BAND_HZ = (1800.0, 2200.0)
MUSIC_BAND_HZ = (4500.0, 5500.0)


def both_playing_s(audio: Audio, first: tuple[float, float], second: tuple[float, float]) -> float:
    """How long two sounds, each in its own band, play at once: 10 ms frames where both
    are within 20 dB of their own loudest."""
    a = envelope_db(audio, band_hz=first)
    b = envelope_db(audio, band_hz=second)
    together = (a >= a.max() - 20) & (b >= b.max() - 20)
    return float(np.count_nonzero(together)) * 0.01


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("voices")
    return {
        "a": voice_like(folder / "a.wav", pitch_hz=300),
        "b": voice_like(folder / "b.wav", pitch_hz=2000),
        "music": tone(folder / "music.wav", seconds=3.0, frequency_hz=5000, volume_db=-12),
    }


def test_two_speech_segments_never_talk_at_once(voices: dict[str, Path], tmp_path: Path) -> None:
    # The default crossfade (1 s) applies to music joins only.
    run = assemble(tmp_path, segments=[{"path": voices["a"]}, {"path": voices["b"]}])
    overlap = both_playing_s(run.audio(), VOICE_A_BAND_HZ, VOICE_B_BAND_HZ)
    assert overlap <= 0.05, f"both voices for {overlap:.2f} s"


def test_music_into_speech_still_crossfades(voices: dict[str, Path], tmp_path: Path) -> None:
    run = assemble(tmp_path, intro={"path": voices["music"]}, segments=[{"path": voices["a"]}])
    overlap = both_playing_s(run.audio(), MUSIC_BAND_HZ, VOICE_A_BAND_HZ)
    assert overlap >= 0.3, f"music and voice together for {overlap:.2f} s"


def test_trimmed_silence_keeps_a_pre_roll_and_a_post_roll(
    material: dict[str, Path], tmp_path: Path
) -> None:
    source = decode(material["padded"])
    run = assemble(tmp_path, segments=[{"path": material["padded"]}], trim_silence=True)
    audio = run.audio()
    # The level the source's −50 dBFS is at in the output (the episode was levelled).
    gain_db = integrated_lufs(audio) - integrated_lufs(source)
    threshold_db = -50 + gain_db
    first, last = first_above_s(audio, threshold_db), last_above_s(audio, threshold_db)
    assert first is not None and last is not None
    pre_roll, post_roll = first, audio.duration_s - last
    figures = f"pre-roll {pre_roll:.3f} s, post-roll {post_roll:.3f} s"
    assert 0.1 <= pre_roll <= 1.0, figures  # kept, but the 1.5 s lead was still cut
    assert 0.2 <= post_roll <= 1.5, figures


PART_B_BAND_HZ = (2700.0, 3300.0)


@pytest.mark.parametrize("out_fmt", ["mp3", "m4a"])
@pytest.mark.parametrize("first_part", ["vbr.mp3", "aac.m4a"])
def test_a_chapter_starts_where_its_audio_does(
    tmp_path: Path, first_part: str, out_fmt: str
) -> None:
    # Part one: a 440 Hz tone through a lossy encoder (encoder delay and padding); part
    # two: a 3 kHz tone that starts sharply. Its chapter must start with its sound.
    source = tone(tmp_path / "a.wav", seconds=3.0, frequency_hz=440, volume_db=-12)
    codec = ["-c:a", "libmp3lame", "-q:a", "4"] if first_part.endswith("mp3") else ["-c:a", "aac"]
    first = encode(source, tmp_path / first_part, *codec)
    second = tone(tmp_path / "b.wav", seconds=2.0, frequency_hz=3000, volume_db=-12)
    run = assemble(
        tmp_path,
        fmt=out_fmt,
        segments=[{"path": first, "title": "A"}, {"path": second, "title": "B"}],
        crossfade_s=0,
        level_segments=False,
    )
    audio = run.audio()
    chapters = probe(run.output)["chapters"]
    starts = {c["tags"]["title"]: float(c["start_time"]) for c in chapters}
    heard = onset_s(audio, band_hz=PART_B_BAND_HZ, after_s=1.0)
    assert heard is not None
    assert abs(starts["B"] - heard) <= 0.010, f"chapter {starts['B']:.3f} s, sound {heard:.3f} s"


# -- 9. errors say what is wrong, before anything is rendered ----------------------------------


def test_a_trim_start_past_the_end_names_the_field(
    material: dict[str, Path], tmp_path: Path
) -> None:
    run = assemble(tmp_path, segments=[{"path": material["plain"], "trim_start_s": 60}])
    assert_refused_cleanly(run, "trim_start_s")
    assert "render" not in run.phases


def test_a_zero_length_wav_is_called_empty(material: dict[str, Path], tmp_path: Path) -> None:
    run = assemble(tmp_path, segments=[{"path": material["empty"]}])
    assert_refused_cleanly(run, "empty")


def test_mp3_at_96_khz_is_refused_before_the_render(
    material: dict[str, Path], tmp_path: Path
) -> None:
    run = assemble(
        tmp_path, fmt="mp3", segments=[{"path": material["plain"]}], output={"sample_rate": 96000}
    )
    assert_refused_cleanly(run, "sample_rate")
    assert not {"analyse", "render", "encode"} & run.phases
