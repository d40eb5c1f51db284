"""Where each part sits in the finished episode: a pure function of durations and fades.

Parts play in order; each neighbouring pair overlaps by the crossfade, which is capped
at half the shorter part so a short sting can't be swallowed whole.
"""

from __future__ import annotations

from dataclasses import dataclass

# Below this a "crossfade" is inaudible and acrossfade would only cost work.
MIN_CROSSFADE_S = 0.01
BED_FADE_OUT_S = 3.0


@dataclass(frozen=True)
class PartSpan:
    title: str
    source_start_s: float  # where to start reading the input
    duration_s: float  # how much of it plays
    start_s: float  # when it starts in the episode
    crossfade_in_s: float  # overlap with the part before


@dataclass(frozen=True)
class Timeline:
    spans: tuple[PartSpan, ...]
    duration_s: float

    @property
    def crossfades_s(self) -> tuple[float, ...]:
        return tuple(span.crossfade_in_s for span in self.spans[1:])

    def chapters(self) -> list[tuple[float, float, str]]:
        """(start_s, end_s, title) per part; a chapter begins where its part fades in."""
        bounds = [span.start_s for span in self.spans] + [self.duration_s]
        return [(bounds[i], bounds[i + 1], span.title) for i, span in enumerate(self.spans)]

    def bed_fade_out_s(self) -> float:
        return min(BED_FADE_OUT_S, self.duration_s / 4)


def build_timeline(parts: list[tuple[str, float, float]], *, crossfade_s: float) -> Timeline:
    """``parts`` is (title, source_start_s, duration_s) per part, in playing order."""
    spans: list[PartSpan] = []
    position = 0.0
    for index, (title, source_start_s, duration_s) in enumerate(parts):
        overlap = 0.0
        if index > 0:
            overlap = min(crossfade_s, spans[-1].duration_s / 2, duration_s / 2)
            if overlap < MIN_CROSSFADE_S:
                overlap = 0.0
        position -= overlap
        spans.append(PartSpan(title, source_start_s, duration_s, position, overlap))
        position += duration_s
    return Timeline(spans=tuple(spans), duration_s=position)


def playable_range(
    *,
    source_duration_s: float,
    trim_start_s: float,
    trim_end_s: float | None,
    silences: list[tuple[float, float | None]] | None = None,
) -> tuple[float, float]:
    """(start_s, duration_s) of a part after its trims and, if given, its edge silences."""
    start = min(trim_start_s, source_duration_s)
    end = source_duration_s if trim_end_s is None else min(trim_end_s, source_duration_s)
    for silence_start, silence_end in silences or []:
        stop = source_duration_s if silence_end is None else silence_end
        if silence_start <= start + 0.01 and stop > start:
            start = stop  # leading silence
        if stop >= end - 0.01 and silence_start < end:
            end = max(start, silence_start)  # trailing silence
    return start, max(0.0, end - start)
