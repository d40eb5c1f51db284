"""One assembly, start to finish: probe, analyse what isn't known, render, encode, package.

The output appears only when complete: everything is written in a temporary folder
beside it and the finished file is renamed into place. Whatever happens, every ffmpeg
this started is killed and the folder removed before ``run`` returns or raises.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podplus.engine.errors import FFmpegError, InputError
from podplus.engine.ffmpeg import FFmpegRun
from podplus.engine.graph import (
    CHAPTER_FORMATS,
    RAW_FORMAT,
    PartInput,
    analysis_args,
    encode_args,
    ffmetadata,
    limited_loudness_args,
    meter_args,
    package_args,
    render_args,
)
from podplus.engine.loudness import Loudness, parse_ebur128, parse_silences
from podplus.engine.manifest import Manifest, Part
from podplus.engine.probe import probe, probe_audio
from podplus.engine.progress import Progress
from podplus.engine.timeline import Timeline, build_timeline, playable_range

logger = logging.getLogger(__name__)

# Lossy encoders overshoot the peaks they are given; lossless output only needs room
# for the inter-sample peaks a sample-peak limiter can't see.
LOSSY_PEAK_MARGIN_DB = 0.7
LOSSLESS_PEAK_MARGIN_DB = 0.5
# Lossy encoders shed a little loudness (measured here at 128k: LAME 0.4-0.5 LU on speech
# and noise, AAC about 0.1); aiming this much high lands the encoded file on the target.
CODEC_LOUDNESS_ALLOWANCE_DB = {"mp3": 0.4, "m4a": 0.1}
# When the limiter has to work, the gain is corrected until the limited mix is this
# close to the aim (each try reads the mix once; nothing is encoded).
LIMITED_GAIN_TOLERANCE_LU = 0.1
MAX_GAIN_TRIES = 4
MAX_LEVELING_BOOST_DB = 30.0
# When every part is levelled, the mix already sits near the aim and is limited while it
# renders, this far under the ceiling: the small gain the encode pass then adds keeps the
# peaks under the ceiling without a second limiter or a search for its gain.
RENDER_LIMITER_HEADROOM_DB = 0.6


@dataclass(frozen=True)
class AssemblyResult:
    """What was made. With ``measured``, the loudness figures were measured on the encoded
    sound itself (decoded by a meter during the encode pass). Without it they are derived:
    exact for wav and flac; for mp3 and m4a, the encoder's input less the loudness the
    codec is known to shed (a few tenths). The true peak is then None (unknown) and
    ``sample_peak_db`` is the encoder input's: metering the true peak costs the
    4x-oversampling pass the engine is built to avoid."""

    output: Path
    duration_s: float
    integrated_lufs: float | None
    true_peak_db: float | None
    sample_peak_db: float | None
    measured: bool
    limited: bool
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "duration_s": round(self.duration_s, 3),
            "integrated_lufs": self.integrated_lufs,
            "true_peak_db": self.true_peak_db,
            "sample_peak_db": self.sample_peak_db,
            "measured": self.measured,
            "limited": self.limited,
            "seconds": round(self.seconds, 3),
        }


class Assembly:
    def __init__(
        self,
        manifest: Manifest,
        destination: Path,
        progress: Progress,
        *,
        measure_output: bool = False,
    ) -> None:
        self.manifest = manifest
        self.measure_output = measure_output
        self.destination = destination
        self.progress = progress
        self._runs: list[FFmpegRun] = []

    @property
    def ceiling_db(self) -> float:
        """The sample-peak ceiling that keeps the output's true peak under the target."""
        output = self.manifest.output
        margin = LOSSY_PEAK_MARGIN_DB if output.is_lossy else LOSSLESS_PEAK_MARGIN_DB
        return self.manifest.loudness.true_peak_db - margin

    @property
    def aim_lufs(self) -> float:
        allowance = CODEC_LOUDNESS_ALLOWANCE_DB.get(self.manifest.output.format, 0.0)
        return self.manifest.loudness.target_lufs + allowance

    def run(self) -> AssemblyResult:
        started = time.monotonic()
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        # The folder's name is ours, never the output's: ffmpeg's tee muxer gives meaning
        # to characters a file name may hold.
        work = Path(tempfile.mkdtemp(prefix=".podplus-", dir=self.destination.parent))
        try:
            timeline, parts = self.plan()
            intermediate = work / f"mix.{RAW_FORMAT}"
            mix = self._render(timeline, parts, intermediate)
            partial = work / f"episode.{self.manifest.output.format}"
            figures, limited = self._encode(timeline, intermediate, mix, partial, work)
            os.replace(partial, self.destination)
        finally:
            self._clean_up(work)
        return AssemblyResult(
            output=self.destination,
            duration_s=timeline.duration_s,
            integrated_lufs=figures.integrated_lufs,
            true_peak_db=figures.true_peak_db,
            sample_peak_db=figures.sample_peak_db,
            measured=self.measure_output,
            limited=limited,
            seconds=time.monotonic() - started,
        )

    # -- planning --------------------------------------------------------------------------

    def plan(self) -> tuple[Timeline, list[PartInput]]:
        """Probe the inputs, analyse what isn't known, and place every part in time."""
        manifest = self.manifest
        audio = [part.path for part in manifest.parts]
        if manifest.music_bed is not None:
            audio.append(manifest.music_bed.path)
        with ThreadPoolExecutor(max_workers=4) as pool:
            probes = list(pool.map(probe_audio, audio))
        durations = [found.duration_s or 0.0 for found in probes[: len(manifest.parts)]]
        if manifest.cover is not None and not probe(manifest.cover).is_image:
            raise InputError(f"{manifest.cover}: the cover is not a JPEG, PNG or WebP image")

        ranges = [
            playable_range(
                source_duration_s=duration,
                trim_start_s=part.trim_start_s,
                trim_end_s=part.trim_end_s,
            )
            for part, duration in zip(manifest.parts, durations, strict=True)
        ]
        analyses = self._analyse(ranges)
        levels: list[float] = []
        self._levelled = manifest.level_segments
        for index, (part, duration) in enumerate(zip(manifest.parts, durations, strict=True)):
            loudness, silences = analyses.get(index, (None, None))
            if silences is not None:
                start, length = ranges[index]
                shifted = [(s + start, None if e is None else e + start) for s, e in silences]
                ranges[index] = playable_range(
                    source_duration_s=duration,
                    trim_start_s=part.trim_start_s,
                    trim_end_s=part.trim_end_s,
                    silences=shifted,
                )
            part_lufs = part.measured_lufs if part.measured_lufs is not None else loudness
            levels.append(self._part_gain(part, part_lufs))
            self._levelled = self._levelled and part_lufs is not None
        for index, (_, length) in enumerate(ranges):
            if length <= 0:
                raise InputError(
                    f"{manifest.parts[index].path}: nothing left to play after trimming"
                )
        timeline = build_timeline(
            [
                (part.title, start, length)
                for part, (start, length) in zip(manifest.parts, ranges, strict=True)
            ],
            crossfade_s=manifest.crossfade_s,
        )
        parts = [
            PartInput(part.path, gain) for part, gain in zip(manifest.parts, levels, strict=True)
        ]
        return timeline, parts

    def _part_gain(self, part: Part, part_lufs: float | None) -> float:
        if not self.manifest.level_segments or part_lufs is None:
            return part.gain_db
        leveling = self.aim_lufs - part_lufs
        return min(leveling, MAX_LEVELING_BOOST_DB) + part.gain_db

    def _analyse(
        self, ranges: list[tuple[float, float]]
    ) -> dict[int, tuple[float | None, list[tuple[float, float | None]] | None]]:
        """Loudness of parts the caller didn't measure, and silences when trimming them.
        One ffmpeg per part, as many at once as there are cores."""
        manifest = self.manifest
        wanted = deque(
            index
            for index, part in enumerate(manifest.parts)
            if manifest.trim_silence or (manifest.level_segments and part.measured_lufs is None)
        )
        if not wanted:
            return {}
        self.progress.phase("analyse", total_s=sum(ranges[index][1] for index in wanted))
        done_s = 0.0
        running: deque[tuple[int, FFmpegRun]] = deque()
        results = {}
        while wanted or running:
            while wanted and len(running) < (os.cpu_count() or 2):
                index = wanted.popleft()
                start, length = ranges[index]
                args = analysis_args(
                    manifest.parts[index].path,
                    start_s=start,
                    duration_s=length,
                    detect_silence=manifest.trim_silence,
                )
                running.append((index, self._start(args)))
            index, run = running.popleft()
            self._finish(run, "analysing " + manifest.parts[index].path.name)
            stderr = run.stderr_text()
            silences = parse_silences(stderr) if manifest.trim_silence else None
            results[index] = (parse_ebur128(stderr).integrated_lufs, silences)
            done_s += ranges[index][1]
            self.progress.advance(done_s)
        return results

    # -- the passes ------------------------------------------------------------------------

    def _render(self, timeline: Timeline, parts: list[PartInput], intermediate: Path) -> Loudness:
        self.progress.phase("render", total_s=timeline.duration_s)
        limiter = self.ceiling_db - RENDER_LIMITER_HEADROOM_DB if self._levelled else None
        run = self._start(
            render_args(self.manifest, timeline, parts, intermediate, limiter_ceiling_db=limiter)
        )
        run.follow(self.progress.advance)
        self._finish(run, "rendering the mix")
        return parse_ebur128(run.stderr_text())

    def _encode(
        self, timeline: Timeline, intermediate: Path, mix: Loudness, partial: Path, work: Path
    ) -> tuple[Loudness, bool]:
        """Encode the mix with the gain that puts it on the target. Returns the figures of
        the result (measured on the encoded sound with ``measure_output``, else those of
        the encoder's input) and whether it had to be limited."""
        manifest = self.manifest
        if mix.integrated_lufs is None:
            raise InputError("the episode is silent: there is no loudness to normalise")
        gain_db = self.aim_lufs - mix.integrated_lufs
        sample_peak_db = mix.sample_peak_db if mix.sample_peak_db is not None else 0.0
        limiter = None
        if sample_peak_db + gain_db > self.ceiling_db:
            limiter = self.ceiling_db
            gain_db, reached_lufs = self._limited_gain(timeline, intermediate, gain_db, limiter)
            input_lufs = reached_lufs
            input_peak_db = None
        else:
            # A linear gain: the encoder's input follows exactly from the mix.
            input_lufs = mix.integrated_lufs + gain_db
            input_peak_db = round(sample_peak_db + gain_db, 1)
        # What the encoder is expected to make of it (exact for wav and flac).
        allowance = CODEC_LOUDNESS_ALLOWANCE_DB.get(manifest.output.format, 0.0)
        derived = Loudness(
            None if input_lufs is None else round(input_lufs - allowance, 1),
            mix.loudness_range_lu,
            None,
            input_peak_db,
        )
        logger.info(
            "event=engine.encode mix_lufs=%s gain_db=%.2f limited=%s",
            mix.integrated_lufs, gain_db, limiter is not None,
        )  # fmt: skip
        metadata = None
        if manifest.chapters and manifest.output.format in CHAPTER_FORMATS:
            metadata = work / "chapters.txt"
            metadata.write_text(ffmetadata(timeline))
        self.progress.phase("encode", total_s=timeline.duration_s)
        # Metering the encoded stream goes through ffmpeg's tee muxer, which drops chapters,
        # so then the tags, cover and chapters are added by a copy pass afterwards.
        metering = self.measure_output
        encoded = work / f"audio.{manifest.output.format}" if metering else partial
        fifo = self._fifo(work / "meter.fifo") if metering else None
        meter = self._start(meter_args(fifo, manifest.output)) if fifo is not None else None
        run = self._start(
            encode_args(
                manifest,
                intermediate=intermediate,
                gain_db=gain_db,
                limiter_ceiling_db=limiter,
                metadata_file=None if metering else metadata,
                destination=encoded,
                meter_fifo=fifo,
            )
        )
        run.follow(self.progress.advance)
        self._finish(run, "encoding")
        if meter is None:
            return derived, limiter is not None
        self._finish(meter, "measuring the encoded episode")
        self.progress.phase("package", total_s=1.0)
        packaging = self._start(
            package_args(manifest, audio_file=encoded, metadata_file=metadata, destination=partial)
        )
        self._finish(packaging, "packaging")
        return parse_ebur128(meter.stderr_text()), limiter is not None

    def _limited_gain(
        self, timeline: Timeline, intermediate: Path, gain_db: float, ceiling_db: float
    ) -> tuple[float, float | None]:
        """The gain that puts the limited mix on the aim, and the loudness it reaches.
        Limiting takes loudness away, less than one for one, so a few corrections converge."""
        self.progress.phase("level", total_s=timeline.duration_s * MAX_GAIN_TRIES)
        for attempt in range(MAX_GAIN_TRIES):
            run = self._start(
                limited_loudness_args(
                    intermediate, self.manifest.output, gain_db=gain_db, ceiling_db=ceiling_db
                )
            )
            self._finish(run, "levelling the mix")
            reached = parse_ebur128(run.stderr_text())
            self.progress.advance(timeline.duration_s * (attempt + 1))
            miss = (
                0.0 if reached.integrated_lufs is None else self.aim_lufs - reached.integrated_lufs
            )
            if abs(miss) <= LIMITED_GAIN_TOLERANCE_LU or attempt == MAX_GAIN_TRIES - 1:
                return gain_db, reached.integrated_lufs
            gain_db += miss
        raise AssertionError("unreachable")

    # -- processes -------------------------------------------------------------------------

    def _clean_up(self, work: Path) -> None:
        """Kill every ffmpeg this started, then remove the temporary folder (the float
        intermediate is hundreds of MB an hour). Each step can be repeated, so when an
        exception (an interrupting signal) cuts the clean-up short it is done again in
        full before that exception goes on."""
        try:
            self._stop_and_remove(work)
        except BaseException:
            self._stop_and_remove(work)
            raise

    def _stop_and_remove(self, work: Path) -> None:
        for run in self._runs:
            run.close()
        shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def _fifo(path: Path) -> Path:
        path.unlink(missing_ok=True)
        os.mkfifo(path)
        return path

    def _start(self, args: list[str]) -> FFmpegRun:
        run = FFmpegRun(args)
        self._runs.append(run)
        return run

    @staticmethod
    def _finish(run: FFmpegRun, doing: str) -> None:
        if run.wait() != 0:
            raise FFmpegError(f"ffmpeg failed while {doing}:", stderr_tail=run.stderr_tail())
