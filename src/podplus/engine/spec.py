"""The episode, declared once: every field of an episode with its type, limits and default.

Two shapes are built from the same blocks, and differ only in how they point at a file:

- ``EpisodeSpec`` is what the API stores for an episode: files are media ids
  (``segments[].media_id``, ``intro_id``, ``music_bed.media_id``, ``cover_id``);
- ``ManifestSpec`` is what the engine reads: files are paths (``segments[].path``,
  ``intro.path``, ``music_bed.path``, ``cover``).

Everything else (trims, gains, the bed's level, loudness, output, tags, chapters) is the
same block in both, so a limit exists in exactly one place. The API's validation, the
translation to a manifest, the JSON the API returns, the OpenAPI schema and the limits the
studio form shows are all derived from these classes.

Validation is strict: ``true`` is not a channel count, ``NaN`` is not a number, unknown
fields are refused. ``read`` turns pydantic's structured errors into one message per
problem, starting with the field's path: ``segments[1].trim_start_s: must be a number ≥ 0``.
This module sits at the bottom of the dependency graph: it imports nothing from podplus.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Self, TypeVar

import pydantic_core
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

# One line of text with something visible in it: titles, names, tag values.
LINE_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
# Free text: show notes keep their newlines and tabs; other control characters (NUL ends a
# line in ffmpeg's metadata files) are refused.
NOTES_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# An id as podplus issues them (hex), or any short printable token a client might send.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
TAG_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,31}$"

FORMATS = ("mp3", "m4a", "wav", "flac")
LOSSY_FORMATS = ("mp3", "m4a")
# MPEG audio layer III is defined up to 48 kHz (MPEG-1); higher rates need AAC or lossless.
MAX_SAMPLE_RATE = {"mp3": 48000}
MAX_PARTS = 100
MAX_TAGS = 32
MAX_SECONDS = 24 * 3600.0

_PATTERN_MESSAGES = {
    LINE_PATTERN: "must be one line of visible text, without control characters",
    NOTES_PATTERN: "must not contain control characters (newlines and tabs are fine)",
    ID_PATTERN: "must be an id (letters, digits, - and _)",
    TAG_NAME_PATTERN: "must be a short word (letters, digits and _)",
}

Format = Literal["mp3", "m4a", "wav", "flac"]
Content = Literal["speech", "music"]
SampleRate = Literal[8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000]
Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS)]
Line = Annotated[str, Field(min_length=1, max_length=300, pattern=LINE_PATTERN)]
Notes = Annotated[str, Field(max_length=5000, pattern=NOTES_PATTERN)]
MediaId = Annotated[str, Field(pattern=ID_PATTERN, description="The id of an uploaded file.")]
FilePath = Annotated[
    str,
    Field(min_length=1, max_length=4096, pattern=r"^[^\x00]+$", description="A file path."),
]
TagValue = (
    Annotated[str, Field(max_length=5000, pattern=NOTES_PATTERN)]
    | Annotated[int, Field(ge=-(2**53), le=2**53)]
)
Tags = Annotated[
    dict[Annotated[str, Field(pattern=TAG_NAME_PATTERN)], TagValue],
    Field(
        max_length=MAX_TAGS,
        description="ID3/MP4 tags such as artist, album, year, genre, comment.",
        examples=[{"artist": "Ada Lovelace", "album": "The Engine Room", "year": 2026}],
    ),
]


class Block(BaseModel):
    """The strictness every block shares."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class PartOptions(Block):
    """How one spoken part plays: where it is cut and how much it is turned up or down."""

    trim_start_s: Seconds = Field(0.0, description="Skip this much from the start.")
    trim_end_s: Seconds | None = Field(None, description="Stop here (seconds into the file).")
    gain_db: float = Field(0.0, ge=-60, le=30, description="Extra gain after levelling.")
    content: Content | None = Field(
        None,
        description=(
            "What the part holds: speech is cleaned up and never overlaps other speech; "
            "music may crossfade. Segments are speech unless told; intro and outro, music."
        ),
    )

    @model_validator(mode="after")
    def _end_after_start(self) -> Self:
        if self.trim_end_s is not None and self.trim_end_s <= self.trim_start_s:
            raise PydanticCustomError(
                "after_start", "must be after trim_start_s", {"field": "trim_end_s"}
            )
        return self


class BedOptions(Block):
    """The music under the whole episode."""

    gain_db: float = Field(-20.0, ge=-60, le=0, description="Level relative to the speech.")
    duck: bool = Field(True, description="Lower the music while someone speaks.")


class Loudness(Block):
    """The broadcast targets the finished episode is normalized to."""

    target_lufs: float = Field(-16.0, ge=-40, le=-5, description="Integrated loudness.")
    true_peak_db: float = Field(-1.0, ge=-9, le=0, description="True-peak ceiling (dBTP).")


