"""Hostile but real material, made on the spot: what creators actually upload.

Speech comes from espeak-ng, everything else from numpy (written with ffmpeg) or ffmpeg's
own encoders, so each file's defect is known exactly: how far the take was clipped, how
wrong the MP3's duration header is, which channel the voice is on, how much noise and hum
were added to a clean voice that is kept beside it as the reference.

    take = noisy_take(folder, snr_db=10, mains_hz=50)
    take.noisy, take.clean  # what to feed the engine, what to compare its output with
"""

from __future__ import annotations

import json
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.audio_meter import Audio, Samples, decode, integrated_lufs
from tests.media_files import ffmpeg

SPEECH_RATE_HZ = 22050  # espeak-ng's own rate
LINES = (
    "Hello and welcome back to the programme.",
    "This week we look at microphones, rooms, and the way a voice fills a small space.",
    "Stay with us, there is a lot to get through.",
    "We will take our time, and we will answer your questions at the end.",
)
SIBILANT_TEXT = (
    "Sister Suzy sits sewing shirts for soldiers. Six slippery snails slid slowly seaward. "
    "She sells sea shells by the sea shore, and the shells she sells are surely seashells."
)
CLAP_DECAY_S = 0.03


def write_audio(path: Path, samples: Samples, rate_hz: int, *codec: str) -> Path:
    """Encode ``samples`` (frames × channels, or one channel) by ``path``'s extension;
    ``codec`` options (``"-c:a", "pcm_s24le"``) go to ffmpeg before the output."""
    frames = samples.reshape(samples.shape[0], -1)
    channels = frames.shape[1]
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "f64le", "-ar", str(rate_hz),
            "-ac", str(channels), "-i", "-", *codec, str(path),
        ],
        input=np.ascontiguousarray(frames, dtype="<f8").tobytes(), check=True,
    )  # fmt: skip
    return path


def spoken(folder: Path, text: str, *, name: str = "speech") -> Audio:
    """espeak-ng's reading of ``text``, decoded (mono, 22.05 kHz)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.espeak.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
    return decode(path)


def pink_noise(frames: int, *, seed: int = 11) -> Samples:
    """Pink (1/f power) noise with unit RMS."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(frames))
    spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, n=frames)
    return np.asarray(noise / np.sqrt(np.mean(noise**2)), dtype=np.float64)


def at_rms_db(samples: Samples, level_db: float) -> Samples:
    rms = float(np.sqrt(np.mean(np.square(samples))))
    return np.asarray(samples * (10 ** (level_db / 20) / rms), dtype=np.float64)


def at_lufs(audio: Audio, lufs: float) -> Samples:
    return np.asarray(audio.samples * 10 ** ((lufs - integrated_lufs(audio)) / 20))


def silence(seconds: float, rate_hz: int = SPEECH_RATE_HZ, channels: int = 1) -> Samples:
    return np.zeros((round(seconds * rate_hz), channels))


# -- Part 1: the inputs that broke a promise ------------------------------------------------


def clipped_take(path: Path, *, boost_db: float = 20.0, text: str = LINES[1]) -> Path:
    """Speech pushed ``boost_db`` over its level and hard-clipped at full scale (16 bit):
    flat-topped waveforms whose true peak is over 0 dBFS."""
    voice = spoken(path.parent, text, name=path.stem)
    clipped = np.clip(voice.samples * 10 ** (boost_db / 20), -1.0, 1.0)
    return write_audio(path, clipped, voice.rate_hz, "-c:a", "pcm_s16le")


def vbr_mp3_without_xing(path: Path) -> Path:
    """About 13 s of speech as VBR MP3 with no Xing/Info header: a demuxer can only guess
    the duration from the first frames' bitrate, and here it guesses short."""
    voice = spoken(path.parent, " ".join(LINES), name=path.stem)
    wav = write_audio(path.with_suffix(".src.wav"), voice.samples, voice.rate_hz)
    ffmpeg("-i", str(wav), "-c:a", "libmp3lame", "-q:a", "4", "-write_xing", "0", str(path))
    return path


