"""The shapes of the API's bodies that aren't the episode spec itself: accounts, tokens,
media, jobs, lists and errors. The OpenAPI document is generated from these classes and
``podplus.engine.spec``; handlers answer by building them, so what is sent is what is
documented.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from starlette.responses import Response

from podplus.engine.spec import (
    ID_PATTERN,
    LINE_PATTERN,
    MAX_PARTS,
    NOTES_PATTERN,
    Block,
    EpisodeInput,
    EpisodeSpec,
    Line,
    changes_to,
)
from podplus.feeds.categories import APPLE_CATEGORIES, Category, Subcategory, subcategory_problem
from podplus.feeds.html import MAX_DESCRIPTION_BYTES, description_problem
from podplus.feeds.items import MAX_FEED_TITLE_CHARS, EpisodeType
from podplus.feeds.languages import MAX_TAG_CHARS, language_tag
from podplus.security.targets import MAX_URL_CHARS as MAX_WEBHOOK_URL_CHARS
from podplus.security.targets import parse_target
from podplus.storage.jobs import JobStatus
from podplus.storage.media import MediaKind
from podplus.storage.reports import AssemblyReport
from podplus.storage.shows import ShowDefaults
from podplus.storage.webhook_deliveries import DeliveryStatus
from podplus.storage.webhooks import WebhookEvent

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Item = TypeVar("Item", bound=BaseModel)

EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s.\x00-\x1f\x7f]{2,}$"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


class Shape(BaseModel):
    """A response body. Built from trusted rows, so validation is lenient here."""

    model_config = ConfigDict(frozen=True)


class Request(BaseModel):
    """A request body: strict, like the episode spec."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


def json_response(
    body: BaseModel, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """``body`` as JSON; pydantic writes it (a non-finite float becomes null, never NaN)."""
    return Response(
        body.model_dump_json(),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


# -- Errors --------------------------------------------------------------------------------


class ErrorDetail(Shape):
    code: str = Field(description="Stable, machine-readable: not_found, invalid_input, …")
    message: str = Field(description="For people; names the field when a field is wrong.")
    reason: str | None = Field(
        None,
        description="Only on refusals whose cause is a value, to branch on: why an episode "
        "can't be published (409: not_ready, no_show, format), the rule artwork breaks "
        "(415: format; 422: square, size, colour).",
    )


class ErrorBody(Shape):
    error: ErrorDetail


# -- Lists ---------------------------------------------------------------------------------


class Page(Shape, Generic[Item]):
    items: list[Item]
    next: str | None = Field(
        None,
        description="An opaque cursor: pass it as `?cursor=` for the next page; null at the end.",
    )


# -- Accounts ------------------------------------------------------------------------------


class UserCreate(Request):
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN, examples=["ada@example.com"])
    password: str = Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        description="Refused when it is too easy to guess (zxcvbn); the message says why.",
        examples=["correct horse battery"],
    )
    name: Line | None = Field(None, max_length=200, examples=["Ada Lovelace"])


