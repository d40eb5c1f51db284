"""One assembly, start to finish: prepare every part, level, render, encode, measure.

The output appears only when complete and only when it keeps the promises: the finished
file is measured as a player decodes it, and an episode whose true peak is over the
ceiling (or whose loudness is off target) is encoded again, or refused, never reported
as done.
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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from podplus.engine.cleanup import Findings, cleanup_filters, needs_listening, read_findings
from podplus.engine.errors import InputError, ManifestError, OutputError
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
    prepare_args,
    render_args,
)
from podplus.engine.levels import (
    MAX_PART_GAIN_TRIES,
    PART_GAIN_TOLERANCE_LU,
    PROGRAMME_FLOOR_LUFS,
    Level,
    bed_input,
    first_level,
    has_programme,
    part_report,
    secant_step,
)
from podplus.engine.loudness import Loudness, loudness_args, parse_ebur128, parse_silences
from podplus.engine.manifest import Manifest, Part
from podplus.engine.meters import blocks, read_loudness, read_stats
from podplus.engine.probe import probe_audio, probe_image
from podplus.engine.progress import Progress
from podplus.engine.report import AssemblyResult, Figures, PreparedPart
from podplus.engine.runs import Runs
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
MAX_GAIN_TRIES = 4
# Encodes until the measured true peak is under the ceiling and the loudness on target.
MAX_ENCODES = 4
TRUE_PEAK_TOLERANCE_DB = 0.0
LOUDNESS_TOLERANCE_LU = 0.2
PROBES_AT_ONCE = 4
PEAK_RETRY_MARGIN_DB = 0.15


class Assembly:
    def __init__(self, manifest: Manifest, destination: Path, progress: Progress) -> None:
        self.manifest = manifest
        self.destination = destination
        self.progress = progress
        self._runs = Runs()

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
            metadata = self._chapters_file(timeline, work)
            figures, limited, encodes = self._encode(
                timeline, intermediate, mix, partial, metadata, cover_as_is
            )
            comment = self.manifest.tags.get("comment")
            if self.manifest.output.format == "mp3" and comment:
                write_mp3_comment(partial, comment)
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
            parts=[part_report(item, level) for item, level in zip(prepared, levels, strict=True)],
        )

    # -- pass 1: every part prepared -------------------------------------------------------

    def prepare(self, work: Path) -> list[PreparedPart]:
        """Listen to the spoken parts that get a tuned clean-up, then decode, cut, conform
        and clean up every part into float PCM, measuring it: several parts at once."""
        manifest = self.manifest
        # Probing is a short ffprobe per file, mostly waiting: a few at once.
        with ThreadPoolExecutor(max_workers=PROBES_AT_ONCE) as pool:
            probes = list(pool.map(probe_audio, [part.path for part in manifest.parts]))
        total_s = sum(found.duration_s or 0.0 for found in probes) or 1.0
        cleaned = [part.content == "speech" and _cleans(manifest) for part in manifest.parts]
        listening = [
            index
            for index, part in enumerate(manifest.parts)
            if cleaned[index] and needs_listening(manifest.cleanup)
        ]
        self.progress.phase("analyse", total_s=total_s * (1 + len(listening) / len(probes)))
        done = _Counter(self.progress)
        heard = self._runs.all(
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
        outputs = self._runs.all(
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
        if not any(has_programme(item) for item in prepared):
            raise InputError(
                f"the episode is silent: no part is louder than {PROGRAMME_FLOOR_LUFS:g} LUFS"
            )
        levels = [
            first_level(
                item,
                aim_lufs=self.aim_lufs,
                ceiling_db=self.ceiling_db,
                levelled=self.manifest.level_segments,
            )
            for item in prepared
        ]
        return self._correct_for_limiters(prepared, levels)

    def _correct_for_limiters(
        self, prepared: Sequence[PreparedPart], levels: list[Level]
    ) -> list[Level]:
        limited = [index for index, level in enumerate(levels) if level.limit_db is not None]
        if not limited:
            return levels
        output = self.manifest.output
        total_s = sum(prepared[index].duration_s for index in limited)
        self.progress.phase("level", total_s=total_s * MAX_PART_GAIN_TRIES)
        done = _Counter(self.progress)
        # The last (gain, loudness reached) of each part: a hard-limited take gains much
        # less than a dB per dB, and the slope between two tries finds its gain in few.
        tried: dict[int, tuple[float, float | None]] = {}
        for attempt in range(1, MAX_PART_GAIN_TRIES + 1):
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
            outputs = self._runs.all(
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
                if abs(miss) > PART_GAIN_TOLERANCE_LU and attempt < MAX_PART_GAIN_TRIES:
                    step = secant_step(tried.get(index), (level.gain_db, reached), miss)
                    tried[index] = (level.gain_db, reached)
                    levels[index] = level.regained(level.gain_db + step)
                    unsettled.append(index)
                else:
                    levels[index] = level.settled(reached)
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
        bed = self.manifest.music_bed
        if bed is None:
            return None
        return bed_input(bed, prepared, levels, bed_lufs=bed_lufs, aim_lufs=self.aim_lufs)

    def _bed_loudness(self) -> float | None:
        bed = self.manifest.music_bed
        if bed is None:
            return None
        probe_audio(bed.path)
        run = self._runs.start(loudness_args(bed.path, true_peak=False))
        self._runs.finish(run, "measuring the music bed")
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
        run = self._runs.start(render_args(self.manifest, timeline, parts, bed, intermediate))
        run.follow(self.progress.advance)
        self._runs.finish(run, "rendering the mix")
        return parse_ebur128(run.stderr_text())

    def _encode(
        self,
        timeline: Timeline,
        intermediate: Path,
        mix: Loudness,
        partial: Path,
        metadata: Path | None,
        cover_as_is: bool,
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
        # What the codec did to the loudness, learnt from each measured encode.
        codec_offset = 0.0
        for attempt in range(1, MAX_ENCODES + 1):
            measured = self._encode_once(
                timeline, intermediate, gain_db, limiter, partial, metadata, cover_as_is
            )
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
        partial: Path,
        metadata: Path | None,
        cover_as_is: bool,
    ) -> Loudness:
        """Encode the finished file, then measure it as a player decodes it: with the
        encoder's delay and padding trimmed (a meter fed the bare packets counts them as
        audio, and on short, peaky material its gating then lands up to half a LU off)."""
        manifest = self.manifest
        self.progress.phase("encode", total_s=timeline.duration_s)
        run = self._runs.start(
            encode_args(
                manifest,
                intermediate=intermediate,
                gain_db=gain_db,
                limiter_ceiling_db=limiter,
                metadata_file=metadata,
                destination=partial,
                cover_as_is=cover_as_is,
            )
        )
        run.follow(self.progress.advance)
        self._runs.finish(run, "encoding")
        self.progress.phase("measure", total_s=1.0)
        meter = self._runs.start(loudness_args(partial, peaks="sample+true"))
        return parse_ebur128(self._runs.finish(meter, "measuring the encoded episode"))

    def _chapters_file(self, timeline: Timeline, work: Path) -> Path | None:
        manifest = self.manifest
        if not manifest.chapters or manifest.output.format not in CHAPTER_FORMATS:
            return None
        metadata = work / "chapters.txt"
        metadata.write_text(ffmetadata(timeline))
        return metadata

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
            run = self._runs.start(
                limited_loudness_args(
                    intermediate, self.manifest.output, gain_db=gain_db, ceiling_db=ceiling_db
                )
            )
            self._runs.finish(run, "levelling the mix")
            reached = parse_ebur128(run.stderr_text())
            self.progress.advance(timeline.duration_s * (attempt + 1))
            miss = 0.0 if reached.integrated_lufs is None else aim - reached.integrated_lufs
            if abs(miss) <= LIMITED_GAIN_TOLERANCE_LU:
                break
            gain_db += miss
        return gain_db

    # -- processes -------------------------------------------------------------------------

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
        self._runs.close()
        shutil.rmtree(work, ignore_errors=True)


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
