"""The independent meter, checked on synthetic signals whose answers are known from the
standards (ITU-R BS.1770-4, EBU Tech 3341/3342) or from arithmetic."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from tests.audio_meter import (
    Audio,
    decode,
    filtered_snr_db,
    first_above_s,
    integrated_lufs,
    last_above_s,
    log_spectral_distance_db,
    loudness_spread_lu,
    onset_s,
    rms_db,
    sample_peak_db,
    short_term_lufs,
    si_snr_db,
    true_peak_db,
    window_lufs,
)
from tests.hostile_audio import pink_noise, write_audio

RATE = 48000


def sine(
    frequency_hz: float, *, seconds: float, level_db: float, channels: int = 1, phase: float = 0
) -> Audio:
    """A sine whose peak amplitude is ``level_db`` dBFS, the same on every channel."""
    t = np.arange(round(seconds * RATE)) / RATE
    wave = 10 ** (level_db / 20) * np.sin(2 * np.pi * frequency_hz * t + phase)
    return Audio(np.repeat(wave[:, None], channels, axis=1), RATE)


def test_a_minus_20_dbfs_997_hz_sine_is_minus_23_lufs_mono() -> None:
    # BS.1770-4: a 0 dBFS 1 kHz sine in one channel reads −3.01 LKFS.
    assert integrated_lufs(sine(997, seconds=10, level_db=-20)) == pytest.approx(-23.01, abs=0.05)


def test_the_same_sine_on_two_channels_adds_3_lu() -> None:
    # EBU Tech 3341 case 1: a −23 dBFS 1 kHz sine on both channels is −23.0 LUFS.
    stereo = sine(1000, seconds=20, level_db=-23, channels=2)
    assert integrated_lufs(stereo) == pytest.approx(-23.0, abs=0.1)


def test_quiet_stretches_fall_under_the_relative_gate() -> None:
    # EBU Tech 3341 case 3 (shortened): −36, −23, −36 dBFS; the quiet ends don't count.
    quiet = sine(1000, seconds=5, level_db=-36, channels=2).samples
    loud = sine(1000, seconds=20, level_db=-23, channels=2).samples
    audio = Audio(np.concatenate([quiet, loud, quiet]), RATE)
    assert integrated_lufs(audio) == pytest.approx(-23.0, abs=0.1)
    assert window_lufs(audio, 0, 5) == pytest.approx(-36.0, abs=0.1)


def test_digital_silence_has_no_loudness() -> None:
    assert integrated_lufs(Audio(np.zeros((RATE * 2, 1)), RATE)) == -math.inf


def test_a_full_scale_sine_at_a_quarter_of_the_rate_peaks_3_db_between_its_samples() -> None:
    # Phase π/4: every sample lands at ±0.707, the waveform itself reaches ±1. Faded in
    # and out over 10 ms, so the interpolator doesn't ring on an abrupt edge.
    audio = sine(RATE / 4, seconds=1, level_db=0, phase=math.pi / 4)
    fade = np.sin(np.linspace(0, np.pi / 2, RATE // 100)) ** 2
    audio.samples[: fade.size, 0] *= fade
    audio.samples[-fade.size :, 0] *= fade[::-1]
    assert sample_peak_db(audio) == pytest.approx(-3.01, abs=0.01)
    assert true_peak_db(audio) == pytest.approx(0.0, abs=0.02)
    assert true_peak_db(audio) - sample_peak_db(audio) == pytest.approx(3.01, abs=0.02)


def test_a_low_sine_peaks_where_its_samples_do() -> None:
    audio = sine(1000, seconds=1, level_db=-6, channels=2)
    assert true_peak_db(audio) == pytest.approx(sample_peak_db(audio), abs=0.05)
    assert sample_peak_db(audio) == pytest.approx(-6.0, abs=0.01)


def test_the_true_peak_is_the_loudest_channels() -> None:
    left = sine(1000, seconds=1, level_db=-20).samples
    right = sine(1000, seconds=1, level_db=-3).samples
    assert true_peak_db(Audio(np.hstack([left, right]), RATE)) == pytest.approx(-3.0, abs=0.05)


def test_rms_of_a_full_scale_sine_is_minus_3_db_and_bands_split_a_mix() -> None:
    assert rms_db(sine(1000, seconds=1, level_db=0)) == pytest.approx(-3.01, abs=0.01)
    mix = Audio(
        sine(100, seconds=2, level_db=-6).samples + sine(5000, seconds=2, level_db=-12).samples,
        RATE,
    )
    assert rms_db(mix, band_hz=(None, 1000)) == pytest.approx(-9.03, abs=0.1)
    assert rms_db(mix, band_hz=(2000, None)) == pytest.approx(-15.05, abs=0.1)
    assert rms_db(mix, band_hz=(4000, 6000)) == pytest.approx(-15.05, abs=0.1)


def test_short_term_loudness_follows_a_step_and_the_spread_measures_it() -> None:
    loud = sine(1000, seconds=8, level_db=-20).samples
    quiet = sine(1000, seconds=8, level_db=-32).samples
    series = short_term_lufs(Audio(np.concatenate([loud, quiet]), RATE))
    assert series[0] == pytest.approx(-23.0, abs=0.1)
    assert series[-1] == pytest.approx(-35.0, abs=0.1)
    assert loudness_spread_lu(series) == pytest.approx(12.0, abs=0.2)
    steady = short_term_lufs(sine(1000, seconds=8, level_db=-20))
    assert loudness_spread_lu(steady) == pytest.approx(0.0, abs=0.05)


def test_the_spread_ignores_pauses() -> None:
    # Silence and near-silence are under the −70 LUFS and −20 LU gates.
    series = np.array([-20.0] * 50 + [-math.inf] * 30 + [-75.0] * 10 + [-45.0] * 10)
    assert loudness_spread_lu(series) == pytest.approx(0.0)


def test_si_snr_finds_known_noise_through_a_delay_and_a_gain() -> None:
    clean = pink_noise(RATE * 3, seed=1)
    noise = pink_noise(RATE * 3, seed=2) * 10 ** (-10 / 20)  # 10 dB under the clean signal
    delayed = np.concatenate([np.zeros(480), 0.25 * (clean + noise)])[: clean.size]
    snr = si_snr_db(Audio(delayed[:, None], RATE), Audio(clean[:, None], RATE))
    assert snr == pytest.approx(10.0, abs=0.3)


def test_si_snr_aligns_references_at_another_rate() -> None:
    t = np.arange(RATE * 2) / RATE
    voice = np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    reference = Audio(voice[::2, None], RATE // 2)
    assert si_snr_db(Audio(voice[:, None], RATE), reference) > 30


def test_filtered_snr_does_not_count_a_high_pass_as_noise() -> None:
    # Like a voice: nothing under 100 Hz, so the 70 Hz high-pass only shifts phases.
    spectrum = np.fft.rfft(pink_noise(RATE * 3, seed=5))
    spectrum[np.fft.rfftfreq(RATE * 3, 1 / RATE) < 100] = 0
    clean = np.fft.irfft(spectrum, n=RATE * 3)
    rumble_cut = signal.butter(2, 70, btype="highpass", fs=RATE, output="sos")
    filtered = signal.sosfilt(rumble_cut, clean)
    noise = pink_noise(RATE * 3, seed=6) * np.sqrt(np.mean(filtered**2)) * 10 ** (-10 / 20)
    processed = Audio((filtered + noise)[:, None], RATE)
    reference = Audio(clean[:, None], RATE)
    assert filtered_snr_db(processed, reference) == pytest.approx(10.0, abs=0.3)
    assert si_snr_db(processed, reference) < 8.5  # the filter's phase shift reads as noise
    unprocessed = Audio((clean + noise)[:, None], RATE)
    assert filtered_snr_db(unprocessed, reference) == pytest.approx(
        si_snr_db(unprocessed, reference), abs=0.2
    )


def test_log_spectral_distance_is_zero_for_the_same_signal_and_grows_with_damage() -> None:
    clean = Audio(pink_noise(RATE * 2, seed=3)[:, None], RATE)
    assert log_spectral_distance_db(clean, clean) == pytest.approx(0.0, abs=0.01)
    noisy = Audio(clean.samples + 0.03 * pink_noise(RATE * 2, seed=4)[:, None], RATE)
    spectrum = np.fft.rfft(clean.samples[:, 0])
    spectrum[np.fft.rfftfreq(clean.frames, 1 / RATE) > 2000] = 0
    muffled = Audio(np.fft.irfft(spectrum, n=clean.frames)[:, None], RATE)
    slight = log_spectral_distance_db(noisy, clean)
    assert 0.1 < slight < 3
    assert log_spectral_distance_db(muffled, clean) > 3 * slight


def test_onsets_and_first_and_last_sounds() -> None:
    tone = sine(3000, seconds=1, level_db=-10).samples
    audio = Audio(np.concatenate([np.zeros((RATE // 2, 1)), tone, np.zeros((RATE // 4, 1))]), RATE)
    assert onset_s(audio, band_hz=(2500, 3500)) == pytest.approx(0.5, abs=0.002)
    assert onset_s(audio, band_hz=(2500, 3500), below_db=6) == pytest.approx(0.5, abs=0.002)
    faded = audio.samples.copy()
    faded[RATE // 2 : RATE // 2 + RATE // 100, 0] *= np.linspace(0, 1, RATE // 100)
    assert onset_s(Audio(faded, RATE), band_hz=(2500, 3500)) == pytest.approx(0.5, abs=0.003)
    assert first_above_s(audio, -50) == pytest.approx(0.5, abs=0.001)
    assert last_above_s(audio, -50) == pytest.approx(1.5, abs=0.001)
    assert first_above_s(Audio(np.zeros((RATE, 1)), RATE), -50) is None


def test_decode_keeps_the_files_rate_channels_and_length(tmp_path: Path) -> None:
    stereo = sine(440, seconds=1.5, level_db=-6, channels=2)
    flac = write_audio(tmp_path / "tone.flac", stereo.samples, RATE, "-sample_fmt", "s32")
    decoded = decode(flac)
    assert (decoded.rate_hz, decoded.channels, decoded.frames) == (RATE, 2, stereo.frames)
    assert decoded.duration_s == pytest.approx(1.5)
    assert np.max(np.abs(decoded.samples - stereo.samples)) < 1e-6
