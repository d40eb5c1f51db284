"""How loud each part plays, and the bed under them: the arithmetic, no processes.

A part is brought to the target as it will play (after its downmix and clean-up). A part
whose peaks would pass the ceiling gets a limiter of its own, and its gain is then found
by measuring the limited part (``secant_step``), so a peaky take loses no loudness its
neighbours don't. The bed and its ducking are set relative to the speech as it plays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from podplus.engine.graph import BedInput
from podplus.engine.manifest import MusicBed
from podplus.engine.report import Figures, PartReport, PreparedPart

# The most levelling may turn a part up: past this it would be lifting noise, not speech.
MAX_LEVELLING_GAIN_DB = 24.0
# A part quieter than this has no programme in it (room tone, silence): it plays at its
# own level, with no levelling gain.
PROGRAMME_FLOOR_LUFS = -55.0
# Parts are limited on their own, this far under the episode's ceiling: room for the
# peaks between samples of a hard-limited take, so the episode's limiter (which would take
# loudness from the peaky takes alone) rarely has to work.
PART_LIMITER_HEADROOM_DB = 1.5
# A part's limited gain is settled this close: takes must land within half a LU.
PART_GAIN_TOLERANCE_LU = 0.05
MAX_PART_GAIN_TRIES = 6
# The bed's level is relative to the speech; ducking starts this far under it.
DUCK_BELOW_SPEECH_DB = 18.0


@dataclass(frozen=True)
class Level:
    gain_db: float
    limit_db: float | None
    applied: list[str]
    reached_lufs: float | None = None  # measured after its own limiter

    def settled(self, reached_lufs: float | None) -> Level:
        return Level(self.gain_db, self.limit_db, self.applied, reached_lufs)

    def regained(self, gain_db: float) -> Level:
        return Level(gain_db, self.limit_db, self.applied)


def has_programme(item: PreparedPart) -> bool:
    lufs = item.after.loudness_lufs
    return lufs is not None and lufs >= PROGRAMME_FLOOR_LUFS


def first_level(item: PreparedPart, *, aim_lufs: float, ceiling_db: float, levelled: bool) -> Level:
    """The part's gain before any limiter is measured, and whether it needs one."""
    own = item.part.gain_db
    if not has_programme(item):
        return Level(own, None, ["no programme in it (silence or room tone): left at its level"])
    if not levelled:
        return Level(own, None, [])
    assert item.after.loudness_lufs is not None
    applied = []
    gain = aim_lufs - item.after.loudness_lufs
    if gain > MAX_LEVELLING_GAIN_DB:
        applied.append(f"levelling gain capped at {MAX_LEVELLING_GAIN_DB:g} dB")
        gain = MAX_LEVELLING_GAIN_DB
    gain += own
    limit = ceiling_db - PART_LIMITER_HEADROOM_DB
    peak = item.after.peak_db
    needs_limiter = peak is not None and peak + gain > limit
    return Level(gain, limit if needs_limiter else None, applied)


def secant_step(
    before: tuple[float, float | None] | None, now: tuple[float, float | None], miss: float
) -> float:
    """The next change of gain: the miss divided by how much loudness a dB of gain bought
    between the last two tries (one for one the first time), within sane bounds. A
    hard-limited take gains much less than a dB per dB."""
    if before is None or before[1] is None or now[1] is None or before[0] == now[0]:
        return miss
    slope = (now[1] - before[1]) / (now[0] - before[0])
    if not 0.1 <= slope <= 1.5:
        return miss
    return max(-abs(miss) * 4, min(abs(miss) * 4, miss / slope))


def played_lufs(item: PreparedPart, level: Level) -> float:
    """A part's loudness as it plays: after its gain, and after its limiter if it has one
    (the gain of a limited part is higher than the loudness it reaches)."""
    if level.reached_lufs is not None:
        return level.reached_lufs
    assert item.after.loudness_lufs is not None
    return item.after.loudness_lufs + level.gain_db


def bed_input(
    bed: MusicBed,
    prepared: Sequence[PreparedPart],
    levels: Sequence[Level],
    *,
    bed_lufs: float | None,
    aim_lufs: float,
) -> BedInput:
    """The bed ``gain_db`` under the speech as it plays, and ducked from a threshold
    relative to it: the same level and duck depth at any loudness target."""
    speech = [
        played_lufs(item, level)
        for item, level in zip(prepared, levels, strict=True)
        if item.part.content == "speech" and has_programme(item)
    ]
    speech_lufs = sum(speech) / len(speech) if speech else aim_lufs
    gain = bed.gain_db if bed_lufs is None else speech_lufs + bed.gain_db - bed_lufs
    return BedInput(
        bed.path,
        gain_db=gain,
        duck=bed.duck,
        duck_threshold_db=speech_lufs - DUCK_BELOW_SPEECH_DB,
    )


def part_report(item: PreparedPart, level: Level) -> PartReport:
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