class TokenRequest(Request):
    """The OAuth2 password flow's form (``application/x-www-form-urlencoded``)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    username: str = Field(min_length=1, max_length=254, description="The account's email.")
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    grant_type: Literal["password"] | None = None


class UserOut(Shape):
    id: str
    email: str
    name: str
    created_at: Timestamp


class TokenOut(Shape):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


class PasswordChange(Request):
    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        description="Refused when it is too easy to guess; the message says why.",
        examples=["stapled horse battery correct"],
    )


# -- Media ---------------------------------------------------------------------------------


class MediaUpload(BaseModel):
    """``multipart/form-data``: the file, and what it is for; no other part is taken."""

    model_config = ConfigDict(extra="forbid")

    file: bytes = Field(
        json_schema_extra={"format": "binary", "type": "string"},
        description="Audio (wav, flac, mp3, m4a, ogg…) or, for kind=cover, a JPEG/PNG/WebP.",
    )
    kind: MediaKind = MediaKind.CONTENT


class MediaOut(Shape):
    id: str
    filename: str
    kind: MediaKind
    size_bytes: int
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    codec: str | None
    loudness_lufs: float | None = Field(description="Integrated loudness, measured on upload.")
    created_at: Timestamp


# -- Jobs ----------------------------------------------------------------------------------


class JobOut(Shape):
    id: str
    episode_id: str
    status: JobStatus
    progress: float = Field(ge=0, le=1)
    phase: str | None
    error: str | None
    attempts: int
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


class JobAccepted(Shape):
    job_id: str
    status: JobStatus


# -- Episodes ------------------------------------------------------------------------------

EpisodeStatus = Literal["draft", "queued", "assembling", "ready", "failed"]
ShowId = Annotated[str, Field(pattern=ID_PATTERN, description="The id of one of your shows.")]


class EpisodeCreate(EpisodeInput):
    """An episode as a client describes it; with a ``show_id``, the show's defaults fill
    what the description leaves out."""

    show_id: ShowId | None = None


EpisodeChanges = changes_to(EpisodeCreate)


class PublicationOut(Shape):
    """Where a published (or scheduled) episode stands in its show's feed."""

    guid: str = Field(description="The feed item's GUID: given once, kept for ever.")
    status: Literal["scheduled", "published"]
    published_at: Timestamp = Field(description="In the feed from then on.")
    audio_url: str = Field(description="The frozen public audio: no token, byte ranges.")
    chapters_url: str | None = Field(description="Podcasting 2.0 JSON chapters, if any.")
    size_bytes: int
    media_type: str
    duration_s: float
    season: int | None
    number: int | None
    episode_type: EpisodeType
    explicit: bool | None = Field(description="null: as the show says.")
    audio_outdated: bool = Field(
        description="The episode has been changed or assembled again since it was published; "
        "publish again to put the new audio in the feed."
    )
    downloads: int = Field(description="Downloads counted so far, all days together.")
    updated_at: Timestamp