class Output(Block):
    """The file the episode is encoded to."""

    # Tells a form when a bitrate means anything.
    model_config = ConfigDict(json_schema_extra={"x-lossy-formats": list(LOSSY_FORMATS)})

    format: Format = "mp3"
    bitrate_kbps: int = Field(128, ge=32, le=320, description="For mp3 and m4a.")
    channels: int = Field(1, ge=1, le=2, description="1 (mono) or 2 (stereo).")
    sample_rate: SampleRate = 44100

    @property
    def is_lossy(self) -> bool:
        return self.format in LOSSY_FORMATS

    @model_validator(mode="after")
    def _rate_fits_format(self) -> Self:
        highest = MAX_SAMPLE_RATE.get(self.format)
        if highest is not None and self.sample_rate > highest:
            raise PydanticCustomError(
                "rate_for_format",
                "{format} goes up to {highest} Hz; choose m4a, flac or wav for more",
                {"field": "sample_rate", "format": self.format, "highest": highest},
            )
        return self


class Cleanup(Block):
    """Post-production for the spoken parts, applied before they are levelled."""

    highpass_hz: float = Field(
        70.0, ge=0, le=200, description="Remove rumble and DC below this (0 = off)."
    )
    dehum: bool = Field(
        True, description="Find mains hum (50 or 60 Hz) and notch it out with its harmonics."
    )
    denoise_db: float = Field(
        12.0, ge=0, le=30, description="How far steady background noise is lowered (0 = off)."
    )
    deess: bool = Field(False, description="Soften harsh s and sh sounds.")
    level_voices: bool = Field(
        False, description="Bring a quiet and a loud voice in one take to one level."
    )
    max_pause_s: float | None = Field(
        None, ge=0.3, le=10, description="Shorten longer pauses to this (none = keep them)."
    )


class EpisodeOptions(Block):
    """What every episode has, whichever way it points at its files."""

    crossfade_s: float = Field(
        1.0,
        ge=0,
        le=30,
        description="Overlap at joins with music; speech never overlaps speech.",
    )
    trim_silence: bool = Field(False, description="Cut silence at the ends of each part.")
    level_segments: bool = Field(True, description="Bring every part to the same loudness.")
    cleanup: Cleanup = Cleanup()
    loudness: Loudness = Loudness()
    output: Output = Output()
    tags: Tags = {}
    chapters: bool = Field(True, description="A chapter per part (mp3 and m4a).")


# -- The API's shape: files are media ids ---------------------------------------------


class Segment(PartOptions):
    media_id: MediaId


class MusicBed(BedOptions):
    media_id: MediaId


class EpisodeSpec(EpisodeOptions):
    """The parts of an episode and how to assemble them, as the API stores it."""

    intro_id: MediaId | None = None
    segments: list[Segment] = Field(min_length=1, max_length=MAX_PARTS)
    outro_id: MediaId | None = None
    music_bed: MusicBed | None = None
    cover_id: MediaId | None = Field(None, description="An image uploaded with kind=cover.")

    def media_refs(self) -> list[tuple[str, str]]:
        """(field path, media id) for every file the episode uses, so a bad one is named."""
        refs = [(f"segments[{i}].media_id", s.media_id) for i, s in enumerate(self.segments)]
        refs += [
            (name, value)
            for name, value in (("intro_id", self.intro_id), ("outro_id", self.outro_id))
            if value is not None
        ]
        if self.music_bed is not None:
            refs.append(("music_bed.media_id", self.music_bed.media_id))
        if self.cover_id is not None:
            refs.append(("cover_id", self.cover_id))
        return refs

    def media_ids(self) -> set[str]:
        return {media_id for _, media_id in self.media_refs()}


class EpisodeInput(EpisodeSpec):
    """An episode as a client describes it: the spec plus its title and show notes."""

    title: Line
    description: Notes = ""

    @property
    def spec(self) -> EpisodeSpec:
        # The blocks are validated already; strict validation takes them as they are.
        return EpisodeSpec.model_validate(
            {name: getattr(self, name) for name in EpisodeSpec.model_fields}
        )


def changes_to(model: type[Block]) -> type[Block]:
    """``model`` with every field optional and no defaults: the body of a partial change.

    A change is read with this (so its fields are checked one by one and unknown ones are
    refused), merged over the stored values, and the result read with ``model`` itself.
    """
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation: Any = info.annotation
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        fields[name] = (annotation | None, Field(None, description=info.description))
    changes: type[Block] = create_model(  # type: ignore[call-overload]
        f"{model.__name__}Changes",
        __base__=Block,
        __doc__=f"Any fields of {model.__name__}; those sent replace the stored ones whole.",
        **fields,
    )
    return changes


