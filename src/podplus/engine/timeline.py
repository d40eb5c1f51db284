"""Where each part sits in the finished episode: a pure function of lengths and joins.

A part plays as one or more *pieces* of its prepared audio (more than one when long
pauses are shortened), joined by a few milliseconds of crossfade so no cut clicks.
Parts play in order. A join where music is involved crossfades, capped at half the
shorter part so a short sting can't be swallowed whole; speech never overlaps speech,
so two voices are never heard at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from podplus.engine.spec import Content

# Below this a "crossfade" is inaudible and acrossfade would only cost work.
MIN_CROSSFADE_S = 0.01
BED_FADE_OUT_S = 3.0
# The join inside a part where a pause was shortened: short enough to be inaudible,
# long enough that the cut doesn't click.
PIECE_JOIN_S = 0.02
# A cut at the ends of a part keeps this much before the first sound (the breath before
# a consonant) and after the last (a decaying word).
PRE_ROLL_S = 0.15
POST_ROLL_S = 0.25

Piece = tuple[float, float]  # (start_s, end_s) in the part's prepared audio


@dataclass(frozen=True)
class PartPlan:
    title: str
    content: Content
    pieces: tuple[Piece, ...]

    @property
    def duration_s(self) -> float:
        played = sum(end - start for start, end in self.pieces)
        return played - PIECE_JOIN_S * (len(self.pieces) - 1)


@dataclass(frozen=True)
class PartSpan:
    title: str
    content: Content
    pieces: tuple[Piece, ...]
    duration_s: float  # how long it plays
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


def build_timeline(parts: Sequence[PartPlan], *, crossfade_s: float) -> Timeline:
    spans: list[PartSpan] = []
    position = 0.0
    for index, part in enumerate(parts):
        duration_s = part.duration_s
        overlap = 0.0
        if index > 0 and "music" in (spans[-1].content, part.content):
            overlap = min(crossfade_s, spans[-1].duration_s / 2, duration_s / 2)
            if overlap < MIN_CROSSFADE_S:
                overlap = 0.0
        position -= overlap
        spans.append(PartSpan(part.title, part.content, part.pieces, duration_s, position, overlap))
        position += duration_s
    return Timeline(spans=tuple(spans), duration_s=position)


def playable_pieces(
    *,
    duration_s: float,
    silences: Sequence[tuple[float, float | None]] = (),
    trim_edges: bool = False,
    max_pause_s: float | None = None,
) -> tuple[Piece, ...]:
    """The pieces of a prepared part that play: with ``trim_edges`` the silence at its
    ends is cut (keeping a pre- and post-roll), and with ``max_pause_s`` every longer
    pause inside it is shortened to that length, keeping half of it on either side of
    the cut. ``silences`` are (start, end) in the part, end None when it runs to the end."""
    start, end = 0.0, duration_s
    inner: list[tuple[float, float]] = []
    for silence_start, silence_end in silences:
        stop = duration_s if silence_end is None else silence_end
        if silence_start <= 0.01 and stop >= duration_s - 0.01:
            return () if trim_edges else ((0.0, duration_s),)
        if silence_start <= 0.01:
            if trim_edges:
                start = max(start, stop - PRE_ROLL_S)
        elif stop >= duration_s - 0.01:
            if trim_edges:
                end = min(end, silence_start + POST_ROLL_S)
        else:
            inner.append((silence_start, stop))
    if end - start <= 0:
        return ()
    pieces: list[Piece] = []
    cursor = start
    if max_pause_s is not None:
        for silence_start, stop in inner:
            if stop - silence_start <= max_pause_s or silence_start < start or stop > end:
                continue
            keep = max_pause_s / 2
            pieces.append((cursor, silence_start + keep + PIECE_JOIN_S / 2))
            cursor = stop - keep - PIECE_JOIN_S / 2
    pieces.append((cursor, end))
    return tuple(pieces)
