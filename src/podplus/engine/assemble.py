"""One assembly, start to finish: prepare every part, level, render, encode, package.

The output appears only when complete and only when it keeps the promises: the encoded
sound is measured while it is encoded, and an episode whose true peak is over the
ceiling is encoded again with a lower limiter, or refused, never reported as done.
Everything is written in a temporary folder beside the output and the finished file
renamed into place. Whatever happens, every ffmpeg this started is killed and the folder
removed before ``run`` returns or raises.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podplus.engine.cleanup import Findings, cleanup_filters, needs_listening, read_findings
from podplus.engine.errors import FFmpegError, InputError, ManifestError, OutputError
from podplus.engine.ffmpeg import FFmpegRun
from podplus.engine.graph import (
    CHAPTER_FORMATS,
    COVER_FORMATS,
    RAW_FORMAT,
    BedInput,
    PartInput,
    encode_args,
    ffmetadata,
    limited_loudness_args,
    listen_args,
    meter_args,
    package_args,
    prepare_args,
    render_args,
)
from podplus.engine.loudness import Loudness, loudness_args, parse_ebur128, parse_silences
from podplus.engine.manifest import Manifest, Part
from podplus.engine.meters import blocks, read_loudness, read_stats
from podplus.engine.probe import probe_audio, probe_image
from podplus.engine.progress import Progress
from podplus.engine.tagging import write_mp3_comment
from podplus.engine.timeline import PartPlan, Timeline, build_timeline, playable_pieces

logger = logging.getLogger(__name__)

# Lossy encoders overshoot the peaks they are given; lossless output only needs room
# for the inter-sample peaks a sample-peak limiter can't see.
LOSSY_PEAK_MARGIN_DB = 0.7
LOSSLESS_PEAK_MARGIN_DB = 0.5
# Lossy encoders shed a little loudness (measured here at 128k: LAME 0.4-0.5 LU on speech
# and noise, AAC about 0.1); aiming this much high lands the encoded file on the target.
CODEC_LOUDNESS_ALLOWANCE_DB = {"mp3": 0.4, "m4a": 0.1}
# When a limiter has to work, the gain is corrected until the limited sound is this close
# to the aim (each try reads the sound once; nothing is encoded).
LIMITED_GAIN_TOLERANCE_LU = 0.1
# A part's own limiter is settled closer: takes must land within half a LU of each other.
PART_GAIN_TOLERANCE_LU = 0.05
MAX_GAIN_TRIES = 4
# The most levelling may turn a part up: past this it would be lifting noise, not speech.
MAX_LEVELLING_GAIN_DB = 24.0
# A part quieter than this has no programme in it (room tone, silence): it plays at its
# own level, with no levelling gain.
PROGRAMME_FLOOR_LUFS = -55.0
# Parts are limited on their own, this far under the ceiling, so a peaky take loses no
# loudness to the episode's limiter that its neighbours don't (takes stay level).
PART_LIMITER_HEADROOM_DB = 0.6
# Encodes until the measured true peak is under the ceiling and the loudness on target.
MAX_ENCODES = 4
TRUE_PEAK_TOLERANCE_DB = 0.0
LOUDNESS_TOLERANCE_LU = 0.3
PEAK_RETRY_MARGIN_DB = 0.15
# The bed's level is relative to the speech; ducking starts this far under it.
DUCK_BELOW_SPEECH_DB = 18.0


@dataclass(frozen=True)
class Figures:
    loudness_lufs: float | None
    peak_db: float | None
    noise_floor_db: float | None

    def shifted(self, gain_db: float) -> Figures:
        return Figures(*(None if v is None else round(v + gain_db, 1) for v in self._values()))

    def _values(self) -> tuple[float | None, float | None, float | None]:
        return (self.loudness_lufs, self.peak_db, self.noise_floor_db)

    def as_json(self) -> dict[str, float | None]:
        rounded = [None if v is None else round(v, 1) for v in self._values()]
        return dict(zip(("loudness_lufs", "peak_db", "noise_floor_db"), rounded, strict=True))


@dataclass(frozen=True)
class PreparedPart:
    """A part after pass 1: its float PCM and what was measured on the way."""

    part: Part
    raw: Path
    duration_s: float
    before: Figures
    after: Figures  # cleaned up, before its gain
    silences: list[tuple[float, float | None]]
    applied: list[str]


@dataclass(frozen=True)
class PartReport:
    """What happened to one part, before and after, for the people who made it."""

    title: str
    field: str
    duration_s: float
    before: Figures
    after: Figures
    gain_db: float
    limited: bool
    applied: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "field": self.field,
            "duration_s": round(self.duration_s, 3),
            "before": self.before.as_json(),
            "after": self.after.as_json(),
            "gain_db": round(self.gain_db, 1),
            "limited": self.limited,
            "applied": self.applied,
        }


@dataclass(frozen=True)
class AssemblyResult:
    """What was made, measured on the encoded sound itself (decoded by a meter while it
    was encoded): loudness, true peak (4x oversampled), sample peak."""

    output: Path
    duration_s: float
    integrated_lufs: float | None
    true_peak_db: float | None
    sample_peak_db: float | None
    limited: bool
    encodes: int
    seconds: float
    chapters: list[tuple[float, float, str]] = field(default_factory=list)
    parts: list[PartReport] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "duration_s": round(self.duration_s, 3),
            "integrated_lufs": self.integrated_lufs,
            "true_peak_db": self.true_peak_db,
            "sample_peak_db": self.sample_peak_db,
            "measured": True,
            "limited": self.limited,
            "encodes": self.encodes,
            "seconds": round(self.seconds, 3),
            "chapters": [
                {"start_s": round(start, 3), "end_s": round(end, 3), "title": title}
                for start, end, title in self.chapters
            ],
            "parts": [part.as_json() for part in self.parts],
        }


@dataclass(frozen=True)
class Level:
    gain_db: float
    limit_db: float | None
    applied: list[str]
    reached_lufs: float | None = None  # measured after its own limiter


class Assembly:
    def __init__(self, manifest: Manifest, destination: Path, progress: Progress) -> None:
        self.manifest = manifest
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
            cover_as_is = self._check_cover()
            bed_lufs = self._bed_loudness()
            prepared = self.prepare(work)
            levels = self.level(prepared)
            timeline = self.plan(prepared)
            bed = self._bed(prepared, levels, bed_lufs)
            parts = [
                PartInput(item.raw, level.gain_db, level.limit_db)
                for item, level in zip(prepared, levels, strict=True)
            ]
            intermediate = work / f"mix.{RAW_FORMAT}"
            mix = self._render(timeline, parts, bed, intermediate)
            for item in prepared:
                item.raw.unlink(missing_ok=True)
            partial = work / f"episode.{self.manifest.output.format}"
            figures, limited, encodes = self._encode(timeline, intermediate, mix, partial, work)
            self._package(
                timeline, work / f"audio.{self.manifest.output.format}", partial, work, cover_as_is
            )
            os.replace(partial, self.destination)
        finally:
            self._clean_up(work)
        return AssemblyResult(
            output=self.destination,
            duration_s=timeline.duration_s,
            integrated_lufs=figures.integrated_lufs,
            true_peak_db=figures.true_peak_db,
            sample_peak_db=figures.sample_peak_db,
            limited=limited,
            encodes=encodes,
            seconds=time.monotonic() - started,
            chapters=timeline.chapters(),
            parts=[_report(item, level) for item, level in zip(prepared, levels, strict=True)],
        )

    # -- pass 1: every part prepared -------------------------------------------------------

    def prepare(self, work: Path) -> list[PreparedPart]:
        """Listen to the spoken parts that get a tuned clean-up, then decode, cut, conform
        and clean up every part into float PCM, measuring it: several parts at once."""
        manifest = self.manifest
        probes = [probe_audio(part.path) for part in manifest.parts]
        total_s = sum(found.duration_s or 0.0 for found in probes) or 1.0
        cleaned = [part.content == "speech" and _cleans(manifest) for part in manifest.parts]
        listening = [
            index
            for index, part in enumerate(manifest.parts)
            if cleaned[index] and needs_listening(manifest.cleanup)
        ]
        self.progress.phase("analyse", total_s=total_s * (1 + len(listening) / len(probes)))
        done = _Counter(self.progress)
        heard = self._run_all(
            [listen_args(manifest.parts[index], manifest.output) for index in listening],
            [f"listening to {manifest.parts[index].path.name}" for index in listening],
            on_done=lambda n: done.add(probes[listening[n]].duration_s or 0.0),
        )
        findings: dict[int, Findings] = {}
        for index, stderr in zip(listening, heard, strict=True):
            named = blocks(stderr)
            findings[index] = read_findings(named, read_loudness(named, "before").integrated_lufs)
        commands, applied = [], []
        for index, part in enumerate(manifest.parts):
            filters: list[str] = []
            lines: list[str] = []
            if cleaned[index]:
                filters, lines = cleanup_filters(
                    manifest.cleanup, findings.get(index), sample_rate=manifest.output.sample_rate
                )
            commands.append(
                prepare_args(
                    part,
                    manifest.output,
                    cleanup=filters,
                    measure_before=True,
                    raw=work / f"part{index}.{RAW_FORMAT}",
                )
            )
            applied.append(lines)
        outputs = self._run_all(
            commands,
            [f"preparing {part.path.name}" for part in manifest.parts],
            on_done=lambda n: done.add(probes[n].duration_s or 0.0),
        )
        prepared = []
        for index, (part, stderr) in enumerate(zip(manifest.parts, outputs, strict=True)):
            raw = work / f"part{index}.{RAW_FORMAT}"
            prepared.append(
                self._read_prepared(part, raw, stderr, findings.get(index), applied[index])
            )
        return prepared

    def _read_prepared(
        self,
        part: Part,
        raw: Path,
        stderr: str,
        heard: Findings | None,
        applied: list[str],
    ) -> PreparedPart:
        output = self.manifest.output
        frame_bytes = 4 * output.channels
        duration_s = raw.stat().st_size / frame_bytes / output.sample_rate
        if duration_s <= 0:
            if part.trim_start_s > 0:
                raise ManifestError(
                    f"{part.field}.trim_start_s: {part.trim_start_s:g} s is past the end "
                    f"of {part.path.name}"
                )
            raise InputError(f"{part.path}: the audio in it is empty (0 seconds)")
        named = blocks(stderr)
        before_stats, after_stats = read_stats(named, "before"), read_stats(named, "after")
        before = Figures(
            read_loudness(named, "before").integrated_lufs,
            before_stats.peak_db,
            heard.noise_floor_db if heard is not None else before_stats.rms_trough_db,
        )
        after = Figures(
            read_loudness(named, "after").integrated_lufs,
            after_stats.peak_db,
            after_stats.rms_trough_db,
        )
        silences = [(start, end) for start, end in parse_silences(stderr) if start < duration_s]
        return PreparedPart(part, raw, duration_s, before, after, silences, applied)

    # -- levels ----------------------------------------------------------------------------

    def level(self, prepared: Sequence[PreparedPart]) -> list[Level]:
        """Each part's gain. A part whose peaks would pass the ceiling gets its own
        limiter, and its gain is corrected for the loudness that limiter takes."""
        manifest = self.manifest
        levels: list[Level] = []
        for item in prepared:
            lufs = item.after.loudness_lufs
            applied: list[str] = []
            if lufs is None or lufs < PROGRAMME_FLOOR_LUFS:
                applied.append("no programme in it (silence or room tone): left at its level")
                levels.append(Level(item.part.gain_db, None, applied))
                continue
            if not manifest.level_segments:
                levels.append(Level(item.part.gain_db, None, applied))
                continue
            gain = self.aim_lufs - lufs
            if gain > MAX_LEVELLING_GAIN_DB:
                applied.append(f"levelling gain capped at {MAX_LEVELLING_GAIN_DB:g} dB")
                gain = MAX_LEVELLING_GAIN_DB
            gain += item.part.gain_db
            limit = self.ceiling_db - PART_LIMITER_HEADROOM_DB
            peak = item.after.peak_db
            needs_limiter = peak is not None and peak + gain > limit
            levels.append(Level(gain, limit if needs_limiter else None, applied))
        if not any(
            item.after.loudness_lufs is not None
            and item.after.loudness_lufs >= PROGRAMME_FLOOR_LUFS
            for item in prepared
        ):
            raise InputError(
                f"the episode is silent: no part is louder than {PROGRAMME_FLOOR_LUFS:g} LUFS"
            )
        return self._correct_for_limiters(prepared, levels)

    def _correct_for_limiters(
        self, prepared: Sequence[PreparedPart], levels: list[Level]
    ) -> list[Level]:
        limited = [index for index, level in enumerate(levels) if level.limit_db is not None]
        if not limited:
            return levels
        output = self.manifest.output
        total_s = sum(prepared[index].duration_s for index in limited)
        self.progress.phase("level", total_s=total_s * MAX_GAIN_TRIES)
        done = _Counter(self.progress)
        for attempt in range(1, MAX_GAIN_TRIES + 1):
            lengths = [prepared[index].duration_s for index in limited]
            commands = [
                limited_loudness_args(
                    prepared[index].raw,
                    output,
                    gain_db=levels[index].gain_db,
                    ceiling_db=levels[index].limit_db or 0.0,
                )
                for index in limited
            ]
            outputs = self._run_all(
                commands,
                [f"levelling {prepared[index].part.path.name}" for index in limited],
                on_done=lambda n, lengths=lengths: done.add(lengths[n]),  # type: ignore[misc]
            )
            unsettled = []
            for index, stderr in zip(limited, outputs, strict=True):
                reached = parse_ebur128(stderr).integrated_lufs
                wanted = self.aim_lufs + prepared[index].part.gain_db
                miss = 0.0 if reached is None else wanted - reached
                level = levels[index]
                if abs(miss) > PART_GAIN_TOLERANCE_LU and attempt < MAX_GAIN_TRIES:
                    levels[index] = Level(level.gain_db + miss, level.limit_db, level.applied)
                    unsettled.append(index)
                else:
                    levels[index] = Level(level.gain_db, level.limit_db, level.applied, reached)
            if not unsettled:
                break
            limited = unsettled
        return levels

    def plan(self, prepared: Sequence[PreparedPart]) -> Timeline:
        """Place every part in time, from the exact lengths of the prepared audio."""
        manifest = self.manifest
        plans = []
        for item in prepared:
            speech = item.part.content == "speech"
            pieces = playable_pieces(
                duration_s=item.duration_s,
                silences=item.silences,
                trim_edges=manifest.trim_silence,
                max_pause_s=manifest.cleanup.max_pause_s if speech and _cleans(manifest) else None,
            )
            if not pieces:
                raise InputError(f"{item.part.path}: nothing left to play after trimming")
            plans.append(PartPlan(item.part.title, item.part.content, pieces))
        return build_timeline(plans, crossfade_s=manifest.crossfade_s)

    def _bed(
        self, prepared: Sequence[PreparedPart], levels: Sequence[Level], bed_lufs: float | None
    ) -> BedInput | None:
        """The bed is set relative to the speech as it will play, so its level and the
        depth of its ducking are the same at any loudness target."""
        bed = self.manifest.music_bed
        if bed is None:
            return None
        speech = [
            _played_lufs(item, level)
            for item, level in zip(prepared, levels, strict=True)
            if item.part.content == "speech"
            and item.after.loudness_lufs is not None
            and item.after.loudness_lufs >= PROGRAMME_FLOOR_LUFS
        ]
        speech_lufs = sum(speech) / len(speech) if speech else self.aim_lufs
        gain = bed.gain_db if bed_lufs is None else speech_lufs + bed.gain_db - bed_lufs
        return BedInput(
            bed.path,
            gain_db=gain,
            duck=bed.duck,
            duck_threshold_db=speech_lufs - DUCK_BELOW_SPEECH_DB,
        )

    def _bed_loudness(self) -> float | None:
        bed = self.manifest.music_bed
        if bed is None:
            return None
        probe_audio(bed.path)
        run = self._start(loudness_args(bed.path, true_peak=False))
        self._finish(run, "measuring the music bed")
        return parse_ebur128(run.stderr_text()).integrated_lufs

    def _check_cover(self) -> bool:
        """Whether the cover can go in as it is (JPEG or PNG), byte for byte."""
        cover = self.manifest.cover
        if cover is None or self.manifest.output.format not in COVER_FORMATS:
            return False
        return probe_image(cover).codec in {"mjpeg", "png"}

    # -- passes 3 to 5 ---------------------------------------------------------------------

    def _render(
        self,
        timeline: Timeline,
        parts: list[PartInput],
        bed: BedInput | None,
        intermediate: Path,
    ) -> Loudness:
        self.progress.phase("render", total_s=timeline.duration_s)
        run = self._start(render_args(self.manifest, timeline, parts, bed, intermediate))
        run.follow(self.progress.advance)
        self._finish(run, "rendering the mix")
        return parse_ebur128(run.stderr_text())

    def _encode(
        self, timeline: Timeline, intermediate: Path, mix: Loudness, partial: Path, work: Path
    ) -> tuple[Loudness, bool, int]:
        """Encode the mix with the gain that puts it on the target, measuring the encoded
        sound as it is made. If its true peak is over the ceiling (a codec's overshoot,
        inter-sample peaks of clipped takes) or its loudness off target, encode again
        with a corrected gain and limiter; after ``MAX_ENCODES`` tries, refuse."""
        manifest = self.manifest
        target = manifest.loudness
        if mix.integrated_lufs is None:
            raise InputError("the episode is silent: there is no loudness to normalise")
        gain_db = self.aim_lufs - mix.integrated_lufs
        sample_peak_db = mix.sample_peak_db if mix.sample_peak_db is not None else 0.0
        limiter: float | None = None
        if sample_peak_db + gain_db > self.ceiling_db:
            limiter = self.ceiling_db
            gain_db = self._limited_gain(timeline, intermediate, gain_db, limiter)
        encoded = work / f"audio.{manifest.output.format}"
        # What the codec did to the loudness, learnt from each measured encode.
        codec_offset = 0.0
        for attempt in range(1, MAX_ENCODES + 1):
            measured = self._encode_once(timeline, intermediate, gain_db, limiter, encoded, work)
            true_peak = measured.true_peak_db
            over = 0.0 if true_peak is None else true_peak - target.true_peak_db
            miss = (
                0.0
                if measured.integrated_lufs is None
                else target.target_lufs - measured.integrated_lufs
            )
            logger.info(
                "event=engine.encode attempt=%d gain_db=%.2f limiter=%s true_peak=%s lufs=%s",
                attempt, gain_db, limiter, true_peak, measured.integrated_lufs,
            )  # fmt: skip
            if over <= TRUE_PEAK_TOLERANCE_DB and abs(miss) <= LOUDNESS_TOLERANCE_LU:
                return measured, limiter is not None, attempt
            if attempt == MAX_ENCODES:
                break
            codec_offset += miss
            if over > TRUE_PEAK_TOLERANCE_DB:
                peak = min(self.ceiling_db, sample_peak_db + gain_db)
                limiter = (limiter if limiter is not None else peak) - over - PEAK_RETRY_MARGIN_DB
            if limiter is None:
                gain_db += miss
            else:
                gain_db = self._limited_gain(
                    timeline,
                    intermediate,
                    gain_db + miss,
                    limiter,
                    aim_lufs=self.aim_lufs + codec_offset,
                )
        raise OutputError(
            f"the encoded episode misses its targets after {MAX_ENCODES} tries: true peak "
            f"{measured.true_peak_db} dBTP (ceiling {target.true_peak_db:g}), loudness "
            f"{measured.integrated_lufs} LUFS (target {target.target_lufs:g})"
        )

    def _encode_once(
        self,
        timeline: Timeline,
        intermediate: Path,
        gain_db: float,
        limiter: float | None,
        encoded: Path,
        work: Path,
    ) -> Loudness:
        manifest = self.manifest
        self.progress.phase("encode", total_s=timeline.duration_s)
        fifo = self._fifo(work / "meter.fifo")
        meter = self._start(meter_args(fifo, manifest.output))
        run = self._start(
            encode_args(
                manifest,
                intermediate=intermediate,
                gain_db=gain_db,
                limiter_ceiling_db=limiter,
                destination=encoded,
                meter_fifo=fifo,
            )
        )
        run.follow(self.progress.advance)
        self._finish(run, "encoding")
        self._finish(meter, "measuring the encoded episode")
        return parse_ebur128(meter.stderr_text())

    def _package(
        self, timeline: Timeline, encoded: Path, partial: Path, work: Path, cover_as_is: bool
    ) -> None:
        manifest = self.manifest
        metadata = None
        if manifest.chapters and manifest.output.format in CHAPTER_FORMATS:
            metadata = work / "chapters.txt"
            metadata.write_text(ffmetadata(timeline))
        self.progress.phase("package", total_s=1.0)
        packaging = self._start(
            package_args(
                manifest,
                audio_file=encoded,
                metadata_file=metadata,
                destination=partial,
                cover_as_is=cover_as_is,
            )
        )
        self._finish(packaging, "packaging")
        comment = manifest.tags.get("comment")
        if manifest.output.format == "mp3" and comment:
            write_mp3_comment(partial, comment)

    def _limited_gain(
        self,
        timeline: Timeline,
        intermediate: Path,
        gain_db: float,
        ceiling_db: float,
        *,
        aim_lufs: float | None = None,
    ) -> float:
        """The gain that puts the limited mix on the aim. Limiting takes loudness away,
        less than one for one, so a few corrections converge."""
        aim = self.aim_lufs if aim_lufs is None else aim_lufs
        self.progress.phase("limit", total_s=timeline.duration_s * MAX_GAIN_TRIES)
        for attempt in range(MAX_GAIN_TRIES):
            run = self._start(
                limited_loudness_args(
                    intermediate, self.manifest.output, gain_db=gain_db, ceiling_db=ceiling_db
                )
            )
            self._finish(run, "levelling the mix")
            reached = parse_ebur128(run.stderr_text())
            self.progress.advance(timeline.duration_s * (attempt + 1))
            miss = 0.0 if reached.integrated_lufs is None else aim - reached.integrated_lufs
            if abs(miss) <= LIMITED_GAIN_TOLERANCE_LU:
                break
            gain_db += miss
        return gain_db

    # -- processes -------------------------------------------------------------------------

    def _run_all(
        self,
        commands: Sequence[list[str]],
        doing: Sequence[str],
        *,
        on_done: Callable[[int], None],
    ) -> list[str]:
        """Run ``commands``, as many at once as there are cores; their stderr, in order."""
        results: dict[int, str] = {}
        waiting = list(range(len(commands)))
        running: list[tuple[int, FFmpegRun]] = []
        while waiting or running:
            while waiting and len(running) < (os.cpu_count() or 2):
                index = waiting.pop(0)
                running.append((index, self._start(commands[index])))
            index, run = running.pop(0)
            self._finish(run, doing[index])
            results[index] = run.stderr_text()
            on_done(index)
        return [results[index] for index in range(len(commands))]

    def _clean_up(self, work: Path) -> None:
        """Kill every ffmpeg this started, then remove the temporary folder (the float
        intermediates are hundreds of MB an hour). Each step can be repeated, so when an
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