class EpisodeOut(EpisodeSpec):
    """An episode: its spec with every default filled in, and where its assembly stands."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    description: str
    status: EpisodeStatus
    job: JobOut | None = Field(description="The latest assembly job.")
    audio_url: str | None
    duration_s: float | None
    integrated_lufs: float | None
    true_peak_db: float | None
    size_bytes: int | None
    created_at: Timestamp
    updated_at: Timestamp
    show_id: str | None = Field(None, description="The show the episode belongs to.")
    guid: str | None = Field(None, description="Its feed GUID, from its first publication on.")
    publication: PublicationOut | None = Field(None, description="Null when not published.")
    report: AssemblyReport | None = Field(
        None, description="What the engine did to each part of the audio; null without audio."
    )


class AudioLink(Shape):
    url: str = Field(description="The episode's audio, with byte ranges, fetched with no token.")
    expires_at: Timestamp = Field(description="After this the URL answers 403; ask again.")


# -- Operations ----------------------------------------------------------------------------


class Health(Shape):
    status: Literal["ok"]
    database: str
    schema_version: int
    database_ms: float


class EngineProcess(Shape):
    pid: int
    job_id: str
    episode_id: str | None
    worker_id: str
    started_at: Timestamp | None
    rss_bytes: int | None
    cpu_percent: float | None


def example_error(code: str, message: str, reason: str | None = None) -> dict[str, Any]:
    detail = {"code": code, "message": message}
    if reason is not None:
        detail["reason"] = reason
    return {"error": detail}


# -- Shows and publishing --------------------------------------------------------------------

FeedLine = Annotated[
    str, Field(min_length=1, max_length=MAX_FEED_TITLE_CHARS, pattern=LINE_PATTERN)
]
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$"
URL_PATTERN = r"^https?://[^\s/?#]+[^\s]*$"
MAX_URL_CHARS = 2048
# Feed ids are 32 hex digits; a slug that looks like one could shadow another feed.
_FEED_ID = re.compile(r"[0-9a-f]{32}")
_SLUG = re.compile(SLUG_PATTERN)


def _bad(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


class ShowInput(Block):
    """A show as its owner describes it: what its feed tells podcast apps and directories."""

    model_config = ConfigDict(
        json_schema_extra={"x-apple-categories": {k: list(v) for k, v in APPLE_CATEGORIES.items()}}
    )

    title: FeedLine = Field(examples=["The Engine Room"])
    description: Annotated[
        str, Field(min_length=1, max_length=MAX_DESCRIPTION_BYTES, pattern=NOTES_PATTERN)
    ] = Field(
        description=f"Show notes for the show; safe HTML in the feed, at most "
        f"{MAX_DESCRIPTION_BYTES} bytes of it.",
        examples=["Conversations about the machines that make things."],
    )
    author: FeedLine = Field(examples=["Ada Lovelace"])
    owner_name: FeedLine = Field(examples=["Ada Lovelace"])
    owner_email: str = Field(
        max_length=254,
        pattern=EMAIL_PATTERN,
        description="Directories send ownership checks here; also podcast:locked's owner.",
        examples=["ada@example.com"],
    )
    language: str = Field(
        min_length=2,
        max_length=MAX_TAG_CHARS,
        description="ISO 639-1, with an optional script and region: en, en-US, pt-BR.",
        examples=["en-US"],
    )
    category: Category
    subcategory: Subcategory | None = Field(None, description="One of the category's own.")
    explicit: bool = False
    type: Literal["episodic", "serial"] = Field(
        "episodic", description="serial: apps play the episodes in order, oldest first."
    )
    link: str | None = Field(
        None,
        max_length=MAX_URL_CHARS,
        json_schema_extra={"pattern": URL_PATTERN},
        description="The show's website.",
        examples=["https://example.com/engine-room"],
    )
    copyright: FeedLine | None = None
    slug: str | None = Field(
        None,
        max_length=48,
        json_schema_extra={"pattern": SLUG_PATTERN},
        description="A feed address of your choosing: /feeds/<slug>.xml (lowercase letters, "
        "digits and -); the unguessable /feeds/<feed_id>.xml works too.",
        examples=["engine-room"],
    )
    locked: bool = Field(True, description="podcast:locked: other hosts may not import it.")
    defaults: ShowDefaults = Field(
        ShowDefaults(),
        description="The show's preset: fills what a new episode of the show leaves out.",
    )

    @field_validator("description")
    @classmethod
    def _fits_a_feed(cls, value: str) -> str:
        problem = description_problem(value)
        if problem is not None:
            raise _bad("description_size", problem)
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        try:
            return language_tag(value)
        except ValueError as exc:
            raise _bad("language", str(exc)) from None

    @field_validator("link")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value) if re.fullmatch(URL_PATTERN, value) else None
        try:
            host = parts.hostname if parts is not None else None
        except ValueError:
            host = None
        if parts is None or parts.scheme not in ("http", "https") or not host:
            raise _bad("url", "must be an http or https address")
        return value

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _SLUG.fullmatch(value):
            raise _bad(
                "slug", "must be lowercase letters, digits and -, not starting or ending with -"
            )
        if _FEED_ID.fullmatch(value):
            raise _bad("slug", "must not look like a feed id (32 hex digits)")
        return value

    @model_validator(mode="after")
    def _subcategory_fits(self) -> ShowInput:
        problem = subcategory_problem(self.category, self.subcategory)
        if problem is not None:
            raise PydanticCustomError("subcategory", problem, {"field": "subcategory"})
        return self


ShowChanges = changes_to(ShowInput)


class ShowOut(Shape):
    """A show, its public feed and artwork, and what directories would still miss."""

    id: str
    feed_id: str = Field(description="The unguessable name of its feed.")
    slug: str | None
    feed_url: str = Field(description="Paste this into Apple Podcasts Connect or Spotify.")
    podcast_guid: str = Field(description="podcast:guid, fixed when the show was made.")
    title: str
    description: str
    author: str
    owner_name: str
    owner_email: str
    language: str
    category: str
    subcategory: str | None
    explicit: bool
    type: Literal["episodic", "serial"]
    link: str | None
    copyright: str | None
    locked: bool
    defaults: ShowDefaults
    artwork_url: str | None
    artwork_size_px: int | None
    published_episodes: int = Field(description="Episodes in the feed now.")
    directory_problems: list[str] = Field(
        description="What Apple Podcasts or Spotify would refuse the feed for; empty when none."
    )
    created_at: Timestamp
    updated_at: Timestamp


class ArtworkUpload(BaseModel):
    """``multipart/form-data``: one image, nothing else."""

    model_config = ConfigDict(extra="forbid")

    file: bytes = Field(
        json_schema_extra={"format": "binary", "type": "string"},
        description="JPEG or PNG, square, 1400 to 3000 px on a side, RGB.",
    )


class PublishRequest(Request):
    """How the episode goes into its show's feed. Every field is optional: a first
    publication defaults to now, a full episode, no numbers, explicit as the show says;
    publishing again keeps what was set before unless sent."""

    published_at: str | None = Field(
        None,
        json_schema_extra={"format": "date-time"},
        description="ISO 8601 with a time zone, from 1970-01-01T00:00:00Z to "
        "9999-12-31T00:00:00Z; a future moment schedules the episode.",
        examples=["2026-05-01T06:00:00Z"],
    )
    season: int | None = Field(None, ge=1, le=100_000)
    number: int | None = Field(None, ge=1, le=10_000_000, description="itunes:episode.")
    episode_type: EpisodeType | None = None
    explicit: bool | None = Field(None, description="null: as the show says.")

    @field_validator("published_at")
    @classmethod
    def _moment(cls, value: str | None) -> str | None:
        if value is not None:
            epoch_seconds(value)
        return value


# The moments a date-time field takes, in UTC. Both ends leave room for any time zone:
# 9999-12-31T23:00-05:00 is in the year 10000 in UTC, which no date type can show (and
# every date podplus writes back is UTC), so the last day of 9999 is kept out.
EARLIEST_MOMENT = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST_MOMENT = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


def epoch_seconds(value: str) -> float:
    """An ISO 8601 moment with a time zone, from ``EARLIEST_MOMENT`` to ``LATEST_MOMENT``,
    as epoch seconds.

    >>> epoch_seconds("1970-01-01T01:00:00+01:00")
    0.0
    """
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise _bad("date_time", "must be a date and time such as 2026-05-01T06:00:00Z") from None
    if moment.tzinfo is None:
        raise _bad("date_time", "must say its time zone (Z or +02:00)")
    try:
        in_utc: dt.datetime | None = moment.astimezone(dt.UTC)
    except OverflowError:
        in_utc = None  # before the year 1 or after 9999, in UTC
    if in_utc is None or not EARLIEST_MOMENT <= in_utc <= LATEST_MOMENT:
        raise _bad("date_time", f"must be from {_zulu(EARLIEST_MOMENT)} to {_zulu(LATEST_MOMENT)}")
    return in_utc.timestamp()


def _zulu(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


DEFAULT_STATS_DAYS = 30
MAX_STATS_DAYS = 3660


class StatsQuery(BaseModel):
    """``GET /api/shows/{id}/stats``'s query string (text, so read leniently as numbers)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    days: int = Field(
        DEFAULT_STATS_DAYS,
        ge=1,
        le=MAX_STATS_DAYS,
        description=f"How many days, up to today: 1 to {MAX_STATS_DAYS}, "
        f"{DEFAULT_STATS_DAYS} when absent.",
    )