EpisodeChanges = changes_to(EpisodeInput)


# -- The engine's shape: files are paths ------------------------------------------------


class ManifestPart(PartOptions):
    path: FilePath
    title: Line | None = Field(None, description="The chapter's title; the file's name if unset.")


class ManifestBed(BedOptions):
    path: FilePath


class ManifestSpec(EpisodeOptions):
    """The engine's manifest: an episode with file paths (relative to the manifest)."""

    title: Line = "Episode"
    intro: ManifestPart | None = None
    segments: list[ManifestPart] = Field(min_length=1, max_length=MAX_PARTS)
    outro: ManifestPart | None = None
    music_bed: ManifestBed | None = None
    cover: FilePath | None = None


# -- Reading ------------------------------------------------------------------------------

Model = TypeVar("Model", bound=BaseModel)


class SpecError(ValueError):
    """Input that doesn't fit a spec; ``problems`` holds one message per field."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(problems[0] if problems else "invalid input")
        self.problems = list(problems)

    @property
    def message(self) -> str:
        return str(self)


def read(model: type[Model], data: Any) -> Model:
    """Validate ``data`` (already-parsed JSON: dicts, lists, str, int, float, bool, None)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_merge([describe(error) for error in exc.errors()])) from None


def read_json(model: type[Model], body: bytes | str) -> Model:
    """Parse and validate JSON text; bad JSON and bad content both raise ``SpecError``."""
    return read(model, parse_json(body))


def parse_json(body: bytes | str) -> Any:
    """Standard JSON only: no NaN or Infinity, no lone surrogates, bounded nesting."""
    try:
        return pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        raise SpecError([f"not valid JSON: {exc}"]) from None


def _merge(problems: list[str]) -> list[str]:
    # A value that fits no member of a union gets one complaint per member; say it once:
    # "tags.year: must be a string or a whole number".
    merged: dict[str, str] = {}
    for problem in problems:
        path, _, message = problem.partition(": ")
        if path in merged and message.startswith("must be "):
            merged[path] += " or " + message.removeprefix("must be ")
        else:
            merged.setdefault(path, message)
    return [f"{path}: {message}" for path, message in merged.items()]


def describe(error: Mapping[str, Any]) -> str:
    """One pydantic error as ``field.path: what is wrong``, never echoing the input."""
    ctx = error.get("ctx") or {}
    loc = [part for part in error["loc"] if not _is_variant(part)]
    if "field" in ctx:
        loc.append(ctx["field"])
    path = field_path(loc) or "body"
    return f"{path}: {_message(error['type'], ctx, error.get('msg', ''))}"


def field_path(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _is_variant(part: str | int) -> bool:
    # Unions add the variant's name to the location (``tags.x.str``); it names no field.
    return isinstance(part, str) and (
        part in {"str", "int", "float", "bool", "none", "[key]"}
        or part.startswith(("constrained-", "function-", "literal["))
    )


def _message(kind: str, ctx: Mapping[str, Any], fallback: str) -> str:
    number = "a number"
    match kind:
        case "missing":
            return "is required"
        case "extra_forbidden":
            return "unknown field"
        case "greater_than_equal":
            return f"must be {number} ≥ {_num(ctx['ge'])}"
        case "less_than_equal":
            return f"must be {number} ≤ {_num(ctx['le'])}"
        case "greater_than":
            return f"must be {number} > {_num(ctx['gt'])}"
        case "less_than":
            return f"must be {number} < {_num(ctx['lt'])}"
        case "float_type" | "float_parsing" | "finite_number":
            return "must be a number"
        case "int_type" | "int_parsing" | "int_from_float":
            return "must be a whole number"
        case "bool_type" | "bool_parsing":
            return "must be true or false"
        case "string_type":
            return "must be a string"
        case "string_too_short":
            if ctx.get("min_length", 1) <= 1:
                return "must not be empty"
            return f"must be at least {ctx['min_length']} characters"
        case "string_too_long":
            return f"must be at most {ctx['max_length']} characters"
        case "string_pattern_mismatch":
            return _PATTERN_MESSAGES.get(ctx.get("pattern", ""), "has characters not allowed")
        case "literal_error":
            return f"must be one of {ctx['expected'].replace(chr(39), '')}"
        case "model_type" | "model_attributes_type" | "dict_type":
            return "must be an object"
        case "list_type":
            return "must be a list"
        case "too_short":
            return "must not be empty" if ctx.get("min_length") == 1 else "has too few items"
        case "too_long":
            return f"must have at most {ctx['max_length']} items"
        case "union_tag_invalid" | "union_tag_not_found":
            return "has the wrong shape"
        case _:
            return fallback


def _num(value: float) -> str:
    return f"{value:g}"
