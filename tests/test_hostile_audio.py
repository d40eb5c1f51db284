"""The hostile material has the defect it is named for, measured with the independent meter."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.audio_meter import (
    decode,
    integrated_lufs,
    loudness_spread_lu,
    rms_db,
    sample_peak_db,
    short_term_lufs,
    si_snr_db,
    true_peak_db,
    window_lufs,
)
from tests.hostile_audio import (
    centred_stereo,
    clipped_take,
    container_duration_s,
    host_and_guest,
    noisy_take,
    one_sided_stereo,
    padded_speech,
    peaky_take,
    room_tone,
    sibilant_take,
    silent_take,
    steady_bed,
    take_with_pauses,
    vbr_mp3_without_xing,
    zero_length_wav,
)


def test_the_clipped_take_is_flat_topped_over_full_scale(tmp_path: Path) -> None:
    audio = decode(clipped_take(tmp_path / "clipped.wav"))
    assert sample_peak_db(audio) == pytest.approx(0.0, abs=0.01)
    assert true_peak_db(audio) > 0.3
    assert integrated_lufs(audio) > -10


def test_the_bare_vbr_mp3_has_a_container_duration_that_is_short(tmp_path: Path) -> None:
    path = vbr_mp3_without_xing(tmp_path / "vbr.mp3")
    decoded_s = decode(path).duration_s
    assert decoded_s > 10
    assert container_duration_s(path) < decoded_s - 0.5


def test_the_one_sided_take_has_its_voice_on_the_left_only(tmp_path: Path) -> None:
    audio = decode(one_sided_stereo(tmp_path / "left.wav"))
    assert audio.channels == 2
    assert rms_db(audio.channel(0)) > -40 and sample_peak_db(audio.channel(1)) == -200.0
    centred = decode(centred_stereo(tmp_path / "centre.wav"))
    assert rms_db(centred.channel(0)) == pytest.approx(rms_db(centred.channel(1)))


def test_room_tone_sits_at_minus_75_dbfs(tmp_path: Path) -> None:
    audio = decode(room_tone(tmp_path / "room.wav"))
    assert rms_db(audio) == pytest.approx(-75.0, abs=0.1)
    assert integrated_lufs(audio) < -70  # under BS.1770's absolute gate: no programme


def test_silence_and_nothing(tmp_path: Path) -> None:
    silent = decode(silent_take(tmp_path / "silent.wav"))
    assert silent.duration_s == pytest.approx(3.0) and integrated_lufs(silent) == -math.inf
    empty = zero_length_wav(tmp_path / "empty.wav")
    assert empty.stat().st_size == 44 and decode(empty).frames == 0


def test_peaky_takes_have_claps_far_over_the_speech(tmp_path: Path) -> None:
    audio = decode(peaky_take(tmp_path / "peaky.wav"))
    assert sample_peak_db(audio) == pytest.approx(-1.0, abs=0.5)
    assert sample_peak_db(audio) - integrated_lufs(audio) > 15


def test_host_and_guest_sit_12_db_apart(tmp_path: Path) -> None:
    audio = decode(host_and_guest(tmp_path / "talk.wav"))
    assert loudness_spread_lu(short_term_lufs(audio)) > 8


@pytest.mark.parametrize("mains_hz", [50, 60])
def test_the_noisy_take_has_the_noise_and_hum_it_says(tmp_path: Path, mains_hz: int) -> None:
    take = noisy_take(tmp_path, snr_db=10, mains_hz=mains_hz)
    noisy, clean = decode(take.noisy), decode(take.clean)
    assert si_snr_db(noisy, clean) == pytest.approx(10.0, abs=0.5)
    other = 60 if mains_hz == 50 else 50
    here = rms_db(noisy, band_hz=(mains_hz - 3, mains_hz + 3))
    assert here - rms_db(noisy, band_hz=(other - 3, other + 3)) > 10
    assert rms_db(clean, band_hz=(mains_hz - 3, mains_hz + 3)) < here - 20


def test_the_sibilant_voice_has_more_high_band_energy(tmp_path: Path) -> None:
    sibilant = decode(sibilant_take(tmp_path / "s.wav"))
    plain = decode(centred_stereo(tmp_path / "plain.wav")).channel(0)
    share = rms_db(sibilant, band_hz=(4000, 10000)) - rms_db(sibilant)
    assert share > rms_db(plain, band_hz=(4000, 10000)) - rms_db(plain) + 3


def test_pauses_are_long_and_silent_and_the_bed_is_above_the_voice(tmp_path: Path) -> None:
    layout = take_with_pauses(tmp_path / "pauses.wav")
    audio = decode(layout.path)
    assert audio.duration_s == pytest.approx(layout.duration_s, abs=0.001)
    assert all(3 <= end - start <= 5 for start, end in layout.pauses)
    for start, end in layout.pauses:
        assert rms_db(audio.window(start, end)) == -200.0
    assert window_lufs(audio, *layout.speech[1]) > -30
    bed = decode(steady_bed(tmp_path / "bed.wav"))
    assert rms_db(bed) == pytest.approx(-20.0, abs=0.1)
    assert rms_db(bed, band_hz=(14000, 20000)) > -45
    assert audio.rate_hz == 22050  # so nothing of the voice is over 11 kHz


def test_padded_speech_starts_and_ends_where_it_says(tmp_path: Path) -> None:
    audio = decode(padded_speech(tmp_path / "padded.wav", lead_s=1.5, tail_s=2.0))
    assert rms_db(audio.window(0, 1.49)) == -200.0
    assert rms_db(audio.window(audio.duration_s - 1.99)) == -200.0