class DayDownloads(Shape):
    day: str = Field(json_schema_extra={"format": "date"})
    downloads: int


class EpisodeDownloads(Shape):
    episode_id: str
    title: str
    total: int = Field(description="All days, not only those asked for.")
    days: list[DayDownloads] = Field(description="Days with downloads, oldest first.")


class ShowStats(Shape):
    """Downloads per episode and UTC day: one listener (address and app) fetching any
    ranges of an episode within 24 h counts once; known bots not at all."""

    show_id: str
    since: str = Field(json_schema_extra={"format": "date"})
    until: str = Field(json_schema_extra={"format": "date"})
    total: int = Field(description="All the show's downloads in these days.")
    episodes: list[EpisodeDownloads]


# -- Productions: upload and assemble in one request -----------------------------------------


def _optional_part(schema: dict[str, Any]) -> None:
    """A form part that may be left out is documented as what it is when sent: a multipart
    form has no null, and a part left out takes no default."""
    schema.pop("default", None)
    for variant in schema.pop("anyOf", []):
        if variant.get("type") != "null":
            schema.update(variant)


def _json_text_part(schema: dict[str, Any]) -> None:
    """An optional form part that holds JSON text."""
    _optional_part(schema)
    schema["contentMediaType"] = "application/json"


class ProductionForm(BaseModel):
    """``multipart/form-data``: the audio, and optionally the show, title and options; no
    other part is taken. Each file is stored as media of the kind its part says."""

    model_config = ConfigDict(extra="forbid")

    files: list[bytes] = Field(
        min_length=1,
        max_length=MAX_PARTS,
        description="The segments, in the order sent (one `files` part each): stored as "
        "media of kind content.",
    )
    intro: bytes | None = Field(
        None, json_schema_extra=_optional_part, description="Played first (kind intro)."
    )
    outro: bytes | None = Field(
        None, json_schema_extra=_optional_part, description="Played last (kind outro)."
    )
    music_bed: bytes | None = Field(
        None,
        json_schema_extra=_optional_part,
        description="Music under the whole episode (kind music); `options.music_bed` may set "
        "its `gain_db` and `duck`.",
    )
    show_id: ShowId | None = Field(
        None,
        json_schema_extra=_optional_part,
        description="One of your shows: its defaults fill what the episode leaves out.",
    )
    title: Line | None = Field(
        None,
        json_schema_extra=_optional_part,
        description="The episode's title; the first file's name when left out.",
    )
    options: str | None = Field(
        None,
        json_schema_extra=_json_text_part,
        description="A JSON object: any fields of an episode description (`POST "
        "/api/episodes`) but `segments`, which the files are; e.g. "
        '`{"loudness": {"target_lufs": -16}, "output": {"format": "mp3"}}`.',
    )


