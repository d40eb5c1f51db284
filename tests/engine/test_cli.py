"""The engine's command line: its protocol, its exit codes, and how it dies."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from podplus.engine.ffmpeg import failure_lines
from tests.engine.conftest import ENGINE, events, measure, run_engine
from tests.media_files import ffmpeg


@pytest.fixture(scope="module")
def long_take(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fifteen minutes of noise: long enough to still be assembling when we interrupt it."""
    path = tmp_path_factory.mktemp("long") / "long.flac"
    ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=900:c=pink:a=0.1", str(path))
    return path


def test_json_progress_then_done(audio, write_manifest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "out.mp3"
    result = run_engine(
        "assemble", write_manifest(segments=[{"path": audio["speech"]}]), "-o", output, "--json"
    )
    assert result.returncode == 0, result.stderr
    lines = events(result)
    progress = [e for e in lines if e["event"] == "progress"]
    assert progress and all(
        0 <= e["fraction"] <= 1 and "phase" in e and "speed" in e for e in progress
    )
    done = lines[-1]
    assert done["event"] == "done"
    assert set(done) >= {"output", "duration_s", "integrated_lufs", "true_peak_db", "seconds"}
    assert done["output"] == str(output) and output.exists()
    # The encoded sound is always measured: the true peak is known, never derived.
    assert done["measured"] is True and done["true_peak_db"] is not None
    assert [part["field"] for part in done["parts"]] == ["segments[0]"]
    assert done["chapters"][0]["title"] == "speech"


@pytest.mark.parametrize("fmt", ["mp3", "m4a", "flac", "wav"])
def test_measured_figures_are_the_files_own(audio, write_manifest, tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / f"out.{fmt}"
    manifest = write_manifest(
        segments=[{"path": audio["speech"]}, {"path": audio["noise"]}],
        music_bed={"path": audio["bed"]},
        output={"format": fmt},
    )
    result = run_engine("assemble", manifest, "-o", output, "--json")
    assert result.returncode == 0, result.stderr
    done = events(result)[-1]
    measured = measure(output)
    assert done["measured"] is True
    # The meter decodes the bare stream (an mp3 or AAC encoder's priming samples included),
    # so on a clip of a few seconds the two may differ by a tenth.
    assert done["integrated_lufs"] == pytest.approx(measured["integrated_lufs"], abs=0.15)
    assert done["true_peak_db"] == pytest.approx(measured["true_peak_db"], abs=0.15)


def test_an_output_folder_with_odd_characters_works(audio, write_manifest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "a|b [c]'d" / "file:x.mp3"
    manifest = write_manifest(segments=[{"path": audio["speech"]}])
    result = run_engine("assemble", manifest, "-o", output)
    assert result.returncode == 0, result.stderr
    assert output.exists() and list(output.parent.iterdir()) == [output]


def test_progress_arrives_at_least_once_a_second(long_take, write_manifest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    command = [*ENGINE, "assemble", str(write_manifest(segments=[{"path": long_take}])),
               "-o", str(tmp_path / "out.mp3"), "--json"]  # fmt: skip
    arrivals = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        for line in process.stdout:
            arrivals.append(time.monotonic())
            if json.loads(line)["event"] == "done":
                break
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert max(gaps) < 1.0


def test_a_bad_manifest_is_exit_2_naming_the_field(audio, write_manifest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    manifest = write_manifest(segments=[{"path": audio["speech"], "trim_start_s": -1}])
    result = run_engine("assemble", manifest, "-o", tmp_path / "out.mp3")
    assert result.returncode == 2
    assert "segments[0].trim_start_s" in result.stderr
    not_json = tmp_path / "broken.json"
    not_json.write_text("{")
    assert run_engine("assemble", not_json, "-o", tmp_path / "o.mp3").returncode == 2


def test_an_unreadable_input_is_exit_2_naming_the_file(write_manifest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 100)
    result = run_engine(
        "assemble", write_manifest(segments=[{"path": text}]), "-o", tmp_path / "out.mp3"
    )
    assert result.returncode == 2
    assert "notes.wav" in result.stderr
    missing = run_engine(
        "assemble", write_manifest(segments=[{"path": "nope.wav"}]), "-o", tmp_path / "out.mp3"
    )
    assert missing.returncode == 2 and "nope.wav: no such file" in missing.stderr


def test_an_ffmpeg_failure_is_exit_3_with_its_last_lines(audio, write_manifest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A full disk, made real with a file-size limit: ffmpeg's writes fail with EFBIG (Python
    # ignores SIGXFSZ and the children inherit that), so the failure is ffmpeg's own.
    manifest = write_manifest(segments=[{"path": audio["speech"]}])

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    result = subprocess.run(
        [*ENGINE, "assemble", str(manifest), "-o", str(tmp_path / "out.mp3")],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_disk,
    )
    assert result.returncode == 3, result.stderr
    assert "ffmpeg failed while" in result.stderr
    assert len(result.stderr.strip().splitlines()) >= 2
    assert not (tmp_path / "out.mp3").exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".podplus")] == []


def test_a_crafted_playlist_or_name_reads_nothing_else(audio, write_manifest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    playlist = tmp_path / "take.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXTINF:2,\nfile:{audio['speech']}\n#EXT-X-ENDLIST\n")
    result = run_engine(
        "assemble", write_manifest(segments=[{"path": playlist}]), "-o", tmp_path / "out.mp3"
    )
    assert result.returncode == 2
    assert "not accepted" in result.stderr or "can't read" in result.stderr
    # A name that looks like an ffmpeg protocol is only ever a file name.
    sneaky = f"concat:{audio['speech']}|{audio['intro']}"
    result = run_engine(
        "assemble", write_manifest(segments=[{"path": sneaky}]), "-o", tmp_path / "out.mp3"
    )
    assert result.returncode == 2
    assert not (tmp_path / "out.mp3").exists()


def _engine_children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _is_ffmpeg(process: psutil.Process) -> bool:
    # A short-lived ffprobe may be gone between listing and asking its name.
    try:
        return process.name() == "ffmpeg"
    except psutil.NoSuchProcess:
        return False


def _wait_until_rendering(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        event = json.loads(line)
        # Past the start of the render pass (preparing the parts counts 0.3 of the job,
        # levelling 0.03): its ffmpeg is running.
        if event.get("phase") == "render" and event.get("fraction", 0) > 0.35:
            return
    raise AssertionError("the engine finished before it could be interrupted")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_kills_ffmpeg_and_leaves_no_output(long_take, write_manifest, tmp_path, sig, code):  # type: ignore[no-untyped-def]
    output = tmp_path / "out.mp3"
    command = [*ENGINE, "assemble", str(write_manifest(segments=[{"path": long_take}])),
               "-o", str(output), "--json"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        _wait_until_rendering(process)
        children = _engine_children(process.pid)
        assert any(_is_ffmpeg(child) for child in children)
        process.send_signal(sig)
        assert process.wait(timeout=10) == code
    _, alive = psutil.wait_procs(children, timeout=3)
    assert alive == []
    assert list(tmp_path.iterdir()) == [tmp_path / "manifest.json"]


def test_a_storm_of_sigterms_to_the_group_still_leaves_nothing(long_take, write_manifest, tmp_path):  # type: ignore[no-untyped-def]
    # A supervisor TERMs the engine's whole group, and may TERM it again (a cancel, then a
    # shutdown) while the engine is still cleaning up: a second signal must not cut that
    # clean-up short and leave the float intermediate (mix.f32le) or its folder behind.
    output = tmp_path / "out.mp3"
    command = [*ENGINE, "assemble", str(write_manifest(segments=[{"path": long_take}])),
               "-o", str(output), "--json"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, process_group=0) as process:
        _wait_until_rendering(process)
        assert list(tmp_path.glob(".podplus-*/mix.f32le")), "the intermediate should exist"
        children = _engine_children(process.pid)
        signals_sent = 0
        while process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
                signals_sent += 1
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.001)
        assert process.returncode == 143
    assert signals_sent > 1
    _, alive = psutil.wait_procs(children, timeout=3)
    assert alive == []
    assert list(tmp_path.iterdir()) == [tmp_path / "manifest.json"]


def test_the_engine_and_its_ffmpeg_die_with_their_parent(long_take, write_manifest, tmp_path):  # type: ignore[no-untyped-def]
    manifest = write_manifest(segments=[{"path": long_take}])
    # A parent that starts the engine and then is killed -9, as a crashed server would be.
    engine = [*ENGINE, "assemble", str(manifest), "-o", str(tmp_path / "o.mp3"), "--json"]
    starter = (
        "import subprocess, time; "
        f"subprocess.Popen({engine!r}, stdout=subprocess.DEVNULL); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", starter])
    deadline = time.monotonic() + 20
    family: list[psutil.Process] = []
    while time.monotonic() < deadline:
        family = _engine_children(parent.pid)
        if any(_is_ffmpeg(p) for p in family):
            break
        time.sleep(0.1)
    assert any(_is_ffmpeg(p) for p in family)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    _, alive = psutil.wait_procs(family, timeout=5)
    assert alive == []


def test_probe_and_loudness_print_json(audio) -> None:  # type: ignore[no-untyped-def]
    probed = run_engine("probe", audio["outro"])
    assert probed.returncode == 0
    info = json.loads(probed.stdout)
    assert info["codec"] == "mp3" and info["sample_rate"] == 48000 and info["channels"] == 2
    assert info["duration_s"] == pytest.approx(2.0, abs=0.1)
    assert info["bit_rate"] > 0 and isinstance(info["tags"], dict)
    loudness = json.loads(run_engine("loudness", audio["speech"]).stdout)
    assert set(loudness) == {"integrated_lufs", "loudness_range_lu", "true_peak_db"}
    assert -40 < loudness["integrated_lufs"] < -10
    assert run_engine("probe", "/nonexistent.wav").returncode == 2


def test_failure_lines_prefer_what_ffmpeg_tagged_as_an_error() -> None:
    stderr = (
        "[info] Input #0, wav\n[libmp3lame @ 0x1] [error] Specified sample rate 96000 is "
        "not supported\n[error] Error initializing output stream 0:0\n"
        "[Parsed_ebur128_0 @ 0x2] [info] Summary:\n  I: -20.0 LUFS\n"
    )
    assert failure_lines(stderr) == (
        "[libmp3lame @ 0x1] Specified sample rate 96000 is not supported\n"
        "Error initializing output stream 0:0"
    )
    assert failure_lines("one\ntwo\n", limit=1) == "two"
