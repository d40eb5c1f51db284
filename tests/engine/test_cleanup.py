"""The clean-up of spoken parts, with a real ffmpeg: tuned to the take, and never moving
the audio in time."""

from __future__ import annotations

import subprocess
from array import array
from pathlib import Path

import pytest

from podplus.engine.cleanup import cleanup_filters, read_findings
from podplus.engine.graph import listen_args
from podplus.engine.manifest import parse_manifest
from podplus.engine.meters import blocks, read_loudness
from podplus.engine.spec import Cleanup
from tests.media_files import ffmpeg

RATE = 44100


def take_with(tmp_path: Path, name: str, *sources: str) -> Path:
    """Speech-band noise with whatever ``sources`` (lavfi) are mixed under it."""
    path = tmp_path / f"{name}.wav"
    inputs = ["-f", "lavfi", "-i", f"anoisesrc=c=pink:a=0.05:r={RATE}:d=4"]
    for source in sources:
        inputs += ["-f", "lavfi", "-i", source]
    mix = f"amix=inputs={1 + len(sources)}:normalize=0:duration=first"
    ffmpeg(*inputs, "-filter_complex", mix, str(path))
    return path


def hum_heard(path: Path) -> int | None:
    manifest = parse_manifest({"segments": [{"path": str(path)}]}, base_dir=path.parent)
    result = subprocess.run(
        listen_args(manifest.parts[0], manifest.output), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    named = blocks(result.stderr)
    return read_findings(named, read_loudness(named, "before").integrated_lufs).hum_hz


@pytest.mark.parametrize("mains_hz", [50, 60])
def test_mains_hum_is_found_at_its_own_frequency(tmp_path: Path, mains_hz: int) -> None:
    hum = f"sine=f={mains_hz}:r={RATE}:d=4,volume=-6dB"
    assert hum_heard(take_with(tmp_path, f"hum{mains_hz}", hum)) == mains_hz


def test_no_hum_is_found_in_plain_noise(tmp_path: Path) -> None:
    assert hum_heard(take_with(tmp_path, "plain")) is None


def test_the_denoiser_does_not_move_the_audio_in_time(tmp_path: Path) -> None:
    # afftdn delays its output by half a window; the chain must undo that exactly.
    click = array("f", bytes(4 * RATE * 2))
    click[RATE // 2] = 0.5
    source = tmp_path / "click.f32"
    source.write_bytes(click.tobytes())
    findings = read_findings(
        {"astats@floor": _stats(-60.0), "astats@mains50": _stats(-90.0),
         "astats@mains60": _stats(-90.0)},
        -20.0,
    )  # fmt: skip
    filters, applied = cleanup_filters(Cleanup(), findings, sample_rate=RATE)
    assert any(line.startswith("steady noise lowered 12 dB") for line in applied)
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "f32le", "-ar", str(RATE), "-ac", "1", "-i",
         str(source), "-af", ",".join(filters), "-f", "f32le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    cleaned = array("f", out)
    assert len(cleaned) == len(click)
    loudest = max(range(len(cleaned)), key=lambda index: abs(cleaned[index]))
    assert loudest == RATE // 2


def test_nothing_is_tuned_without_a_listening_pass() -> None:
    filters, applied = cleanup_filters(Cleanup(), None, sample_rate=RATE)
    assert filters == ["highpass=f=70:poles=2"]
    assert applied == ["rumble and DC below 70 Hz removed"]
    off = Cleanup(highpass_hz=0, dehum=False, denoise_db=0)
    assert cleanup_filters(off, None, sample_rate=RATE) == ([], [])


def test_a_digitally_silent_floor_is_not_denoised() -> None:
    findings = read_findings(
        {"astats@floor": _stats(None), "astats@mains50": _stats(None),
         "astats@mains60": _stats(None)},
        -20.0,
    )  # fmt: skip
    assert findings.noise_floor_db is None and findings.hum_hz is None
    filters, _ = cleanup_filters(Cleanup(), findings, sample_rate=RATE)
    assert not any(f.startswith("afftdn") for f in filters)


def _stats(level_db: float | None) -> str:
    value = "-inf" if level_db is None else f"{level_db:.6f}"
    prefix = "[astats@x @ 0x55d0]"
    return "\n".join(
        f"{prefix} {line}"
        for line in (
            "Overall", "DC offset: 0.000000", f"Peak level dB: {value}",
            f"RMS level dB: {value}", f"RMS trough dB: {value}", "Number of samples: 44100",
        )
    )  # fmt: skip