class _Counter:
    """Media seconds done in a phase whose work finishes in pieces."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._done_s = 0.0

    def add(self, seconds: float) -> None:
        self._done_s += seconds
        self._progress.advance(self._done_s)


def _cleans(manifest: Manifest) -> bool:
    cleanup = manifest.cleanup
    return (
        cleanup.highpass_hz > 0
        or needs_listening(cleanup)
        or cleanup.deess
        or cleanup.max_pause_s is not None
    )


def _played_lufs(item: PreparedPart, level: Level) -> float:
    """A part's loudness as it plays: after its gain, and after its limiter if it has one
    (the gain of a limited part is higher than the loudness it reaches)."""
    if level.reached_lufs is not None:
        return level.reached_lufs
    assert item.after.loudness_lufs is not None
    return item.after.loudness_lufs + level.gain_db


def _report(item: PreparedPart, level: Level) -> PartReport:
    after = item.after.shifted(level.gain_db)
    if level.limit_db is not None:
        peak = None if after.peak_db is None else min(after.peak_db, round(level.limit_db, 1))
        loudness = after.loudness_lufs if level.reached_lufs is None else level.reached_lufs
        after = Figures(loudness, peak, after.noise_floor_db)
    return PartReport(
        title=item.part.title,
        field=item.part.field,
        duration_s=item.duration_s,
        before=item.before,
        after=after,
        gain_db=level.gain_db,
        limited=level.limit_db is not None,
        applied=[*item.applied, *level.applied],
    )
