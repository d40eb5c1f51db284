"""The naive assembly a first version of podplus would write: pure Python, sample by sample.

Reads each segment with the ``wave`` module, applies gain, mixes in a looping music bed
ducked under the voice, clips, and writes a WAV. Every sample passes through the
interpreter, so the work holds the GIL for as long as it runs: this is the workload that
hung the API when it ran on a thread inside the server.

    assemble([Path("a.wav"), Path("b.wav")], bed_path=Path("bed.wav"),
             out_path=Path("out.wav"), gain_db=-1.0, bed_gain_db=-18.0)
"""

from __future__ import annotations

import wave
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path

CHUNK_FRAMES = 4096
INT16_MIN, INT16_MAX = -32768, 32767


def db_to_factor(gain_db: float) -> float:
    return float(10 ** (gain_db / 20))


def total_frames(paths: Sequence[Path]) -> int:
    count = 0
    for path in paths:
        with wave.open(str(path), "rb") as reader:
            count += reader.getnframes()
    return count


def assemble(
    segment_paths: Sequence[Path],
    *,
    bed_path: Path,
    out_path: Path,
    gain_db: float = 0.0,
    bed_gain_db: float = -18.0,
    on_progress: Callable[[float], None] | None = None,
) -> int:
    """Concatenate ``segment_paths`` with gain and the bed mixed in; return frames written.

    All inputs must share one sample rate, channel count and 16-bit samples (the
    benchmark generates them so); a real naive implementation would fail the same way.
    """
    gain = db_to_factor(gain_db)
    bed_gain = db_to_factor(bed_gain_db)
    frames_total = total_frames(segment_paths) or 1
    frames_done = 0
    with wave.open(str(bed_path), "rb") as bed_reader:
        bed = array("h", bed_reader.readframes(bed_reader.getnframes()))
        channels = bed_reader.getnchannels()
    bed_position = 0
    with wave.open(str(out_path), "wb") as writer:
        for index, path in enumerate(segment_paths):
            with wave.open(str(path), "rb") as reader:
                if index == 0:
                    writer.setnchannels(reader.getnchannels())
                    writer.setsampwidth(2)
                    writer.setframerate(reader.getframerate())
                while True:
                    voice = array("h", reader.readframes(CHUNK_FRAMES))
                    if not voice:
                        break
                    out = array("h", bytes(len(voice) * 2))
                    for i in range(len(voice)):
                        value = int(voice[i] * gain + bed[bed_position] * bed_gain)
                        bed_position = (bed_position + 1) % len(bed)
                        if value > INT16_MAX:
                            value = INT16_MAX
                        elif value < INT16_MIN:
                            value = INT16_MIN
                        out[i] = value
                    writer.writeframes(out.tobytes())
                    frames_done += len(voice) // channels
                    if on_progress is not None:
                        on_progress(frames_done / frames_total)
    return frames_done