class ProductionAccepted(Shape):
    """The stored episode, queued, and its assembly job."""

    episode: EpisodeOut
    job: JobOut


# -- Webhooks ------------------------------------------------------------------------------

WebhookEventName = Literal["job.succeeded", "job.failed", "job.cancelled", "episode.published"]
assert get_args(WebhookEventName) == tuple(WebhookEvent)


class WebhookCreate(Request):
    """Where to POST which events. The URL's host must resolve to public addresses only."""

    url: str = Field(
        max_length=MAX_WEBHOOK_URL_CHARS,
        json_schema_extra={"pattern": URL_PATTERN},
        description="http or https, no user name or password, no #fragment. Its host is "
        "resolved now and before every delivery; a loopback, private, link-local, CGNAT, "
        "multicast, reserved or cloud metadata address is refused (422 naming the rule).",
        examples=["https://hooks.example.com/podplus"],
    )
    events: list[WebhookEventName] = Field(
        min_length=1,
        max_length=len(WebhookEvent),
        description="The events to send, each once.",
        examples=[["job.succeeded", "job.failed"]],
    )

    @field_validator("url")
    @classmethod
    def _target(cls, value: str) -> str:
        try:
            parse_target(value)
        except ValueError as exc:
            raise _bad("url", str(exc)) from None
        return value

    @field_validator("events")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise _bad("events", "must name each event once")
        return value


class WebhookOut(Shape):
    id: str
    url: str
    events: list[WebhookEventName]
    created_at: Timestamp


class WebhookCreated(WebhookOut):
    """The webhook, with its signing secret: the only time the secret is shown."""

    secret: str = Field(
        description="The signing secret (`whsec_` + base64): verify each delivery's "
        "`webhook-signature` with it (Standard Webhooks). Shown once; not retrievable."
    )


class WebhookDeliveryOut(Shape):
    """One event sent (or being sent) to a webhook, and how its attempts went."""

    id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    type: str = Field(description="The event: one the webhook asked for, or `webhook.test`.")
    status: DeliveryStatus
    attempts: int = Field(description="Attempts made so far.")
    last_response_code: int | None = Field(description="The receiver's last HTTP status.")
    last_error: str | None = Field(description="Why the last attempt failed, if it did.")
    next_attempt_at: Timestamp | None = Field(
        description="When the next attempt is due; null once succeeded or failed."
    )
    last_attempt_at: Timestamp | None
    created_at: Timestamp
