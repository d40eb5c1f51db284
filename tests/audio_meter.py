"""A meter that is not the engine's: ffmpeg only decodes, numpy/scipy/pyloudnorm measure.

Everything the engine promises about its output is checked with this module, so nothing
here shares code or filters with ``podplus.engine``:

- ``decode`` runs ffmpeg once to get float64 samples at the file's own rate and channel
  count (``-f f64le``); no resampling, no downmix, no filter;
- ``integrated_lufs`` is ITU-R BS.1770-4 (gated), by pyloudnorm;
- ``true_peak_db`` oversamples each channel 4× with ``scipy.signal.resample_poly`` (a
  polyphase FIR, as BS.1770-4 annex 2 describes) and takes the largest magnitude;
- ``short_term_lufs`` is the EBU Tech 3341 short-term loudness (3 s, ungated) every
  ``hop_s``; ``loudness_spread_lu`` is EBU Tech 3342's range over that series (absolute gate
  −70 LUFS, relative gate −20 LU, 95th minus 10th percentile);
- ``si_snr_db`` is the scale-invariant SNR against a clean reference (aligned by
  cross-correlation, level-matched by least squares, the rest counted as noise);
- ``log_spectral_distance_db`` is the speech-distortion measure: the RMS difference of the
  two log power spectra, in dB, averaged over the frames where the reference speaks.

    audio = decode(Path("episode.mp3"))
    integrated_lufs(audio), true_peak_db(audio), audio.duration_s
"""

from __future__ import annotations

import json
import math
import subprocess
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyloudnorm
from scipy import signal

Samples = npt.NDArray[np.float64]

SILENT_DB = -200.0  # what a level of exactly nothing reads as, instead of -inf
OVERSAMPLING = 4
# scipy's default (5.0) lets a steady sine read 0.015 dB high; 8.0 is within 0.001 dB.
INTERPOLATOR_KAISER_BETA = 8.0
SHORT_TERM_S = 3.0
ABSOLUTE_GATE_LUFS = -70.0
RANGE_RELATIVE_GATE_LU = -20.0


@dataclass(frozen=True)
class Audio:
    """Decoded samples, shape (frames, channels), at the file's own rate."""

    samples: Samples
    rate_hz: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate_hz

    def window(self, start_s: float, end_s: float | None = None) -> Audio:
        """The part between ``start_s`` and ``end_s`` (the end of the file if None)."""
        first = max(0, round(start_s * self.rate_hz))
        last = self.frames if end_s is None else min(self.frames, round(end_s * self.rate_hz))
        return Audio(self.samples[first:last], self.rate_hz)

    def mono(self) -> Samples:
        """The channels averaged: what a mono speaker plays."""
        return np.asarray(self.samples.mean(axis=1), dtype=np.float64)

    def channel(self, index: int) -> Audio:
        return Audio(self.samples[:, index : index + 1], self.rate_hz)