def container_duration_s(path: Path) -> float:
    """The duration ffprobe reports for the container (an estimate for a bare MP3)."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(json.loads(result.stdout)["format"]["duration"])


def one_sided_stereo(path: Path, *, text: str = LINES[1]) -> Path:
    """A stereo take with the voice on the left channel only (a mic on one input)."""
    voice = spoken(path.parent, text, name=path.stem).samples[:, 0]
    return write_audio(path, np.stack([voice, np.zeros_like(voice)], axis=1), SPEECH_RATE_HZ)


def centred_stereo(path: Path, *, text: str = LINES[2]) -> Path:
    """A stereo take with the voice in the middle (the same samples on both channels)."""
    voice = spoken(path.parent, text, name=path.stem).samples[:, 0]
    return write_audio(path, np.stack([voice, voice], axis=1), SPEECH_RATE_HZ)


def room_tone(path: Path, *, seconds: float = 3.0, level_db: float = -75.0) -> Path:
    """Pink room tone at ``level_db`` dBFS RMS (24 bit, so the level is what it says)."""
    frames = round(seconds * 44100)
    return write_audio(path, at_rms_db(pink_noise(frames), level_db), 44100, "-c:a", "pcm_s24le")


def silent_take(path: Path, *, seconds: float = 3.0) -> Path:
    """Digital silence, a valid WAV."""
    return write_audio(path, silence(seconds, 44100), 44100, "-c:a", "pcm_s16le")


def zero_length_wav(path: Path) -> Path:
    """A well-formed WAV header with no samples at all."""
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(44100)
        writer.writeframes(b"")
    return path


def clap(rate_hz: int, *, seed: int) -> Samples:
    """A hand clap: a burst of noise, 1 ms attack, 30 ms decay, peak normalised to 1."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(0.15 * rate_hz)) / rate_hz
    envelope = np.minimum(t / 0.001, 1.0) * np.exp(-t / CLAP_DECAY_S)
    burst = rng.standard_normal(t.size) * envelope
    return np.asarray(burst / np.max(np.abs(burst)), dtype=np.float64)


