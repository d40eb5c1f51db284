"""The shapes of the API's bodies that aren't the episode spec itself: accounts, tokens,
media, jobs, lists and errors. The OpenAPI document is generated from these classes and
``podplus.engine.spec``; handlers answer by building them, so what is sent is what is
documented.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from podplus.engine.spec import EpisodeSpec, Line
from podplus.storage.jobs import JobStatus
from podplus.storage.media import MediaKind

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


def example_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
