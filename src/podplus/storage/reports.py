"""What the engine did to an episode's parts, kept beside the audio it describes.

The engine's ``done`` event (``podplus.engine.assemble.AssemblyResult.as_json``) says, per
part, its loudness, peak and noise floor before and after, the gain it got, whether it was
limited and what clean-up was applied; and the chapters and how many encodes it took. That
is another program's output, so it is read like any input: only the fields named here are
kept, every list has a bound, every text is cut to length (and loses control characters),
a figure is a finite number in a sane range, and anything else is refused as a whole.

    report = AssemblyReport.from_engine(done)   # None: the engine sent no report
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from podplus.engine.spec import MAX_PARTS, MAX_SECONDS

# Every segment, plus the intro and the outro.
MAX_REPORT_PARTS = MAX_PARTS + 2
MAX_APPLIED_LINES = 32
MAX_TEXT_CHARS = 300
MAX_FIELD_CHARS = 64
MAX_ENCODES = 100
# Wider than any real level (float audio can go past 0 dBFS), narrow enough to be a level.
MAX_ABS_DB = 400.0

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _cut(limit: int) -> Callable[[Any], Any]:
    """Text as the studio may show it: one line, at most ``limit`` characters. Anything
    that isn't a string is left for the type check to refuse."""

    def cut(value: Any) -> Any:
        return _CONTROL.sub(" ", value)[:limit] if isinstance(value, str) else value

    return cut


Text = Annotated[str, BeforeValidator(_cut(MAX_TEXT_CHARS)), Field(max_length=MAX_TEXT_CHARS)]
FieldName = Annotated[
    str, BeforeValidator(_cut(MAX_FIELD_CHARS)), Field(max_length=MAX_FIELD_CHARS)
]
Decibels = Annotated[float, Field(ge=-MAX_ABS_DB, le=MAX_ABS_DB)]
Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS)]


class ReportBlock(BaseModel):
    """Strict about types (``true`` is no level, NaN no number); fields it doesn't know,
    it leaves out (the engine may say more than the studio shows)."""

    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False, frozen=True)


class ReportFigures(ReportBlock):
    """A part's levels at one point; null where there was nothing to measure (silence)."""

    loudness_lufs: Decibels | None = Field(description="Integrated loudness (LUFS).")
    peak_db: Decibels | None = Field(description="Peak level (dBFS).")
    noise_floor_db: Decibels | None = Field(description="Level of the quietest stretches (dBFS).")


class PartReport(ReportBlock):
    """What happened to one part (the intro, a segment, the outro)."""

    title: Text = Field(description="The part's chapter title.")
    field: FieldName = Field(description="Where the part is in the episode: `segments[0]`, …")
    duration_s: Seconds
    before: ReportFigures = Field(description="As uploaded, after the downmix to the output.")
    after: ReportFigures = Field(description="Cleaned up, levelled and limited, as it plays.")
    gain_db: Decibels = Field(description="The gain levelling gave it.")
    limited: bool = Field(description="Its peaks were held down by its own limiter.")
    applied: list[Text] = Field(
        max_length=MAX_APPLIED_LINES, description="What was done to it, a line each."
    )


class ReportChapter(ReportBlock):
    start_s: Seconds
    end_s: Seconds
    title: Text


class AssemblyReport(ReportBlock):
    """What the engine did to make the episode's current audio, part by part."""

    parts: list[PartReport] = Field(max_length=MAX_REPORT_PARTS)
    chapters: list[ReportChapter] = Field(max_length=MAX_REPORT_PARTS)
    encodes: int = Field(ge=0, le=MAX_ENCODES, description="Encodes until the targets held.")
    limited: bool = Field(description="The episode's own limiter had to hold its peaks down.")

    @classmethod
    def from_engine(cls, done: Mapping[str, Any]) -> AssemblyReport | None:
        """The report in the engine's ``done`` event; None when the event has none.
        A report that doesn't fit raises pydantic's ``ValidationError``."""
        if "parts" not in done:
            return None
        return cls.model_validate(done)