def stream_layout(path: Path) -> tuple[int, int]:
    """(sample rate, channels) of the first audio stream, from ffprobe."""
    result = subprocess.run(
        [
            "ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
            "stream=sample_rate,channels", "-of", "json", str(path),
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    streams = json.loads(result.stdout).get("streams") or []
    if not streams:
        raise ValueError(f"{path}: no audio stream")
    return int(streams[0]["sample_rate"]), int(streams[0]["channels"])


def decode(path: Path) -> Audio:
    """Every sample of the first audio stream as float64, at its native rate and layout."""
    rate_hz, channels = stream_layout(path)
    result = subprocess.run(
        [
            "ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
            "-f", "f64le", "-c:a", "pcm_f64le", "-ac", str(channels), "-ar", str(rate_hz), "-",
        ],
        capture_output=True, check=True,
    )  # fmt: skip
    flat = np.frombuffer(result.stdout, dtype="<f8")
    return Audio(flat.reshape(-1, channels).astype(np.float64), rate_hz)


def to_db(amplitude: float) -> float:
    return 20 * math.log10(amplitude) if amplitude > 0 else SILENT_DB


# -- loudness ---------------------------------------------------------------------------


def integrated_lufs(audio: Audio) -> float:
    """BS.1770-4 integrated loudness (gated); -inf when every block is under −70 LUFS.
    At least 0.4 s of audio is needed (one gating block)."""
    meter = pyloudnorm.Meter(audio.rate_hz)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyloudnorm warns about clipping it doesn't mind
        return float(meter.integrated_loudness(audio.samples))


def window_lufs(audio: Audio, start_s: float, end_s: float) -> float:
    """Integrated loudness of one stretch of the file."""
    return integrated_lufs(audio.window(start_s, end_s))


def short_term_lufs(audio: Audio, *, hop_s: float = 0.1) -> Samples:
    """Short-term loudness (3 s windows, no gate) every ``hop_s``: ungated, so quiet
    stretches read as very low values (or -inf for digital silence)."""
    if audio.duration_s < SHORT_TERM_S:
        raise ValueError("short-term loudness needs at least 3 s")
    meter = pyloudnorm.Meter(
        audio.rate_hz, block_size=SHORT_TERM_S, overlap=1.0 - hop_s / SHORT_TERM_S
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meter.integrated_loudness(audio.samples)
    return np.asarray(meter.blockwise_loudness, dtype=np.float64)


def loudness_spread_lu(series: Samples) -> float:
    """EBU Tech 3342's loudness range of a short-term series: gate at −70 LUFS and 20 LU
    under the gated mean, then the 95th minus the 10th percentile. For speech this is how
    far apart the loud and the quiet talker sit (pauses fall under the gates)."""
    loud = series[np.isfinite(series) & (series >= ABSOLUTE_GATE_LUFS)]
    if loud.size == 0:
        return math.nan
    mean = 10 * math.log10(float(np.mean(10 ** (loud / 10))))
    kept = loud[loud >= mean + RANGE_RELATIVE_GATE_LU]
    return float(np.percentile(kept, 95) - np.percentile(kept, 10))


# -- peaks and levels ---------------------------------------------------------------------


def sample_peak_db(audio: Audio) -> float:
    return to_db(float(np.max(np.abs(audio.samples)))) if audio.frames else SILENT_DB


def true_peak_db(audio: Audio) -> float:
    """The largest magnitude of any channel oversampled 4× (dBTP). A sound that starts
    or stops abruptly at full scale rings a little (up to ~0.1 dB) in the interpolator,
    as it would in any true-peak meter: the file's edges are part of what plays."""
    if not audio.frames:
        return SILENT_DB
    upsampled = signal.resample_poly(
        audio.samples, OVERSAMPLING, 1, axis=0, window=("kaiser", INTERPOLATOR_KAISER_BETA)
    )
    return max(to_db(float(np.max(np.abs(upsampled)))), sample_peak_db(audio))


def rms_db(audio: Audio, *, band_hz: tuple[float | None, float | None] = (None, None)) -> float:
    """RMS level (dBFS, a full-scale sine reads −3 dB) of all channels together, optionally
    of one band only: ``band_hz=(low, high)``, either end None for a plain low/high-pass.
    The band filter is an 8th-order Butterworth run forwards and backwards (no delay)."""
    data = filter_band(audio, band_hz) if band_hz != (None, None) else audio.samples
    if data.size == 0:
        return SILENT_DB
    return to_db(math.sqrt(float(np.mean(np.square(data)))))


def filter_band(audio: Audio, band_hz: tuple[float | None, float | None]) -> Samples:
    low, high = band_hz
    nyquist = audio.rate_hz / 2
    if low is not None and high is not None:
        sos = signal.butter(8, [low, high], btype="bandpass", fs=audio.rate_hz, output="sos")
    elif low is not None:
        sos = signal.butter(8, low, btype="highpass", fs=audio.rate_hz, output="sos")
    elif high is not None:
        sos = signal.butter(8, min(high, nyquist * 0.99), fs=audio.rate_hz, output="sos")
    else:
        return audio.samples
    return np.asarray(signal.sosfiltfilt(sos, audio.samples, axis=0), dtype=np.float64)


def envelope_db(
    audio: Audio,
    *,
    frame_s: float = 0.01,
    band_hz: tuple[float | None, float | None] = (None, None),
) -> Samples:
    """RMS level (dBFS) of consecutive ``frame_s`` frames, optionally of one band."""
    data = filter_band(audio, band_hz) if band_hz != (None, None) else audio.samples
    size = max(1, round(frame_s * audio.rate_hz))
    count = data.shape[0] // size
    frames = data[: count * size].reshape(count, size, -1)
    power = np.mean(np.square(frames), axis=(1, 2))
    with np.errstate(divide="ignore"):
        levels = 10 * np.log10(power)
    return np.asarray(np.maximum(levels, SILENT_DB), dtype=np.float64)


def first_above_s(audio: Audio, level_db: float) -> float | None:
    """When the first sample louder than ``level_db`` (dBFS, any channel) plays."""
    loud = np.flatnonzero(np.max(np.abs(audio.samples), axis=1) > 10 ** (level_db / 20))
    return None if loud.size == 0 else float(loud[0] / audio.rate_hz)


def last_above_s(audio: Audio, level_db: float) -> float | None:
    """When the last sample louder than ``level_db`` ends."""
    loud = np.flatnonzero(np.max(np.abs(audio.samples), axis=1) > 10 ** (level_db / 20))
    return None if loud.size == 0 else float((loud[-1] + 1) / audio.rate_hz)


def onset_s(
    audio: Audio,
    *,
    band_hz: tuple[float | None, float | None],
    after_s: float = 0.0,
    below_db: float = 20.0,
) -> float | None:
    """When a sound in ``band_hz`` starts, after ``after_s``: the first moment its 1 ms
    envelope comes within ``below_db`` of the loudest it gets. 20 dB finds where a sound
    becomes audible, so an anti-click fade of a few ms barely moves it; the band filter
    has no delay, so a sharp onset is found within a millisecond or two."""
    frame_s = 0.001
    levels = envelope_db(audio.window(after_s), frame_s=frame_s, band_hz=band_hz)
    loudest = np.max(levels)
    if loudest <= SILENT_DB:
        return None
    rising = np.flatnonzero(levels >= loudest - below_db)
    return after_s + float(rising[0]) * frame_s if rising.size else None


# -- against a clean reference --------------------------------------------------------------


@dataclass(frozen=True)
class Aligned:
    """A processed signal and its clean reference, mono, same rate, lag removed, the
    reference scaled to the processed signal (least squares)."""

    processed: Samples
    reference: Samples
    rate_hz: int
    lag_s: float
    gain: float


def align(processed: Audio, reference: Audio, *, max_lag_s: float = 1.0) -> Aligned:
    """Find where ``reference`` sits in ``processed`` (cross-correlation within
    ``max_lag_s``) and the gain between them, after bringing both to ``processed``'s rate."""
    rate = processed.rate_hz
    ours = processed.mono()
    theirs = reference.mono()
    if reference.rate_hz != rate:
        divisor = math.gcd(rate, reference.rate_hz)
        theirs = signal.resample_poly(theirs, rate // divisor, reference.rate_hz // divisor)
    correlation = signal.correlate(ours, theirs, mode="full", method="fft")
    lags = signal.correlation_lags(ours.size, theirs.size, mode="full")
    allowed = np.abs(lags) <= max_lag_s * rate
    lag = int(lags[allowed][np.argmax(np.abs(correlation[allowed]))])
    if lag >= 0:
        ours = ours[lag:]
    else:
        theirs = theirs[-lag:]
    length = min(ours.size, theirs.size)
    ours, theirs = ours[:length], theirs[:length]
    gain = float(np.dot(ours, theirs) / max(np.dot(theirs, theirs), 1e-30))
    return Aligned(ours, theirs * gain, rate, lag / rate, gain)


def si_snr_db(processed: Audio, reference: Audio) -> float:
    """Scale-invariant SNR (dB): the reference's share of ``processed`` against the rest
    (noise, hum and any distortion the processing added)."""
    pair = align(processed, reference)
    residual = pair.processed - pair.reference
    return 10 * math.log10(
        float(np.sum(np.square(pair.reference))) / max(float(np.sum(np.square(residual))), 1e-30)
    )


def filtered_snr_db(processed: Audio, reference: Audio, *, frame_s: float = 0.046) -> float:
    """SNR after the best linear filter: the reference is aligned, then passed through
    the fixed filter (one complex gain per frequency, least squares over the whole take)
    that brings it closest to ``processed``; what that can't explain is noise. A high-pass,
    an EQ or a level change is not counted as noise (it would be by ``si_snr_db``, whose
    subtraction sees a filter's phase shift as error); noise, hum, and any time-varying
    processing are. On an unprocessed signal the two agree."""
    pair = align(processed, reference)
    size = 2 ** round(math.log2(frame_s * pair.rate_hz))
    _, _, ours = signal.stft(pair.processed, nperseg=size, noverlap=3 * size // 4)
    _, _, theirs = signal.stft(pair.reference, nperseg=size, noverlap=3 * size // 4)
    response = np.sum(ours * theirs.conj(), axis=1, keepdims=True) / np.maximum(
        np.sum(np.square(np.abs(theirs)), axis=1, keepdims=True), 1e-30
    )
    explained = response * theirs
    # A one-sided spectrum holds every bin but DC and Nyquist twice (Parseval).
    weight = np.full((ours.shape[0], 1), 2.0)
    weight[[0, -1]] = 1.0
    signal_power = float(np.sum(weight * np.square(np.abs(explained))))
    noise_power = float(np.sum(weight * np.square(np.abs(ours - explained))))
    return 10 * math.log10(signal_power / max(noise_power, 1e-30))


def log_spectral_distance_db(
    processed: Audio,
    reference: Audio,
    *,
    frame_s: float = 0.032,
    active_db: float = -40.0,
    band_hz: tuple[float, float] = (50.0, 8000.0),
) -> float:
    """Speech distortion: per 32 ms frame (Hann, half overlap), the RMS over the speech band
    of the difference of the two log power spectra (dB), averaged over the frames where
    the reference is within ``active_db`` of its loudest frame. Both spectra are floored
    100 dB under the reference's strongest bin, so silent bins don't dominate. 0 for
    identical signals; a few dB is mild processing; above ~10 dB the voice is badly
    changed."""
    pair = align(processed, reference)
    size = 2 ** round(math.log2(frame_s * pair.rate_hz))
    freqs, _, ours = signal.stft(pair.processed, fs=pair.rate_hz, nperseg=size)
    _, _, theirs = signal.stft(pair.reference, fs=pair.rate_hz, nperseg=size)
    band = (freqs >= band_hz[0]) & (freqs <= band_hz[1])
    power_ours = np.square(np.abs(ours[band]))
    power_theirs = np.square(np.abs(theirs[band]))
    floor = float(power_theirs.max()) * 1e-10
    frame_energy = 10 * np.log10(power_theirs.sum(axis=0) + floor)
    active = frame_energy >= frame_energy.max() + active_db
    difference = 10 * np.log10(power_ours[:, active] + floor) - 10 * np.log10(
        power_theirs[:, active] + floor
    )
    return float(np.mean(np.sqrt(np.mean(np.square(difference), axis=0))))


# -- figures of an episode ------------------------------------------------------------------


Span = tuple[float, float]  # (start_s, end_s)


def joined(audio: Audio, spans: Sequence[Span]) -> Audio:
    """The given stretches of ``audio`` played one after the other."""
    pieces = [audio.window(start, end).samples for start, end in spans]
    return Audio(np.concatenate(pieces) if pieces else audio.samples[:0], audio.rate_hz)


@dataclass(frozen=True)
class BedFigures:
    bed_below_speech_db: float  # loudness of the bed in pauses minus the speech's (LU)
    duck_depth_db: float  # the bed's own band: in pauses minus under speech


def bed_figures(
    audio: Audio,
    *,
    speech: Sequence[Span],
    pauses: Sequence[Span],
    bed_band_hz: tuple[float, float],
    release_s: float = 1.5,
    margin_s: float = 0.3,
) -> BedFigures:
    """Where a music bed sits under a voice. The speech's loudness is read inside each
    phrase; the bed's in each pause from ``release_s`` in (the duck has let go by then);
    the duck depth in ``bed_band_hz``, a band the bed plays in and the voice doesn't, in
    the middle of each phrase (the duck has settled) against the pauses."""
    phrases = [(start + margin_s, end - margin_s) for start, end in speech]
    settled = [(start + 0.8, end - 0.5) for start, end in speech]
    quiet = [(start + release_s, end - margin_s) for start, end in pauses]
    speech_lufs = integrated_lufs(joined(audio, phrases))
    bed_lufs = integrated_lufs(joined(audio, quiet))
    depth = rms_db(joined(audio, quiet), band_hz=bed_band_hz) - rms_db(
        joined(audio, settled), band_hz=bed_band_hz
    )
    return BedFigures(bed_lufs - speech_lufs, depth)
