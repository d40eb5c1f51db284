"""What an endpoint is, as data: its method and path, the handler, and what it takes and
answers. The route table (``podplus.web.routes``) is a list of these; Starlette's routes and
the OpenAPI document (``podplus.web.openapi``) are both built from that one list.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

Endpoint = Callable[[Request], Awaitable[Response]]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
HTML = "text/html"

_PATH_PARAMETER = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Body:
    """A request body: ``model`` describes its fields whatever ``media_type`` carries them."""

    model: type[BaseModel]
    media_type: str = JSON


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: from this answer to another operation, with the values it takes."""

    operation_id: str
    parameters: Mapping[str, str]


@dataclass(frozen=True)
class Reply:
    """One answer an operation gives on success."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    # One type, or several the same bytes may come as (audio: one per format).
    media_type: str | tuple[str, ...] = JSON
    # For bodies that aren't JSON (audio, HTML, metrics): the OpenAPI schema of the bytes.
    raw_schema: Mapping[str, object] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    links: Mapping[str, Link] = field(default_factory=dict)

    @property
    def media_types(self) -> tuple[str, ...]:
        return (self.media_type,) if isinstance(self.media_type, str) else self.media_type


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # "query" or "header"
    description: str
    schema: Mapping[str, object] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


def query_parameters(model: type[BaseModel]) -> tuple[Parameter, ...]:
    """The query parameters ``model`` reads (the one that validates them), each with its
    description and schema (type, limits, default) taken from the model."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    parameters = []
    for name, described in schema["properties"].items():
        described = {key: value for key, value in described.items() if key != "title"}
        description = str(described.pop("description", ""))
        parameters.append(
            Parameter(name, "query", description, schema=described, required=name in required)
        )
    return tuple(parameters)


STORE_DOWN = "The media store does not answer; try again after `Retry-After` seconds."


@dataclass(frozen=True, kw_only=True)
class Operation:
    method: str
    path: str
    endpoint: Endpoint
    tag: str
    summary: str
    replies: tuple[Reply, ...]
    body: Body | None = None
    # "bearer": an Authorization header; None: public. A token is never taken from the
    # query string, where it would land in browser history (audio: ``web.episode_audio``).
    auth: str | None = "bearer"
    parameters: tuple[Parameter, ...] = ()
    # Refusals particular to this operation; 401, 404, 400/413/422 are added from the above.
    errors: Mapping[int, str] = field(default_factory=dict)
    # The ``error.reason`` values a refusal of this status may carry (``web.exceptions``).
    reasons: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    # Reads or writes media in the object store, so a store that is down is a 503.
    uses_store: bool = False

    @property
    def operation_id(self) -> str:
        return self.endpoint.__name__ if self.method != "HEAD" else f"head_{self.endpoint.__name__}"

    @property
    def path_parameters(self) -> list[str]:
        return _PATH_PARAMETER.findall(self.path)

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.endpoint.__doc__ or "").replace("``", "`")

    def error_statuses(self) -> dict[int, str]:
        """Every refusal this operation can answer with, and when."""
        errors: dict[int, str] = {}
        if self.body is not None:
            errors[400] = "The body can't be parsed (not JSON, not the right content type)."
            errors[413] = "The body is over the size limit."
            errors[422] = "A field is wrong; the message names it."
        if self.auth is not None:
            errors[401] = "No valid token."
        if self.path_parameters:
            errors[404] = "No such thing, or it belongs to someone else."
        if self.uses_store:
            errors[503] = STORE_DOWN
        errors.update(self.errors)
        return dict(sorted(errors.items()))