def peaky_take(
    path: Path,
    *,
    text: str = LINES[1],
    speech_lufs: float = -30.0,
    claps_per_s: float = 2.0,
    clap_peak_db: float = -1.0,
) -> Path:
    """Quiet speech with loud hand claps over it: a crest factor no limiter can ignore."""
    voice = spoken(path.parent, text, name=path.stem)
    samples = at_lufs(voice, speech_lufs)[:, 0].copy()
    rate = voice.rate_hz
    step = round(rate / claps_per_s)
    for number, start in enumerate(range(step // 2, samples.size - step // 2, step)):
        burst = clap(rate, seed=number) * 10 ** (clap_peak_db / 20)
        end = min(samples.size, start + burst.size)
        samples[start:end] += burst[: end - start]
    return write_audio(path, np.clip(samples, -1, 1), rate, "-c:a", "pcm_s24le")


def plain_take(path: Path, *, text: str = LINES[2], lufs: float = -24.0) -> Path:
    """Speech at a known loudness and nothing else."""
    voice = spoken(path.parent, text, name=path.stem)
    return write_audio(path, at_lufs(voice, lufs), voice.rate_hz, "-c:a", "pcm_s24le")


@dataclass(frozen=True)
class Layout:
    """A generated take and where things are in it (seconds)."""

    path: Path
    speech: tuple[tuple[float, float], ...]
    pauses: tuple[tuple[float, float], ...]
    duration_s: float


def take_with_pauses(
    path: Path, *, pauses_s: Sequence[float] = (4.0, 3.0, 5.0), lufs: float = -22.0
) -> Layout:
    """Phrases separated by long pauses of digital silence (3–5 s), speech at ``lufs``."""
    rate = SPEECH_RATE_HZ
    phrases = [spoken(path.parent, line, name=f"{path.stem}-{n}") for n, line in enumerate(LINES)]
    pieces: list[Samples] = []
    speech: list[tuple[float, float]] = []
    pauses: list[tuple[float, float]] = []
    position = 0.0
    for index, phrase in enumerate(phrases[: len(pauses_s) + 1]):
        pieces.append(phrase.samples)
        speech.append((position, position + phrase.duration_s))
        position += phrase.duration_s
        if index < len(pauses_s):
            pieces.append(silence(pauses_s[index], rate))
            pauses.append((position, position + pauses_s[index]))
            position += pauses_s[index]
    whole = np.concatenate(pieces)
    whole = at_lufs(Audio(whole, rate), lufs)
    write_audio(path, whole, rate, "-c:a", "pcm_s24le")
    return Layout(path, tuple(speech), tuple(pauses), position)


def steady_bed(path: Path, *, seconds: float = 10.0, level_db: float = -20.0) -> Path:
    """A music bed that never changes: pink noise at ``level_db`` dBFS RMS, 44.1 kHz
    stereo. Its top octave (over 11 kHz) is where espeak's voice (22.05 kHz) has nothing,
    so the bed can be measured there even under speech."""
    noise = at_rms_db(pink_noise(round(seconds * 44100)), level_db)
    return write_audio(path, np.stack([noise, noise], axis=1), 44100, "-c:a", "pcm_s24le")


def voice_like(path: Path, *, pitch_hz: float, seconds: float = 3.0, rate_hz: int = 44100) -> Path:
    """A stand-in voice with speech's rhythm (syllables at 4 Hz) on one pitch, running to
    both edges of the file, so where it plays can be read from one frequency band."""
    t = np.arange(round(seconds * rate_hz)) / rate_hz
    syllables = 0.6 + 0.4 * np.abs(np.sin(2 * np.pi * 2.0 * t))
    samples = 0.3 * np.sin(2 * np.pi * pitch_hz * t) * syllables
    return write_audio(path, samples, rate_hz, "-c:a", "pcm_s16le")


def padded_speech(path: Path, *, lead_s: float = 1.5, tail_s: float = 2.0) -> Path:
    """Speech with ``lead_s`` of digital silence before it and ``tail_s`` after."""
    voice = spoken(path.parent, LINES[0], name=path.stem)
    rate = voice.rate_hz
    samples = np.concatenate([silence(lead_s, rate), voice.samples, silence(tail_s, rate)])
    return write_audio(path, samples, rate, "-c:a", "pcm_s16le")


def encode(source: Path, path: Path, *codec: str) -> Path:
    """``source`` re-encoded by ``path``'s extension with ffmpeg's defaults plus ``codec``."""
    ffmpeg("-i", str(source), *codec, str(path))
    return path


# -- Part 2: what the clean-up is measured on ---------------------------------------------------


def host_and_guest(path: Path, *, apart_db: float = 12.0, room_db: float = -60.0) -> Path:
    """One recording, two talkers taking turns: the host at −20 LUFS, the guest
    ``apart_db`` quieter, half a second between turns, over room tone at ``room_db`` dBFS
    RMS (so a leveller that lifts the pauses can be heard doing it)."""
    rate = SPEECH_RATE_HZ
    pieces = []
    for index, line in enumerate(LINES):
        phrase = spoken(path.parent, line, name=f"{path.stem}-{index}")
        level = -20.0 - (apart_db if index % 2 else 0.0)
        pieces += [at_lufs(phrase, level), silence(0.5, rate)]
    talk = np.concatenate(pieces)[:, 0]
    room = at_rms_db(pink_noise(talk.size, seed=7), room_db)
    return write_audio(path, talk + room, rate, "-c:a", "pcm_s24le")


@dataclass(frozen=True)
class NoisyTake:
    noisy: Path
    clean: Path
    snr_db: float  # speech power over noise-plus-hum power, as added
    mains_hz: int


def noisy_take(
    folder: Path,
    *,
    snr_db: float = 10.0,
    mains_hz: int = 50,
    hum_share: float = 0.3,
    harmonics: int = 5,
) -> NoisyTake:
    """Speech plus pink noise plus mains hum (``mains_hz`` and its harmonics, falling
    6 dB each), together ``snr_db`` under the speech; ``hum_share`` of that power is hum.
    The clean speech is written beside it as the reference (44.1 kHz mono, 24 bit)."""
    rate = 44100
    voice = spoken(folder, " ".join(LINES[:2]), name=f"noisy-{mains_hz}")
    # ffmpeg resamples the voice to 44.1 kHz; the file it writes is the reference.
    clean_path = write_audio(
        folder / f"clean-{mains_hz}.wav", voice.samples, voice.rate_hz, "-ar", str(rate),
        "-c:a", "pcm_s24le",
    )  # fmt: skip
    speech = decode(clean_path).samples[:, 0]
    speech_power = float(np.mean(np.square(speech)))
    disturbance_power = speech_power / 10 ** (snr_db / 10)
    t = np.arange(speech.size) / rate
    hum = sum(
        np.sin(2 * np.pi * mains_hz * k * t + k) / 2 ** (k - 1) for k in range(1, harmonics + 1)
    )
    hum = hum * np.sqrt(hum_share * disturbance_power / np.mean(np.square(hum)))
    noise = pink_noise(speech.size, seed=mains_hz) * np.sqrt((1 - hum_share) * disturbance_power)
    noisy_path = write_audio(
        folder / f"noisy-{mains_hz}.wav", speech + hum + noise, rate, "-c:a", "pcm_s24le"
    )
    return NoisyTake(noisy_path, clean_path, snr_db, mains_hz)


def sibilant_take(path: Path) -> Path:
    """A voice full of "s" sounds, for the de-esser."""
    voice = spoken(path.parent, SIBILANT_TEXT, name=path.stem)
    return write_audio(path, at_lufs(voice, -20.0), voice.rate_hz, "-c:a", "pcm_s16le")
